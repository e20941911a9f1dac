package ovn

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

// startNorthd starts ovn-northd on nb and sb with its control socket in
// dir and returns it and the control socket's path.
func startNorthd(t *testing.T, name, dir, nb, sb string) (*e2etest.Proc, string) {
	t.Helper()
	ctl := filepath.Join(dir, name+".ctl")
	p := e2etest.StartProc(t, name, "ovn-northd", "--ovnnb-db="+nb, "--ovnsb-db="+sb, "--unixctl="+ctl,
		"--no-chdir", "-vconsole:warn", "-vfile:info", "--log-file="+filepath.Join(dir, name+".log"))
	t.Cleanup(func() {
		if t.Failed() {
			if data, err := os.ReadFile(filepath.Join(dir, name+".log")); err == nil {
				const maxLog = 8 << 10
				if len(data) > maxLog {
					data = data[len(data)-maxLog:]
				}
				t.Logf("%s log:\n%s", name, data)
			}
		}
	})
	return p, ctl
}

// northdScript is the logical topology the northd tests create: two
// switches with ports, a router connecting them, a load balancer and an
// ACL.
var northdScript = [][]string{
	{"init"},
	{"ls-add", "sw0"},
	{"lsp-add", "sw0", "sw0-p1"},
	{"lsp-set-addresses", "sw0-p1", "00:00:00:00:00:01 10.0.0.11"},
	{"lsp-add", "sw0", "sw0-p2"},
	{"lsp-set-addresses", "sw0-p2", "00:00:00:00:00:02 10.0.0.12"},
	{"ls-add", "sw1"},
	{"lsp-add", "sw1", "sw1-p1"},
	{"lsp-set-addresses", "sw1-p1", "00:00:00:00:01:01 10.0.1.11"},
	{"lr-add", "lr0"},
	{"lrp-add", "lr0", "lr0-sw0", "00:00:00:00:ff:01", "10.0.0.1/24"},
	{"lrp-add", "lr0", "lr0-sw1", "00:00:00:00:ff:02", "10.0.1.1/24"},
	{"lsp-add", "sw0", "sw0-lr0", "--", "lsp-set-type", "sw0-lr0", "router", "--",
		"lsp-set-addresses", "sw0-lr0", "router", "--", "lsp-set-options", "sw0-lr0", "router-port=lr0-sw0"},
	{"lsp-add", "sw1", "sw1-lr0", "--", "lsp-set-type", "sw1-lr0", "router", "--",
		"lsp-set-addresses", "sw1-lr0", "router", "--", "lsp-set-options", "sw1-lr0", "router-port=lr0-sw1"},
	{"lb-add", "lb0", "10.0.0.100:80", "10.0.0.11:8080,10.0.1.11:8080", "tcp"},
	{"ls-lb-add", "sw0", "lb0"},
	{"lr-lb-add", "lr0", "lb0"},
	{"acl-add", "sw0", "to-lport", "1000", "ip4.src == 10.0.0.12", "drop"},
	{"--wait=sb", "sync"},
}

// normLflows normalizes `ovn-sbctl lflow-list`: UUIDs blanked, each
// datapath/pipeline section's flows sorted, sections sorted.
func normLflows(out string) string {
	var sections []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			sort.Strings(cur[1:])
			sections = append(sections, strings.Join(cur, "\n"))
		}
		cur = nil
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		line = uuidRE.ReplaceAllString(line, "<uuid>")
		if strings.HasPrefix(line, "Datapath:") {
			flush()
		}
		cur = append(cur, line)
	}
	flush()
	sort.Strings(sections)
	return strings.Join(sections, "\n")
}

// northdResult is what one run of the northd script left in SB.
type northdResult struct {
	lflows       string
	nFlows       int
	datapaths    []string
	portBindings []string
}

// runNorthdScript runs northdScript with ovn-nbctl on nb, then reads SB.
func runNorthdScript(t *testing.T, nb, sb string) northdResult {
	t.Helper()
	for _, args := range northdScript {
		run(t, "ovn-nbctl", append([]string{"--db=" + nb, "--timeout=30"}, args...)...)
	}
	var r northdResult
	raw := run(t, "ovn-sbctl", "--db="+sb, "lflow-list")
	r.lflows = normLflows(raw)
	for _, l := range strings.Split(raw, "\n") {
		if strings.Contains(l, "table=") {
			r.nFlows++
		}
	}
	dps := run(t, "ovn-sbctl", "--db="+sb, "--bare", "--columns=external_ids", "list", "Datapath_Binding")
	for _, l := range strings.Split(dps, "\n") {
		if m := regexp.MustCompile(`name=([^ ,}]+)`).FindStringSubmatch(l); m != nil {
			r.datapaths = append(r.datapaths, strings.Trim(m[1], `"`))
		}
	}
	sort.Strings(r.datapaths)
	pbs := run(t, "ovn-sbctl", "--db="+sb, "--bare", "--columns=logical_port", "list", "Port_Binding")
	r.portBindings = sortedLines(pbs)
	return r
}

// TestNorthdMatchesOVSDBServer runs ovn-northd against NB and SB served
// by all-in-one and, in the same test, against a clustered ovsdb-server;
// the same ovn-nbctl script must produce the same Datapath_Binding and
// Port_Binding rows and the same logical flows, and --wait=sb sync must
// return.
func TestNorthdMatchesOVSDBServer(t *testing.T) {
	ref := refserver.Start(t, refserver.Options{Schemas: []string{nbSchema, sbSchema}, Clustered: true})
	refDir := e2etest.ShortDir(t)
	startNorthd(t, "northd-ref", refDir, ref.Addr(), ref.Addr())
	want := runNorthdScript(t, ref.Addr(), ref.Addr())

	a := startAllInOne(t)
	startNorthd(t, "northd-etcd", a.dir, a.Addr(), a.Addr())
	got := runNorthdScript(t, a.Addr(), a.Addr())

	if w := []string{"lr0", "sw0", "sw1"}; fmt.Sprint(got.datapaths) != fmt.Sprint(w) {
		t.Errorf("Datapath_Binding names %v, want %v", got.datapaths, w)
	}
	if fmt.Sprint(got.portBindings) != fmt.Sprint(want.portBindings) {
		t.Errorf("Port_Binding logical ports:\novsdb-server: %v\novsdb-etcd:   %v", want.portBindings, got.portBindings)
	}
	if got.nFlows == 0 || got.nFlows != want.nFlows {
		t.Errorf("%d logical flows, ovsdb-server has %d", got.nFlows, want.nFlows)
	}
	if got.lflows != want.lflows {
		wl, gl := strings.Split(want.lflows, "\n"), strings.Split(got.lflows, "\n")
		wantSet, gotSet := map[string]bool{}, map[string]bool{}
		for _, l := range wl {
			wantSet[l] = true
		}
		for _, l := range gl {
			gotSet[l] = true
		}
		var diff []string
		for _, l := range wl {
			if !gotSet[l] && len(diff) < 20 {
				diff = append(diff, "- "+l)
			}
		}
		for _, l := range gl {
			if !wantSet[l] && len(diff) < 40 {
				diff = append(diff, "+ "+l)
			}
		}
		t.Errorf("lflow-list differs (- ovsdb-server, + ovsdb-etcd):\n%s", strings.Join(diff, "\n"))
	}
	t.Logf("%d logical flows, %d datapaths, %d port bindings", got.nFlows, len(got.datapaths), len(got.portBindings))
}
