package txnengine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	txnenginev1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/txnengine/v1"
)

func TestTransactEndToEndGRPC(t *testing.T) {
	etcd := startEtcd(t)
	cli := etcd.client(t)
	dir := t.TempDir()
	cfg := testConfig(t, cli, writeSchema(t, dir, "1.0.0"), "unix:"+filepath.Join(dir, "te.sock"))
	e := newTestEngine(t, cfg, true)
	waitLeader(t, e.Engine)

	c, err := NewClient(t.Context(), cli, NewClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	resp, err := c.Transact(t.Context(), &txnenginev1.TransactRequest{
		Database:   "Test",
		Operations: []byte(`[{"op":"insert","table":"T","row":{"name":"a","n":1}},{"op":"comment","comment":"hello"}]`),
		SessionId:  "s1",
		RequestId:  "r1",
	})
	if err != nil {
		t.Fatalf("Transact: %v", err)
	}
	if resp.GetRevision() <= 0 {
		t.Errorf("revision = %d, want > 0", resp.GetRevision())
	}
	if !strings.Contains(string(resp.GetResult()), `"uuid"`) {
		t.Errorf("result %s has no uuid", resp.GetResult())
	}
	if got := etcdNames(t, cli); got["a"] != 1 || len(got) != 1 {
		t.Errorf("etcd rows = %v, want a once", got)
	}
	// The row and the comment were written at the reply's revision.
	cm, err := cli.Get(t.Context(), keys.Default().Comments("Test"), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(cm.Kvs) != 1 || string(cm.Kvs[0].Value) != "hello" || cm.Kvs[0].ModRevision != resp.GetRevision() {
		t.Errorf("comments = %v, want one \"hello\" at rev %d", cm.Kvs, resp.GetRevision())
	}
	// The database's commit key moved to the commit revision, and a
	// transaction that changes nothing leaves it there.
	commitRev := func() int64 {
		t.Helper()
		ck, gerr := cli.Get(t.Context(), keys.Default().Commit("Test"))
		if gerr != nil {
			t.Fatal(gerr)
		}
		if len(ck.Kvs) != 1 {
			t.Fatalf("commit key: %v, want one key", ck.Kvs)
		}
		return ck.Kvs[0].ModRevision
	}
	if got := commitRev(); got != resp.GetRevision() {
		t.Errorf("commit key at rev %d, want %d", got, resp.GetRevision())
	}
	if _, serr := c.Transact(t.Context(), &txnenginev1.TransactRequest{
		Database:   "Test",
		Operations: []byte(`[{"op":"select","table":"T","where":[]}]`),
	}); serr != nil {
		t.Fatalf("Transact select: %v", serr)
	}
	if got := commitRev(); got != resp.GetRevision() {
		t.Errorf("after a read-only transaction the commit key is at rev %d, want %d", got, resp.GetRevision())
	}

	// Read-only transactions write nothing and report revision 0.
	resp, err = c.Transact(t.Context(), &txnenginev1.TransactRequest{
		Database: "Test", Operations: []byte(`[{"op":"select","table":"T","where":[]}]`)})
	if err != nil || resp.GetRevision() != 0 {
		t.Fatalf("select: rev %d err %v, want 0 nil", resp.GetRevision(), err)
	}

	for _, tc := range []struct {
		name string
		req  *txnenginev1.TransactRequest
		code codes.Code
	}{
		{name: "unknown database", req: &txnenginev1.TransactRequest{Database: "Nope", Operations: []byte(`[]`)}, code: codes.NotFound},
		{name: "malformed json", req: &txnenginev1.TransactRequest{Database: "Test", Operations: []byte(`[{`)}, code: codes.InvalidArgument},
		{name: "not an array", req: &txnenginev1.TransactRequest{Database: "Test", Operations: []byte(`{}`)}, code: codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Transact(t.Context(), tc.req)
			if status.Code(err) != tc.code {
				t.Errorf("err = %v, want code %v", err, tc.code)
			}
		})
	}
}

func TestGroupCommit(t *testing.T) {
	e, cli, fkv := faultEngine(t)
	mustTransact(t, e.Engine, insertOp("taken", 0))

	// Hold the commit loop in the commit of a first transaction until all
	// writers are queued, so that they surely form one batch.
	const writers = 64
	reached, release := fkv.holdNextCommit(t)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		mustTransact(t, e.Engine, insertOp("blocker", 0))
	}()

	// Count from before the first writer is sent: the loop takes
	// arrivals while the blocker's Txn is in flight (pipelining), so a
	// count read after the writers started can miss some already taken
	// and never reach writers (seen once under load; the test then timed
	// out waiting for "writers taken").
	tm, base := waitReached(t, e.Engine, reached, "first commit")
	results := make([][]any, writers)
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("w%d", i)
			if i == 7 {
				name = "taken" // violates the index: fails on its own
			}
			results[i], _, errs[i] = transact(t, e.Engine, insertOp(name, i))
		}()
	}
	// The loop executes arrivals while the blocker's Txn is in flight
	// (pipelining); they are sent together once it is acknowledged.
	eventually(t, "writers taken", func() bool { return tm.took.Load()+int64(len(tm.queue))-base == writers })
	release()
	wg.Wait()
	for i := range writers {
		if errs[i] != nil {
			t.Fatalf("writer %d: %v", i, errs[i])
		}
		failed := strings.Contains(fmt.Sprint(results[i]), "constraint violation")
		if failed != (i == 7) {
			t.Errorf("writer %d: result %v", i, results[i])
		}
	}
	names := etcdNames(t, cli)
	if len(names) != writers+1 { // w0..w63 without w7, plus "taken" and "blocker"
		t.Errorf("etcd has %d rows, want %d: %v", len(names), writers, names)
	}
	h := metric(t, e.reg, "ovsdb_etcd_txnengine_commit_batch_size_transactions").GetHistogram()
	if h.GetSampleSum() <= float64(h.GetSampleCount()) {
		t.Errorf("batch size: sum %v over %d batches, want some batch > 1", h.GetSampleSum(), h.GetSampleCount())
	}
	txns := metric(t, e.reg, "ovsdb_etcd_txnengine_etcd_txns_total", "outcome", "ok").GetCounter().GetValue()
	ovsdbTxns := metric(t, e.reg, "ovsdb_etcd_txnengine_ovsdb_transactions_total", "result", "committed").GetCounter().GetValue()
	if txns >= ovsdbTxns {
		t.Errorf("etcd txns %v >= committed OVSDB transactions %v", txns, ovsdbTxns)
	}
	if hw := metric(t, e.reg, "ovsdb_etcd_txnengine_queue_high_water_mark_requests").GetGauge().GetValue(); hw < 1 {
		t.Errorf("queue high-water mark %v, want >= 1", hw)
	}
}

