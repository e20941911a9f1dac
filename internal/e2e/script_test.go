package e2e

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

// OVN schemas from Debian's ovn-central.
const (
	nbSchema = "/usr/share/ovn/ovn-nb.ovsschema"
	sbSchema = "/usr/share/ovn/ovn-sb.ovsschema"
)

// norm says how a step's output is normalized before comparison, beyond
// replacing UUIDs, where the tool's order is not defined.
type norm int

const (
	normExact        norm = iota // only UUIDs replaced
	normSortLines                // lines sorted (ovsdb-client dump rows)
	normBlankBlocks              // blank-line separated records sorted (ovn-nbctl list, find)
	normIndentBlocks             // blocks starting at an unindented line sorted (ovn-nbctl show)
)

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// normalize replaces every UUID by a placeholder and then orders the output
// as n says. Replacing by one placeholder (rather than numbering UUIDs in
// order of appearance) keeps the result independent of row order, which
// ovsdb-client and ovn-nbctl derive from the UUIDs themselves.
func normalize(out string, n norm) string {
	out = uuidRE.ReplaceAllString(out, "<uuid>")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	switch n {
	case normSortLines:
		slices.Sort(lines)
	case normBlankBlocks, normIndentBlocks:
		var blocks []string
		var cur []string
		flush := func() {
			if len(cur) > 0 {
				blocks = append(blocks, strings.Join(cur, "\n"))
				cur = nil
			}
		}
		for _, l := range lines {
			switch {
			case n == normBlankBlocks && l == "":
				flush()
				continue
			case n == normIndentBlocks && l != "" && l[0] != ' ':
				flush()
			}
			cur = append(cur, l)
		}
		flush()
		slices.Sort(blocks)
		return strings.Join(blocks, "\n--\n")
	}
	return strings.Join(lines, "\n")
}

// step is one client command of the differential script.
type step struct {
	name string
	bin  string
	// args builds the command line for a server at addr.
	args func(addr string) []string
	norm norm
}

func ovsdbClient(sub string, rest ...string) func(string) []string {
	return func(addr string) []string {
		return append([]string{sub, addr}, rest...)
	}
}

func nbctl(rest ...string) func(string) []string {
	return func(addr string) []string {
		return append([]string{"--db=" + addr, "--no-leader-only"}, rest...)
	}
}

// nbScript is the issue 4 sequence: ovsdb-client list-dbs, get-schema,
// transact, dump and ovn-nbctl ls-add, lsp-add, lsp-set-addresses,
// acl-add, lr-add, lrp-add, lb-add, list, find, set, remove, destroy.
var nbScript = []step{
	{name: "list-dbs", bin: "ovsdb-client", args: ovsdbClient("list-dbs"), norm: normSortLines},
	{name: "get-schema", bin: "ovsdb-client", args: ovsdbClient("get-schema", "OVN_Northbound")},
	{name: "get-schema-version", bin: "ovsdb-client", args: ovsdbClient("get-schema-version", "OVN_Northbound")},
	{name: "transact-insert", bin: "ovsdb-client", args: ovsdbClient("transact",
		`["OVN_Northbound",{"op":"insert","table":"Logical_Switch","row":{"name":"t1","external_ids":["map",[["k","v"]]]}}]`)},
	{name: "transact-select", bin: "ovsdb-client", args: ovsdbClient("transact",
		`["OVN_Northbound",{"op":"select","table":"Logical_Switch","where":[["name","==","t1"]],"columns":["name","external_ids"]}]`)},
	{name: "transact-error", bin: "ovsdb-client", args: ovsdbClient("transact",
		`["OVN_Northbound",{"op":"insert","table":"Logical_Switch","row":{"nosuch":1}}]`)},
	{name: "ls-add", bin: "ovn-nbctl", args: nbctl("ls-add", "sw0")},
	{name: "lsp-add", bin: "ovn-nbctl", args: nbctl("lsp-add", "sw0", "sw0-p1")},
	{name: "lsp-set-addresses", bin: "ovn-nbctl", args: nbctl("lsp-set-addresses", "sw0-p1", "50:54:00:00:00:01 192.168.0.2")},
	{name: "acl-add", bin: "ovn-nbctl", args: nbctl("acl-add", "sw0", "to-lport", "1000", `outport == "sw0-p1" && ip4.src == 192.168.0.1`, "drop")},
	{name: "lr-add", bin: "ovn-nbctl", args: nbctl("lr-add", "lr0")},
	{name: "lrp-add", bin: "ovn-nbctl", args: nbctl("lrp-add", "lr0", "lrp0", "00:00:00:00:ff:01", "192.168.0.1/24")},
	{name: "lb-add", bin: "ovn-nbctl", args: nbctl("lb-add", "lb0", "30.0.0.1:80", "192.168.0.2:8080", "tcp")},
	{name: "list", bin: "ovn-nbctl", args: nbctl("list", "Logical_Switch"), norm: normBlankBlocks},
	{name: "find", bin: "ovn-nbctl", args: nbctl("find", "Logical_Switch_Port", "name=sw0-p1"), norm: normBlankBlocks},
	{name: "set", bin: "ovn-nbctl", args: nbctl("set", "Logical_Switch", "sw0", "other_config:subnet=192.168.0.0/24", "external_ids:owner=e2e")},
	{name: "get", bin: "ovn-nbctl", args: nbctl("get", "Logical_Switch", "sw0", "other_config", "external_ids")},
	{name: "remove", bin: "ovn-nbctl", args: nbctl("remove", "Logical_Switch", "sw0", "other_config", "subnet")},
	{name: "destroy", bin: "ovn-nbctl", args: nbctl("destroy", "Load_Balancer", "lb0")},
	{name: "lb-list", bin: "ovn-nbctl", args: nbctl("lb-list")},
	{name: "show", bin: "ovn-nbctl", args: nbctl("show"), norm: normIndentBlocks},
	{name: "dump", bin: "ovsdb-client", args: ovsdbClient("dump", "OVN_Northbound"), norm: normSortLines},
	{name: "dump-columns", bin: "ovsdb-client", args: ovsdbClient("dump", "OVN_Northbound", "Logical_Switch", "name", "other_config", "external_ids"), norm: normSortLines},
}

