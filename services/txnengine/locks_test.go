package txnengine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
)

// transactAs runs ops as session with the locks its frontend believes it
// holds.
func transactAs(t *testing.T, e *Engine, session string, held []string, ops ...any) ([]any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	data, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.Transact(ctx, Request{Database: "Test", Operations: data, SessionID: session, HeldLocks: held})
	if err != nil {
		return nil, err
	}
	var res []any
	if err := json.Unmarshal(resp.Result, &res); err != nil {
		t.Fatalf("result %s: %v", resp.Result, err)
	}
	return res, nil
}

func assertOp(lock string) map[string]any { return map[string]any{"op": "assert", "lock": lock} }

func notOwner(res []any) bool { return strings.Contains(fmt.Sprint(res), "not owner") }

// testLock is the OVSDB lock these tests compete for.
const testLock = "northd"

// setOwner writes the owner key of testLock as a frontend does.
func setOwner(t *testing.T, cli *clientv3.Client, session string) {
	t.Helper()
	if _, err := cli.Put(t.Context(), keys.Default().Lock(testLock), session); err != nil {
		t.Fatal(err)
	}
}

// waitOwner waits until the leader's view of lock shows session.
func waitOwner(t *testing.T, e *Engine, lock, session string) {
	t.Helper()
	tm := e.currentTerm()
	eventually(t, "lock view", func() bool { return tm.locks.get(lock).owner == session })
}

func TestAssertAgainstLockKeys(t *testing.T) {
	etcd := startEtcd(t)
	cli := etcd.client(t)
	cfg := testConfig(t, cli, writeSchema(t, t.TempDir(), "1.0.0"), "unix:unused")
	e := newTestEngine(t, cfg, false)
	waitLeader(t, e.Engine)
	setOwner(t, cli, "s1")
	for i, tc := range []struct {
		name      string
		session   string
		held      []string
		wantOwner bool
	}{
		{name: "owner asserts its lock", session: "s1", held: []string{"northd"}, wantOwner: true},
		{name: "another session believes it holds the lock", session: "s2", held: []string{"northd"}},
		{name: "owner whose frontend released the lock", session: "s1", held: nil},
		{name: "lock nobody holds", session: "s1", held: []string{"other"}},
		{name: "no session id trusts held locks", session: "", held: []string{"other"}, wantOwner: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lock := "northd"
			if tc.held != nil {
				lock = tc.held[0]
			}
			res, err := transactAs(t, e.Engine, tc.session, tc.held, assertOp(lock), insertOp(fmt.Sprintf("r%d", i), i))
			if err != nil {
				t.Fatal(err)
			}
			if notOwner(res) == tc.wantOwner {
				t.Errorf("result %v, want owner %v", res, tc.wantOwner)
			}
			if got := etcdNames(t, cli)[fmt.Sprintf("r%d", i)]; got != map[bool]int{true: 1}[tc.wantOwner] {
				t.Errorf("row in etcd %d times", got)
			}
		})
	}
}

// gateBatch holds the commit loop in the commit of a blocker transaction
// until queue holds n more requests, then lets them run as one batch.
// then runs just before the batch's own Txn is sent.
func gateBatch(t *testing.T, e *Engine, fkv *faultKV, n int, queue func(), then func()) {
	t.Helper()
	reached, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	releaseGate := func() { releaseOnce.Do(func() { close(release) }) }
	// As in faultKV.holdNextCommit: a failure while the blocker is held
	// must not leave the engine's Close waiting for it.
	t.Cleanup(releaseGate)
	fkv.mu.Lock()
	fkv.gate = func() {
		close(reached)
		<-release
		fkv.mu.Lock()
		fkv.gate = then
		fkv.mu.Unlock()
	}
	fkv.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		mustTransact(t, e, insertOp("blocker", 0))
	}()
	tm, base := waitReached(t, e, reached, "blocker")
	queue()
	eventually(t, "requests taken", func() bool { return tm.took.Load()+int64(len(tm.queue))-base == int64(n) })
	releaseGate()
	wg.Wait()
}

func TestLockFence(t *testing.T) {
	for _, tc := range []struct {
		name string
		// stealEarly: the lock is stolen before the batch executes (the
		// view knows); otherwise between execute and commit (only the
		// Txn's compare sees it).
		stealEarly bool
	}{
		{name: "stale assert after a steal fails alone", stealEarly: true},
		{name: "steal between execute and commit re-executes without the offender"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, cli, fkv := faultEngine(t)
			setOwner(t, cli, "s1")
			waitOwner(t, e.Engine, "northd", "s1")
			if tc.stealEarly {
				setOwner(t, cli, "s2")
				waitOwner(t, e.Engine, "northd", "s2")
			}
			var steal func()
			if !tc.stealEarly {
				steal = func() { setOwner(t, cli, "s2") }
			}

			const others = 8
			results := make([][]any, others+1)
			errs := make([]error, others+1)
			var wg sync.WaitGroup
			gateBatch(t, e.Engine, fkv, others+1, func() {
				for i := range others + 1 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if i == 0 { // s1's frontend has not seen the steal
							results[i], errs[i] = transactAs(t, e.Engine, "s1", []string{"northd"},
								assertOp("northd"), insertOp("stale", 0))
							return
						}
						results[i], errs[i] = transactAs(t, e.Engine, fmt.Sprintf("o%d", i), nil, insertOp(fmt.Sprintf("w%d", i), i))
					}()
				}
			}, steal)
			wg.Wait()
			for i := range others + 1 {
				if errs[i] != nil {
					t.Fatalf("txn %d: %v", i, errs[i])
				}
				if notOwner(results[i]) != (i == 0) || (i > 0 && strings.Contains(fmt.Sprint(results[i]), "error")) {
					t.Errorf("txn %d: result %v", i, results[i])
				}
			}
			names := etcdNames(t, cli)
			if names["stale"] != 0 || len(names) != others+1 {
				t.Errorf("etcd rows %v, want w1..w%d and blocker", names, others)
			}
			fenced := metric(t, e.reg, "ovsdb_etcd_txnengine_etcd_txns_total", "outcome", "lock_fenced").GetCounter().GetValue()
			if want := map[bool]float64{false: 1}[tc.stealEarly]; fenced != want {
				t.Errorf("lock-fenced Txns %v, want %v", fenced, want)
			}
			// The term survived: s2 now asserts the lock.
			res, err := transactAs(t, e.Engine, "s2", []string{"northd"}, assertOp("northd"), insertOp("new", 1))
			if err != nil || notOwner(res) {
				t.Fatalf("new owner: %v %v", res, err)
			}
		})
	}
}