func TestNetEffectInOneBatch(t *testing.T) {
	e, cli := leadingEngine(t, nil)
	// Insert, update and delete rows of one key inside one transaction and
	// across transactions of one batch: etcd would refuse duplicate keys.
	mustTransact(t, e.Engine,
		map[string]any{"op": "insert", "table": "T", "row": map[string]any{"name": "gone"}},
		map[string]any{"op": "insert", "table": "T", "row": map[string]any{"name": "kept"}},
		map[string]any{"op": "update", "table": "T", "where": []any{[]any{"name", "==", "kept"}}, "row": map[string]any{"n": 5}},
		map[string]any{"op": "delete", "table": "T", "where": []any{[]any{"name", "==", "gone"}}},
	)
	if got := etcdNames(t, cli); len(got) != 1 || got["kept"] != 1 {
		t.Errorf("etcd rows = %v, want only kept", got)
	}
}

func TestFencing(t *testing.T) {
	e, cli := leadingEngine(t, nil)
	mustTransact(t, e.Engine, insertOp("before", 1))

	// Depose the engine behind its back: delete its leader key (as a lease
	// expiry would), and let another candidate take the election.
	tm := e.currentTerm()
	if _, err := cli.Delete(t.Context(), tm.leaderKey); err != nil {
		t.Fatal(err)
	}
	_, _, err := transact(t, e.Engine, insertOp("after", 2))
	if !errors.Is(err, ErrLeadershipLost) {
		t.Fatalf("commit by a deposed leader: err %v, want ErrLeadershipLost", err)
	}
	if _, ok := notExecuted(toStatus(err)); !ok {
		t.Errorf("status %v is not marked as not executed", toStatus(err))
	}
	if got := etcdNames(t, cli); got["after"] != 0 {
		t.Errorf("deposed leader wrote: %v", got)
	}
	if v := metric(t, e.reg, "ovsdb_etcd_txnengine_fence_failures_total").GetCounter().GetValue(); v != 1 {
		t.Errorf("fence failures = %v, want 1", v)
	}
	// It campaigns again, reloads, and serves.
	waitLeader(t, e.Engine)
	res, _ := mustTransact(t, e.Engine, insertOp("after", 2), selectAll())
	if got := rowNames(t, res[1]); got["before"] != 1 || got["after"] != 1 {
		t.Errorf("rows after re-election = %v", got)
	}
}

