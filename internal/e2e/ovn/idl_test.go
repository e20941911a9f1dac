package ovn

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
)

// pythonBin is Debian's python3: `import ovs.db.idl` only works there.
const pythonBin = "/usr/bin/python3"

// idlState is one STATE line of testdata/idl_replica.py.
type idlState struct {
	Clears    int                                  `json:"clears"`
	ReplyRows int                                  `json:"reply_rows"`
	Replies   int                                  `json:"replies"`
	LastID    string                               `json:"last_id"`
	Replica   map[string]map[string]map[string]any `json:"replica"`
}

// lastIDLState returns the last STATE line of out, if any.
func lastIDLState(t *testing.T, out string) (idlState, bool) {
	t.Helper()
	i := strings.LastIndex(out, "STATE ")
	if i < 0 {
		return idlState{}, false
	}
	line, _, complete := strings.Cut(out[i+len("STATE "):], "\n")
	if !complete {
		// A partial line: use the previous one.
		return lastIDLState(t, out[:i])
	}
	var s idlState
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		t.Fatalf("idl_replica.py: bad STATE line %q: %v", line, err)
	}
	return s, true
}

// plainDatum turns an OVSDB JSON datum into what idl_replica.py prints:
// a UUID string, a sorted list for a set, a map for a map.
func plainDatum(v any) any {
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return v
	}
	switch a[0] {
	case "uuid":
		return a[1]
	case "set":
		var out []string
		var other []any
		for _, e := range a[1].([]any) {
			p := plainDatum(e)
			if s, ok := p.(string); ok {
				out = append(out, s)
			} else {
				other = append(other, p)
			}
		}
		if len(other) > 0 {
			return other
		}
		sort.Strings(out)
		res := make([]any, len(out))
		for i, s := range out {
			res[i] = s
		}
		return res
	case "map":
		m := map[string]any{}
		for _, kv := range a[1].([]any) {
			p := kv.([]any)
			m[fmt.Sprint(plainDatum(p[0]))] = plainDatum(p[1])
		}
		return m
	}
	return v
}

// dumpReplica is `ovsdb-client dump` of the tables the IDL replicates, in
// the IDL script's form.
func dumpReplica(t *testing.T, addr string) map[string]map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]map[string]any{}
	for table, cols := range map[string][]string{
		"Logical_Switch":      {"name", "ports"},
		"Logical_Switch_Port": {"name", "addresses"},
	} {
		raw := run(t, "ovsdb-client", append([]string{"dump", "-f", "json", addr, nbDB, table, "_uuid"}, cols...)...)
		var tb struct {
			Headings []string `json:"headings"`
			Data     [][]any  `json:"data"`
		}
		if err := json.Unmarshal([]byte(raw), &tb); err != nil {
			t.Fatalf("dump %s: %v\n%s", table, err, raw)
		}
		rows := map[string]map[string]any{}
		for _, d := range tb.Data {
			row := map[string]any{}
			var u string
			for i, h := range tb.Headings {
				if h == "_uuid" {
					u = plainDatum(d[i]).(string)
					continue
				}
				v := plainDatum(d[i])
				if h == "ports" || h == "addresses" {
					if s, ok := v.(string); ok {
						v = []any{s}
					}
				}
				row[h] = v
			}
			rows[u] = row
		}
		out[table] = rows
	}
	return out
}

// waitReplica waits until the IDL's replica equals the dump of addr and
// returns the IDL's state then.
func waitReplica(t *testing.T, idl *e2etest.Proc, addr, when string) idlState {
	t.Helper()
	want := canon(dumpReplica(t, addr))
	var last idlState
	idl.WaitOutput("replica equal to the dump "+when, func(out string) bool {
		s, ok := lastIDLState(t, out)
		last = s
		return ok && canon(s.Replica) == want
	})
	return last
}

// TestPythonIDLReplicaAndResume runs the OVS Python IDL (leader_only, so
// it checks _Server first) against frontend 0 while ovn-nbctl changes NB
// through frontend 1; the replica must follow. Frontend 0 is then
// restarted while more changes commit: the IDL must reconnect with
// monitor_cond_since and resume (found=true: no clear of its tables, only
// the missed rows in the reply) and converge again.
func TestPythonIDLReplicaAndResume(t *testing.T) {
	r := startRoles(t)
	idl := e2etest.StartProc(t, "python-idl", pythonBin, filepath.Join("testdata", "idl_replica.py"), r.Addr(0), nbSchema)
	nbctl := func(args ...string) {
		t.Helper()
		run(t, "ovn-nbctl", append([]string{"--db=" + r.Addr(1)}, args...)...)
	}
	s := waitReplica(t, idl, r.Addr(1), "at start")
	if s.Clears != 1 {
		t.Errorf("initial connect: %d clears, want 1 (found=false from a zero id)", s.Clears)
	}

	// Enough rows that a full resync would be visible in the row count.
	for i := range 10 {
		nbctl("ls-add", fmt.Sprintf("sw%d", i), "--", "lsp-add", fmt.Sprintf("sw%d", i), fmt.Sprintf("p%d", i),
			"--", "lsp-set-addresses", fmt.Sprintf("p%d", i), fmt.Sprintf("00:00:00:00:00:%02x 10.0.0.%d", i+1, i+1))
	}
	nbctl("ls-del", "sw9")
	nbctl("lsp-set-addresses", "p0", "unknown")
	before := waitReplica(t, idl, r.Addr(1), "after ovn-nbctl changes")

	r.restartFrontend(0, func() {
		nbctl("ls-add", "sw-missed")
		nbctl("lsp-del", "p1")
	})
	after := waitReplica(t, idl, r.Addr(1), "after the frontend restart")
	if after.Replies != before.Replies+1 {
		t.Errorf("monitor_cond_since replies: %d before the restart, %d after, want one more", before.Replies, after.Replies)
	}
	if after.Clears != before.Clears {
		t.Errorf("the IDL cleared its replica on reconnect (%d clears, was %d): full resync, want found=true", after.Clears, before.Clears)
	}
	if missed := after.ReplyRows - before.ReplyRows; missed > 3 {
		t.Errorf("the resume reply carried %d rows, want at most the 3 missed changes (full state is ~%d rows)", missed,
			len(after.Replica["Logical_Switch"])+len(after.Replica["Logical_Switch_Port"]))
	}

	// And it keeps following live changes. (The Python IDL takes its last
	// id from update3 notifications only, not from the resume reply.)
	nbctl("ls-add", "sw-live")
	live := waitReplica(t, idl, r.Addr(1), "after the resume")
	if live.LastID == before.LastID || live.LastID == zeroUUID {
		t.Errorf("IDL last id %s after a live update past the resume, was %s before the restart", live.LastID, before.LastID)
	}
	if live.Clears != before.Clears {
		t.Errorf("the IDL cleared its replica after the resume (%d clears, was %d)", live.Clears, before.Clears)
	}
}