// runScript runs steps against addr and returns each step's normalized
// output (or its error) by step name. A step that fails is recorded, not
// fatal: the comparison shows which side failed.
func runScript(t *testing.T, addr string, steps []step) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, s := range steps {
		out, err := refserver.RunClient(t.Context(), e2etest.ClientTimeout, s.bin, s.args(addr)...)
		if err != nil {
			got[s.name] = "ERROR: " + exitSummary(err)
			continue
		}
		got[s.name] = normalize(out, s.norm)
	}
	return got
}

// exitSummary keeps the part of a client error that both servers should
// agree on: the tool's stderr, with UUIDs and addresses removed.
func exitSummary(err error) string {
	s := err.Error()
	if _, after, ok := strings.Cut(s, "stderr: "); ok {
		s = after
	}
	s = uuidRE.ReplaceAllString(s, "<uuid>")
	return regexp.MustCompile(`(unix|tcp|ssl):\S+`).ReplaceAllString(s, "<addr>")
}

// compareOutputs fails t for every step whose output differs.
func compareOutputs(t *testing.T, steps []step, want, got map[string]string, wantName, gotName string) {
	t.Helper()
	for _, s := range steps {
		if strings.HasPrefix(want[s.name], "ERROR: ") {
			t.Errorf("step %q fails on %s itself (the script is wrong): %s", s.name, wantName, want[s.name])
		}
		if want[s.name] != got[s.name] {
			t.Errorf("step %q: %s and %s differ\n--- %s:\n%s\n--- %s:\n%s", s.name, wantName, gotName, wantName, want[s.name], gotName, got[s.name])
		}
	}
}

// monitorProc is an ovsdb-client monitor running until its context ends;
// its output is read as it arrives.
type monitorProc struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex // mu guards lines
	lines  []string
	notify chan struct{} // poked (non-blocking) on each new line
	stderr *e2etest.Buffer
}

// startMonitor runs ovsdb-client with args until stop (or the test's end).
func startMonitor(t *testing.T, args ...string) *monitorProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	m := &monitorProc{cancel: cancel, done: make(chan struct{}), notify: make(chan struct{}, 1), stderr: e2etest.NewBuffer()}
	cmd := exec.CommandContext(ctx, "ovsdb-client", args...)
	cmd.WaitDelay = time.Second
	cmd.Stderr = m.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start ovsdb-client %v: %v", args, err)
	}
	go func() {
		defer close(m.done)
		m.readLoop(stdout)
		_ = cmd.Wait()
	}()
	t.Cleanup(m.stop)
	return m
}

func (m *monitorProc) readLoop(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m.mu.Lock()
		m.lines = append(m.lines, sc.Text())
		m.mu.Unlock()
		select {
		case m.notify <- struct{}{}:
		default:
		}
	}
}