// TestSessionLoss: the engine's lease is revoked (as when etcd expires it
// during a partition); its next transaction provably does not run, and the
// engine campaigns again and serves.
func TestSessionLoss(t *testing.T) {
	e, cli := leadingEngine(t, nil)
	tm := e.currentTerm()
	if _, err := cli.Revoke(t.Context(), tm.sess.Lease()); err != nil {
		t.Fatal(err)
	}
	_, _, err := transact(t, e.Engine, insertOp("lost", 1))
	if _, ok := notExecuted(toStatus(err)); !ok {
		t.Fatalf("transaction after lease loss: %v, want a not-executed Unavailable", err)
	}
	if got := etcdNames(t, cli); got["lost"] != 0 {
		t.Errorf("engine without lease wrote: %v", got)
	}
	waitLeader(t, e.Engine)
	if e.currentTerm() == tm {
		t.Fatal("still in the term whose lease was revoked")
	}
	mustTransact(t, e.Engine, insertOp("lost", 1))
}

func TestFailover(t *testing.T) {
	e1, e2, c, cli := leaderAndStandby(t)
	send := func(ops string) (*txnenginev1.TransactResponse, error) {
		return c.Transact(t.Context(), &txnenginev1.TransactRequest{Database: "Test", Operations: []byte(ops)})
	}
	if _, serr := send(`[{"op":"insert","table":"T","row":{"name":"one"}}]`); serr != nil {
		t.Fatal(serr)
	}

	// The standby refuses, naming the leader, and did not execute.
	_, _, err := transact(t, e2.Engine, insertOp("standby", 0))
	st := toStatus(err)
	leader, ok := notExecuted(st)
	if !ok || leader != e1.addr {
		t.Fatalf("standby: %v (leader %q), want NOT_LEADER naming %s", st, leader, e1.addr)
	}

	if cerr := e1.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	waitLeader(t, e2.Engine)
	// The client follows the election by itself, before any request.
	eventually(t, "client following the new leader", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.leader == e2.addr
	})
	resp, err := send(`[{"op":"insert","table":"T","row":{"name":"two"}},{"op":"select","table":"T","where":[]}]`)
	if err != nil {
		t.Fatalf("transact after failover: %v", err)
	}
	for _, name := range []string{`"one"`, `"two"`} {
		if !strings.Contains(string(resp.GetResult()), name) {
			t.Errorf("result %s lacks %s", resp.GetResult(), name)
		}
	}
	if got := etcdNames(t, cli); len(got) != 2 || got["one"] != 1 || got["two"] != 1 {
		t.Errorf("etcd rows = %v", got)
	}
}

