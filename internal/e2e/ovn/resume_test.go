package ovn

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

// lsMonitor is the monitor_cond_since request of the resume tests.
var lsMonitor = map[string]any{"Logical_Switch": []any{map[string]any{"columns": []string{"name", "other_config"}}}}

// update3 is one update3 notification.
type update3 struct {
	lastID string
	body   map[string]any
}

// mcsClient is a JSON-RPC client with a monitor_cond_since on
// Logical_Switch whose update3 notifications arrive on updates.
type mcsClient struct {
	c       *jsonrpc.Client
	updates chan update3
}

func dialMCS(t *testing.T, addr string) *mcsClient {
	t.Helper()
	m := &mcsClient{updates: make(chan update3, 256)}
	m.c = dial(t, addr, jsonrpc.WithNotificationHandler(func(method string, params json.RawMessage) {
		if method != "update3" {
			return
		}
		var p []json.RawMessage
		var u update3
		if json.Unmarshal(params, &p) != nil || len(p) != 3 || json.Unmarshal(p[1], &u.lastID) != nil || json.Unmarshal(p[2], &u.body) != nil {
			t.Errorf("bad update3 params %s", params)
			return
		}
		select {
		case m.updates <- u:
		default:
			t.Errorf("update3 channel full")
		}
	}))
	return m
}

// monitor sends monitor_cond_since from lastID and returns found, the
// reply's last id and its updates.
func (m *mcsClient) monitor(t *testing.T, lastID string) (bool, string, map[string]any) {
	t.Helper()
	raw := call(t, m.c, "monitor_cond_since", nbDB, "ls", lsMonitor, lastID)
	var reply []json.RawMessage
	var found bool
	var id string
	var body map[string]any
	if json.Unmarshal(raw, &reply) != nil || len(reply) != 3 || json.Unmarshal(reply[0], &found) != nil ||
		json.Unmarshal(reply[1], &id) != nil || json.Unmarshal(reply[2], &body) != nil {
		t.Fatalf("bad monitor_cond_since reply %s", raw)
	}
	return found, id, body
}

// next waits for the next update3.
func (m *mcsClient) next(t *testing.T) update3 {
	t.Helper()
	select {
	case u := <-m.updates:
		return u
	case <-m.c.Done():
		t.Fatal("connection closed while waiting for update3")
	case <-t.Context().Done():
		t.Fatal("test ended while waiting for update3")
	}
	return update3{}
}

// resumeRun is what a client saw in the resume scenario.
type resumeRun struct {
	found  bool
	sameID bool // the resume reply's last id is the current one
	rows   map[string][]string
	after  map[string][]string // the first live update after the resume
}

// runResume monitors on monAddr, commits a first transaction through
// txnAddr, drops the monitor, lets down() run (a frontend restart) while
// more transactions commit, then resumes with monitor_cond_since from the
// id of the first transaction.
func runResume(t *testing.T, monAddr, txnAddr string, down func(between func())) resumeRun {
	t.Helper()
	names := map[string]string{}
	m := dialMCS(t, monAddr)
	if _, id, _ := m.monitor(t, zeroUUID); id == zeroUUID {
		t.Errorf("monitor_cond_since from zero: last id is zero")
	}
	transact(t, txnAddr, nbDB, map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "ls-a"}})
	u := m.next(t)
	namedRows(u.body, names)
	lastID := u.lastID
	m.c.Close()

	down(func() {
		transact(t, txnAddr, nbDB, map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "ls-b"}})
		transact(t, txnAddr, nbDB, map[string]any{"op": "mutate", "table": "Logical_Switch",
			"where": []any{[]any{"name", "==", "ls-a"}}, "mutations": []any{[]any{"other_config", "insert", []any{"map", []any{[]any{"k", "v"}}}}}})
		transact(t, txnAddr, nbDB, map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "ls-c"}})
		transact(t, txnAddr, nbDB, map[string]any{"op": "delete", "table": "Logical_Switch", "where": []any{[]any{"name", "==", "ls-c"}}})
	})

	// The current id, as a fresh client on the transacting server sees it.
	_, current, _ := dialMCS(t, txnAddr).monitor(t, zeroUUID)

	var r resumeRun
	m2 := dialMCS(t, monAddr)
	var id string
	var body map[string]any
	r.found, id, body = m2.monitor(t, lastID)
	r.sameID = id == current
	r.rows = namedRows(body, names)
	transact(t, txnAddr, nbDB, map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "ls-d"}})
	r.after = namedRows(m2.next(t).body, names)
	return r
}

// TestResumeAfterFrontendRestart resumes a monitor_cond_since through a
// frontend (role process) that was restarted while other transactions
// committed through a second frontend: the reply must say found=true and
// carry exactly the missed changes, as a clustered ovsdb-server does for a
// client that reconnects.
func TestResumeAfterFrontendRestart(t *testing.T) {
	ref := refserver.Start(t, refserver.Options{Schemas: []string{nbSchema}, Clustered: true})
	// Keep ovsdb-server's history from being pruned (see
	// TestMonitorCondSinceMatchesClustered).
	var filler []any
	for i := range 20 {
		filler = append(filler, map[string]any{"op": "insert", "table": "Address_Set",
			"row": map[string]any{"name": fmt.Sprintf("as%d", i), "addresses": []any{"set", []any{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"}}}})
	}
	transact(t, ref.Addr(), nbDB, filler...)
	want := runResume(t, ref.Addr(), ref.Addr(), func(between func()) { between() })

	r := startRoles(t)
	got := runResume(t, r.Addr(0), r.Addr(1), func(between func()) { r.restartFrontend(0, between) })

	if !want.found || !want.sameID {
		t.Fatalf("ovsdb-server: resume found=%v, current id=%v; the reference scenario is broken", want.found, want.sameID)
	}
	if !got.found {
		t.Errorf("ovsdb-etcd: monitor_cond_since after a frontend restart: found=false, want true")
	}
	if !got.sameID {
		t.Errorf("ovsdb-etcd: monitor_cond_since after a frontend restart: last id is not the current one")
	}
	if a, b := canon(want.rows), canon(got.rows); a != b {
		t.Errorf("missed changes differ:\novsdb-server: %s\novsdb-etcd:   %s", a, b)
	}
	if a, b := canon(want.after), canon(got.after); a != b {
		t.Errorf("first update after the resume differs:\novsdb-server: %s\novsdb-etcd:   %s", a, b)
	}
	t.Logf("missed changes: %s", strings.Join(got.rows["Logical_Switch"], "; "))
}