func (m *monitorProc) output() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.lines, "\n")
}

// waitFor waits until the output has a line matching re.
func (m *monitorProc) waitFor(t *testing.T, re string) {
	t.Helper()
	const count = 1
	rx := regexp.MustCompile(re)
	timer := time.NewTimer(e2etest.ClientTimeout)
	defer timer.Stop()
	for {
		if len(rx.FindAllString(m.output(), -1)) >= count {
			return
		}
		select {
		case <-m.notify:
		case <-m.done:
			if len(rx.FindAllString(m.output(), -1)) >= count {
				return
			}
			t.Fatalf("ovsdb-client monitor exited before %d lines matching %q; output:\n%s\nstderr:\n%s", count, re, m.output(), m.stderr.String())
		case <-timer.C:
			t.Fatalf("no %d lines matching %q after %v; output:\n%s\nstderr:\n%s", count, re, e2etest.ClientTimeout, m.output(), m.stderr.String())
		}
	}
}

func (m *monitorProc) stop() {
	m.cancel()
	<-m.done
}

// normalizeMonitor normalizes ovsdb-client monitor table output: UUIDs
// replaced and the rows of each update sorted (the order of rows within one
// update is not defined).
func normalizeMonitor(out string) string {
	out = uuidRE.ReplaceAllString(out, "<uuid>")
	var updates []string
	for u := range strings.SplitSeq(out, "\n\n") {
		lines := strings.Split(strings.TrimSpace(u), "\n")
		if len(lines) > 2 {
			slices.Sort(lines[2:])
		}
		updates = append(updates, strings.Join(lines, "\n"))
	}
	return strings.Join(updates, "\n\n")
}

// runMonitorScript runs ovsdb-client monitor and monitor-cond on addr while
// ovn-nbctl makes changes, and returns both normalized outputs.
func runMonitorScript(t *testing.T, addr string) map[string]string {
	t.Helper()
	run := func(args ...string) {
		t.Helper()
		refserver.MustRunClient(t, e2etest.ClientTimeout, "ovn-nbctl", append([]string{"--db=" + addr, "--no-leader-only"}, args...)...)
	}
	run("ls-add", "m1")
	mon := startMonitor(t, "monitor", addr, "OVN_Northbound", "Logical_Switch", "name,ports")
	cond := startMonitor(t, "monitor-cond", addr, "OVN_Northbound", `[["name","==","m1"]]`, "Logical_Switch", "name,other_config")
	mon.waitFor(t, `initial m1`)
	cond.waitFor(t, `initial m1`)
	run("ls-add", "m2")
	run("set", "Logical_Switch", "m1", "other_config:a=b") // only cond sees it
	run("set", "Logical_Switch", "m1", "external_ids:x=y") // nobody sees it
	run("lsp-add", "m1", "m1-p1")                          // mon sees ports change
	run("ls-del", "m1")
	run("ls-add", "m1")
	run("ls-add", "m3")
	mon.waitFor(t, `insert\s+m3`)
	cond.waitFor(t, `insert\s+m1`)
	mon.stop()
	cond.stop()
	return map[string]string{
		"monitor":      normalizeMonitor(mon.output()),
		"monitor-cond": normalizeMonitor(cond.output()),
	}
}

var monitorSteps = []step{{name: "monitor"}, {name: "monitor-cond"}}

// TestRefserverSelfConsistent runs the differential scripts against two
// ovsdb-server instances: the normalization must make their outputs equal,
// or the comparisons against ovsdb-etcd would be meaningless.
func TestRefserverSelfConsistent(t *testing.T) {
	t.Parallel()
	var outs [2]map[string]string
	for i := range outs {
		ref := refserver.Start(t, refserver.Options{Schemas: []string{nbSchema}, Clustered: true})
		outs[i] = runScript(t, ref.Addr(), nbScript)
		for k, v := range runMonitorScript(t, ref.Addr()) {
			outs[i][k] = v
		}
	}
	compareOutputs(t, append(nbScript, monitorSteps...), outs[0], outs[1], "ovsdb-server#1", "ovsdb-server#2")
	logOutputs(t, append(nbScript, monitorSteps...), outs[0])
}

// logOutputs logs every step's normalized output under -v, so that a
// passing comparison can be seen to compare something.
func logOutputs(t *testing.T, steps []step, outs map[string]string) {
	t.Helper()
	if !testing.Verbose() {
		return
	}
	for _, s := range steps {
		if s.name != "get-schema" {
			t.Logf("%s:\n%s", s.name, outs[s.name])
		}
	}
}