func TestUnknownOutcome(t *testing.T) {
	for _, tc := range []struct {
		name      string
		applied   bool
		dropProbe bool // the answer to resolveUnknown's abort is lost too
		wantCount int
	}{
		{name: "applied, answer lost", applied: true, wantCount: 1},
		{name: "never sent", applied: false, wantCount: 0},
		{name: "never sent, abort's answer lost", applied: false, dropProbe: true, wantCount: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, cli, fkv := faultEngine(t)
			mustTransact(t, e.Engine, insertOp("first", 0))

			fkv.mu.Lock()
			fkv.dropAfter, fkv.failBefore, fkv.dropProbe = tc.applied, !tc.applied, tc.dropProbe
			fkv.mu.Unlock()
			res, rev, err := transact(t, e.Engine, insertOp("x", 1))
			if tc.applied {
				if err != nil || rev == 0 || strings.Contains(fmt.Sprint(res), "error") {
					t.Fatalf("applied commit answered %v rev %d err %v, want success", res, rev, err)
				}
			} else {
				if _, ok := notExecuted(toStatus(err)); !ok {
					t.Fatalf("commit that did not apply answered %v %v, want retryable Unavailable", res, err)
				}
			}
			if got := etcdNames(t, cli)["x"]; got != tc.wantCount {
				t.Errorf("row x in etcd %d times, want %d", got, tc.wantCount)
			}
			if tc.dropProbe {
				fkv.mu.Lock()
				dropped := !fkv.dropProbe
				fkv.mu.Unlock()
				if !dropped {
					t.Fatal("no probe answer was dropped")
				}
			}
			// The engine keeps (or regains) leadership and its state matches etcd.
			waitLeader(t, e.Engine)
			res, _ = mustTransact(t, e.Engine, selectAll())
			if got := rowNames(t, res[0]); got["x"] != tc.wantCount || got["first"] != 1 {
				t.Errorf("in-memory rows %v", got)
			}
		})
	}
}

