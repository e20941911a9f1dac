package frontend

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
	txnenginev1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/txnengine/v1"
)

func txnRequest(db string, ops []byte) *txnenginev1.TransactRequest {
	return &txnenginev1.TransactRequest{Database: db, Operations: ops}
}

// TestMonitorIncludesLastAck: a monitor opened on one connection right
// after another connection's transaction was acknowledged includes that
// transaction in its initial state, even while the change stream is
// still behind (ovsdb-server never answers from an older state).
func TestMonitorIncludesLastAck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		etcd   bool // the commit comes from another frontend, known through etcd
		method string
	}{
		{name: "same frontend monitor_cond", method: "monitor_cond"},
		{name: "same frontend monitor_cond_since", method: "monitor_cond_since"},
		{name: "other frontend via etcd", etcd: true, method: "monitor_cond"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sch := loadSchema(t)
			be := newFakeBackend(t, map[string]*schema.Database{sch.Name: sch})
			if tc.etcd {
				be.etcd = etcdtest.NewServer(t).Client(t)
			}
			env := startServerOn(t, be, func(c *Config) { c.MonitorSyncTimeout = testTimeout }, nil)
			waiting := make(chan string, 1)
			hook := func(db string) { waiting <- db }
			env.srv.testHookCatchUp.Store(&hook)

			insert := map[string]any{"op": "insert", "table": "A", "row": map[string]any{"s": "acked"}}
			if tc.etcd {
				// Commit "elsewhere" (not through this frontend): the
				// txnengine's commit key moves to the commit revision,
				// and the fake's revisions are aligned with etcd's.
				resp, err := be.etcd.Put(t.Context(), keys.Default().Commit("T"), "x")
				if err != nil {
					t.Fatal(err)
				}
				be.mu.Lock()
				be.rev = resp.Header.Revision - 1
				be.mu.Unlock()
				be.pause()
				ops, _ := json.Marshal([]any{insert})
				r, err := be.Transact(t.Context(), txnRequest("T", ops))
				if err != nil || r.GetRevision() != resp.Header.Revision {
					t.Fatalf("commit: rev %d, err %v; want rev %d", r.GetRevision(), err, resp.Header.Revision)
				}
			} else {
				be.pause()
				writer := dial(t, env.addr(), nil)
				if r := call(t, writer, "transact", "T", insert); !strings.Contains(string(r), `"uuid"`) {
					t.Fatalf("transact = %s", r)
				}
			}

			reader := dialRaw(t, env.sock)
			params := `"T","m",{"A":[{"columns":["s"]}]}`
			if tc.method == "monitor_cond_since" {
				params += `,"00000000-0000-0000-0000-000000000000"`
			}
			reader.send(`{"method":"` + tc.method + `","params":[` + params + `],"id":7}`)
			select {
			case db := <-waiting:
				if db != "T" {
					t.Fatalf("caught up %q, want T", db)
				}
			case <-time.After(testTimeout):
				t.Fatal("the monitor did not wait for the acknowledged transaction")
			}
			be.resume()
			msgs := reader.recvUntilReply("7")
			if len(msgs) != 1 {
				t.Fatalf("got %v before the reply, want only the reply", msgs)
			}
			if got := ovsJSON(msgs[0]); !strings.Contains(got, `"acked"`) {
				t.Fatalf("initial state %s misses the acknowledged row", got)
			}
		})
	}
}

// TestMonitorNoWaitForOtherWrites: etcd writes that are not commits to
// the monitored database (another database, lock keys) never make a new
// monitor wait, although they move etcd's cluster-wide revision.
func TestMonitorNoWaitForOtherWrites(t *testing.T) {
	sch := loadSchema(t)
	be := newFakeBackend(t, map[string]*schema.Database{sch.Name: sch})
	be.etcd = etcdtest.NewServer(t).Client(t)
	env := startServerOn(t, be, func(c *Config) { c.MonitorSyncTimeout = testTimeout }, nil)
	c := dial(t, env.addr(), nil)
	// A monitor in this session makes the transact reply wait for its own
	// update, so the feed holds every commit before the puts below.
	call(t, c, "monitor_cond", "T", "m1", map[string]any{"A": []any{map[string]any{"columns": []any{"s"}}}})
	call(t, c, "transact", "T", map[string]any{"op": "insert", "table": "A", "row": map[string]any{"s": "x"}})
	for _, k := range []string{keys.Default().Commit("OTHER"), keys.Default().Lock("l"), "unrelated"} {
		if _, err := be.etcd.Put(t.Context(), k, "x"); err != nil {
			t.Fatal(err)
		}
	}
	hook := func(db string) { t.Errorf("monitor on %s waited for writes to other keys", db) }
	env.srv.testHookCatchUp.Store(&hook)
	r := call(t, c, "monitor_cond", "T", "m2", map[string]any{"A": []any{map[string]any{"columns": []any{"s"}}}})
	if n := strings.Count(string(r), `"initial"`); n != 1 {
		t.Fatalf("initial state %s, want 1 row", r)
	}
}

// TestMonitorNoWaitWhenCaughtUp: when the feed already holds every
// acknowledged transaction a new monitor does not wait.
func TestMonitorNoWaitWhenCaughtUp(t *testing.T) {
	env := startServer(t, nil)
	c := dial(t, env.addr(), nil)
	call(t, c, "transact", "T", map[string]any{"op": "insert", "table": "A", "row": map[string]any{"s": "x"}})
	// The first monitor makes this session wait for its own update
	// before the next reply, so the second monitor finds the feed there.
	call(t, c, "monitor_cond", "T", "m1", map[string]any{"A": []any{map[string]any{"columns": []any{"s"}}}})
	hook := func(db string) { t.Errorf("monitor on %s waited for a feed that was caught up", db) }
	env.srv.testHookCatchUp.Store(&hook)
	call(t, c, "transact", "T", map[string]any{"op": "insert", "table": "A", "row": map[string]any{"s": "y"}})
	r := call(t, c, "monitor_cond", "T", "m2", map[string]any{"A": []any{map[string]any{"columns": []any{"s"}}}})
	if n := strings.Count(string(r), `"initial"`); n != 2 {
		t.Fatalf("initial state %s, want 2 rows", r)
	}
}