func TestBlockingWait(t *testing.T) {
	e, cli := leadingEngine(t, nil)

	waitFor := func(name string, timeoutMs int) map[string]any {
		return map[string]any{"op": "wait", "table": "T", "timeout": timeoutMs,
			"where": []any{[]any{"name", "==", name}}, "columns": []any{"name"},
			"until": "==", "rows": []any{map[string]any{"name": name}}}
	}
	parked := func() float64 {
		return metric(t, e.reg, "ovsdb_etcd_txnengine_parked_waits").GetGauge().GetValue()
	}

	// Released by a later commit; the wait's own insert commits with it.
	done := make(chan []any, 1)
	go func() {
		res, _, err := transact(t, e.Engine, waitFor("go", 60000), insertOp("waited", 0))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	eventually(t, "wait parked", func() bool { return parked() == 1 })
	// Others are not held back by the parked wait.
	mustTransact(t, e.Engine, insertOp("other", 0))
	mustTransact(t, e.Engine, insertOp("go", 0))
	res := <-done
	if strings.Contains(fmt.Sprint(res), "error") {
		t.Errorf("released wait: %v", res)
	}
	if got := etcdNames(t, cli); got["waited"] != 1 {
		t.Errorf("etcd rows %v, want waited", got)
	}

	// Timed out when nothing satisfies it.
	res, _, err := transact(t, e.Engine, waitFor("never", 50))
	if err != nil || !strings.Contains(fmt.Sprint(res), "timed out") {
		t.Errorf("expired wait: %v %v, want timed out", res, err)
	}

	// A cancelled caller removes its parked wait.
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := e.Transact(ctx, Request{Database: "Test", Operations: []byte(`[{"op":"wait","table":"T","timeout":60000,"where":[["name","==","never"]],"columns":["name"],"until":"==","rows":[{"name":"never"}]}]`)})
		errc <- err
	}()
	eventually(t, "second wait parked", func() bool { return parked() == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
	eventually(t, "wait unparked", func() bool { return parked() == 0 })
}

func TestLargeTransaction(t *testing.T) {
	e, cli := leadingEngine(t, nil)

	const rows = 10000
	ops := make([]any, 0, rows)
	for i := range rows {
		ops = append(ops, insertOp(fmt.Sprintf("row-%05d-%s", i, strings.Repeat("x", 800)), i))
	}
	_, rev := mustTransact(t, e.Engine, ops...)
	resp, err := cli.Get(t.Context(), keys.Default().Table("Test", "T"), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != rows {
		t.Fatalf("etcd has %d rows, want %d", len(resp.Kvs), rows)
	}
	for _, kv := range resp.Kvs {
		if kv.ModRevision != rev {
			t.Fatalf("row %s at rev %d, want all at %d (one Txn)", kv.Key, kv.ModRevision, rev)
		}
	}
}

func TestPastClusterLimits(t *testing.T) {
	// The engine believes the cluster allows more than it does, so etcd
	// itself refuses the Txn.
	const clusterMaxOps = 2000
	etcd := startEtcd(t, etcdtest.WithMaxTxnOps(clusterMaxOps))
	cli := etcd.client(t)
	cfg := testConfig(t, cli, writeSchema(t, t.TempDir(), "1.0.0"), "unix:unused")
	e := newTestEngine(t, cfg, false)
	waitLeader(t, e.Engine)
	mustTransact(t, e.Engine, insertOp("kept", 0))

	ops := make([]any, 0, clusterMaxOps+10)
	for i := range clusterMaxOps + 10 {
		ops = append(ops, insertOp(fmt.Sprintf("big-%d", i), i))
	}
	res, _, err := transact(t, e.Engine, ops...)
	if err != nil {
		t.Fatal(err)
	}
	last, _ := res[len(res)-1].(map[string]any)
	if last["error"] != "resources exhausted" || !strings.Contains(fmt.Sprint(last["details"]), "too many operations") {
		t.Errorf("last result element %v, want resources exhausted naming the limit", last)
	}
	// The in-memory state was restored: only "kept" exists, and a normal
	// transaction still commits.
	res, _ = mustTransact(t, e.Engine, insertOp("next", 1), selectAll())
	if got := rowNames(t, res[1]); len(got) != 2 {
		t.Errorf("rows after refused commit: %v", got)
	}
}

func TestSchemaVersionRefused(t *testing.T) {
	etcd := startEtcd(t)
	cli := etcd.client(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		version string
		wantErr bool
	}{
		{name: "first start stores", version: "1.0.0"},
		{name: "same version reuses", version: "1.0.0"},
		{name: "other version refused", version: "2.0.0", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, cli, writeSchema(t, dir, tc.version), "unix:unused")
			e, err := New(t.Context(), cfg)
			if tc.wantErr {
				if err == nil {
					e.Close()
					t.Fatal("New accepted a changed schema version")
				}
				if !errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), `"1.0.0"`) || !strings.Contains(err.Error(), `"2.0.0"`) {
					t.Errorf("err = %v, want ErrSchemaMismatch naming both versions", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e.Close()
		})
	}
}

func TestRestartReload(t *testing.T) {
	etcd := startEtcd(t)
	cli := etcd.client(t)
	cfg := testConfig(t, cli, writeSchema(t, t.TempDir(), "1.0.0"), "unix:unused")
	e1 := newTestEngine(t, cfg, false)
	waitLeader(t, e1.Engine)
	mustTransact(t, e1.Engine, insertOp("a", 1), insertOp("b", 2))
	if err := e1.Close(); err != nil {
		t.Fatal(err)
	}

	e2 := newTestEngine(t, cfg, false)
	waitLeader(t, e2.Engine)
	res, _ := mustTransact(t, e2.Engine, selectAll())
	if got := rowNames(t, res[0]); got["a"] != 1 || got["b"] != 1 || len(got) != 2 {
		t.Errorf("rows after restart: %v", got)
	}
	// The reloaded state enforces the index against loaded rows.
	res, _, err := transact(t, e2.Engine, insertOp("a", 3))
	if err != nil || !strings.Contains(fmt.Sprint(res), "constraint violation") {
		t.Errorf("duplicate of a loaded row: %v %v, want constraint violation", res, err)
	}
}

func TestCompaction(t *testing.T) {
	const window = 5
	e, cli := leadingEngine(t, func(c *Config) {
		c.CompactionInterval = 20 * time.Millisecond
		c.HistoryWindow = window
	})
	var rev int64
	for i := range 10 {
		_, rev = mustTransact(t, e.Engine, insertOp(fmt.Sprintf("c%d", i), i))
	}
	eventually(t, "compaction", func() bool {
		return metric(t, e.reg, "ovsdb_etcd_txnengine_compactions_total").GetCounter().GetValue() >= 1
	})
	// History inside the window is still readable.
	if _, err := cli.Get(t.Context(), "x", clientv3.WithRev(rev-window+1)); err != nil {
		t.Errorf("read inside the history window: %v", err)
	}
}

// TestBatchCoalescesAcrossTransactions: transactions of one batch that
// touch the same rows commit as one Txn with one op per key (etcd
// rejects duplicates): an insert then delete leaves nothing, two updates
// leave the last value.
func TestBatchCoalescesAcrossTransactions(t *testing.T) {
	e, cli, fkv := faultEngine(t)
	mustTransact(t, e.Engine, insertOp("hold", 0), insertOp("upd", 0))

	// Park the loop in a commit until the three transactions below are
	// queued; they then form the next batch, in order.
	reached, release := fkv.holdNextCommit(t)
	where := func(name string) []any { return []any{[]any{"name", "==", name}} }
	steps := [][]any{
		{map[string]any{"op": "update", "table": "T", "where": where("hold"), "row": map[string]any{"n": 1}}},
		{insertOp("tmp", 0), map[string]any{"op": "update", "table": "T", "where": where("upd"), "row": map[string]any{"n": 1}}},
		{map[string]any{"op": "delete", "table": "T", "where": where("tmp")}},
		{map[string]any{"op": "update", "table": "T", "where": where("upd"), "row": map[string]any{"n": 2}}},
	}
	var wg sync.WaitGroup
	revs := make([]int64, len(steps))
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, revs[0] = mustTransact(t, e.Engine, steps[0]...)
	}()
	tm, base := waitReached(t, e.Engine, reached, "first commit")
	taken := func() int { return int(tm.took.Load()-base) + len(tm.queue) }
	for i := 1; i < len(steps); i++ {
		// Queue in order: each waits until the previous one is taken
		// (executed on top of the gated commit) or queued.
		eventually(t, "previous queued", func() bool { return taken() == i-1 })
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, revs[i] = mustTransact(t, e.Engine, steps[i]...)
		}()
	}
	eventually(t, "queued", func() bool { return taken() == len(steps)-1 })
	release()
	wg.Wait()
	if revs[1] != revs[2] || revs[2] != revs[3] || revs[1] <= revs[0] {
		t.Errorf("revisions %v: want the last three in one later batch", revs)
	}
	names := etcdNames(t, cli)
	if names["tmp"] != 0 || names["upd"] != 1 || names["hold"] != 1 {
		t.Errorf("etcd rows %v", names)
	}
	for k, v := range etcdRows(t, cli) {
		if strings.Contains(v, `"upd"`) && !strings.Contains(v, `"n":2`) {
			t.Errorf("%s = %s, want n 2", k, v)
		}
	}
}

// TestRunServesUntilCancelled runs the service as the txnengine command
// does, transacts through the Client, and stops it; a parked wait is
// answered retryably when the engine stops.
func TestRunServesUntilCancelled(t *testing.T) {
	etcd := startEtcd(t)
	cli := etcd.client(t)
	dir := t.TempDir()
	cfg := testConfig(t, cli, writeSchema(t, dir, "1.0.0"), "unix:"+filepath.Join(dir, "run.sock"))
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- Run(ctx, cfg) }()

	ccfg := NewClientConfig()
	ccfg.MaxAttempts = 3
	c, err := NewClient(t.Context(), cli, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Transact(t.Context(), &txnenginev1.TransactRequest{
		Database: "Test", Operations: []byte(`[{"op":"insert","table":"T","row":{"name":"run"}}]`)}); err != nil {
		t.Fatalf("Transact: %v", err)
	}

	waitErr := make(chan error, 1)
	go func() {
		_, err := c.Transact(t.Context(), &txnenginev1.TransactRequest{Database: "Test", Operations: []byte(
			`[{"op":"wait","table":"T","timeout":60000,"where":[["name","==","never"]],"columns":["name"],"until":"==","rows":[{"name":"never"}]}]`)})
		waitErr <- err
	}()
	eventually(t, "wait parked", func() bool {
		return metric(t, reg, "ovsdb_etcd_txnengine_parked_waits").GetGauge().GetValue() == 1
	})
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Run did not return after cancel")
	}
	select {
	case err := <-waitErr:
		// Either answered retryably by the stopping engine, or (if the
		// client resent it) failed because no engine is left.
		if err == nil {
			t.Errorf("parked wait answered success after stop")
		}
	case <-time.After(testTimeout):
		t.Fatal("parked wait not answered after stop")
	}
}

// TestPipelineRecovers: transactions executed on top of a batch whose
// Txn is in flight are undone and executed again when that Txn proves not
// applied, and committed as executed when it applied after all.
func TestPipelineRecovers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		applied bool
	}{
		{name: "in-flight Txn not applied", applied: false},
		{name: "in-flight Txn applied, answer lost", applied: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, cli, fkv := faultEngine(t)
			fkv.mu.Lock()
			fkv.dropAfter, fkv.failBefore = tc.applied, !tc.applied
			fkv.mu.Unlock()
			reached, release := fkv.holdNextCommit(t)
			var blockerErr error
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, blockerErr = transact(t, e.Engine, insertOp("dup", 0))
			}()
			tm, base := waitReached(t, e.Engine, reached, "first commit")
			const writers = 4
			results := make([][]any, writers)
			errs := make([]error, writers)
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					name := fmt.Sprintf("w%d", i)
					if i == 0 {
						name = "dup" // conflicts with the in-flight insert
					}
					results[i], _, errs[i] = transact(t, e.Engine, insertOp(name, i))
				}()
			}
			eventually(t, "writers taken", func() bool { return tm.took.Load()-base == writers })
			release()
			wg.Wait()
			if tc.applied != (blockerErr == nil) {
				t.Errorf("in-flight transaction: err %v, want applied %v", blockerErr, tc.applied)
			}
			if !tc.applied {
				if _, ok := notExecuted(toStatus(blockerErr)); !ok {
					t.Errorf("not applied answered %v, want retryable", blockerErr)
				}
			}
			for i := range writers {
				if errs[i] != nil {
					t.Fatalf("writer %d: %v", i, errs[i])
				}
				failed := strings.Contains(fmt.Sprint(results[i]), "constraint violation")
				if failed != (i == 0 && tc.applied) {
					t.Errorf("writer %d: %v", i, results[i])
				}
			}
			names := etcdNames(t, cli)
			if names["dup"] != 1 || len(names) != writers {
				t.Errorf("etcd rows %v", names)
			}
			res, _ := mustTransact(t, e.Engine, selectAll())
			if got := rowNames(t, res[0]); len(got) != writers || got["dup"] != 1 {
				t.Errorf("in-memory rows %v", got)
			}
		})
	}
}

// TestSchemasStoredTogether checks that an engine stores all its missing
// schemas in one etcd revision (a frontend loading the schemas never finds
// only some of them), and that a later engine with one more schema keeps
// the stored one and adds the other.
func TestSchemasStoredTogether(t *testing.T) {
	etcd := startEtcd(t)
	cli := etcd.client(t)
	dir := t.TempDir()
	writeNamed := func(name string) string {
		p := filepath.Join(dir, name+".ovsschema")
		raw := strings.Replace(fmt.Sprintf(testSchema, "1.0.0"), `"name": "Test"`, `"name": "`+name+`"`, 1)
		if err := os.WriteFile(p, []byte(raw), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b, c := writeNamed("A"), writeNamed("B"), writeNamed("C")
	cfg := testConfig(t, cli, a, "unix:unused")
	cfg.SchemaFiles = []string{a, b}
	e, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	l, err := keys.New(cfg.Prefix, cfg.Service)
	if err != nil {
		t.Fatal(err)
	}
	rev := func(db string) int64 {
		t.Helper()
		resp, gerr := cli.Get(t.Context(), l.Schema(db))
		if gerr != nil {
			t.Fatal(gerr)
		}
		if len(resp.Kvs) != 1 {
			t.Fatalf("schema of %s not stored", db)
		}
		return resp.Kvs[0].CreateRevision
	}
	ra, rb := rev("A"), rev("B")
	if ra != rb {
		t.Errorf("schemas A and B created at revisions %d and %d, want one revision", ra, rb)
	}
	cfg.SchemaFiles = []string{a, b, c}
	e, err = New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	if rev("A") != ra || rev("B") != rb {
		t.Errorf("stored schemas were rewritten by the second engine")
	}
	if rc := rev("C"); rc <= ra {
		t.Errorf("schema C created at revision %d, want after %d", rc, ra)
	}
}
