package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// Shape of the failover load.
const (
	failoverClients      = 16
	failoverTxnsEach     = 40
	failoverKillAfterAck = failoverClients * 8 // acknowledged txns before the kill
	failoverTimeout      = 3 * time.Minute
)

// outcome is what one client saw for one transaction.
type outcome int

const (
	acked   outcome = iota // result without error: must be in etcd exactly once
	failed                 // an OVSDB error in the result: must not be in etcd
	unknown                // no answer (connection lost, timeout): either way
)

// TestFailoverKillLeader SIGKILLs the txnengine leader process while 16
// clients insert rows with unique names through the frontend. A standby
// must take over, clients must continue, every acknowledged row must be in
// etcd exactly once, and no row reported as failed may be there.
func TestFailoverKillLeader(t *testing.T) {
	r := startRoles(t, []string{nbSchema}, 2)
	runFailover(t, r, func(leader int) (heal func()) {
		r.engines[leader].Kill()
		t.Logf("SIGKILLed txnengine-%d", leader)
		return func() {}
	})
}

// TestFailoverDroppedTxnResponse drops every etcd response to the leading
// txnengine (go.etcd.io/etcd/pkg/v3/proxy through internal/etcdtest) while
// 16 clients transact: its commits apply but their answers never arrive,
// its lease cannot be renewed, and the standby takes over. The same
// guarantees as for a SIGKILL hold.
func TestFailoverDroppedTxnResponse(t *testing.T) {
	var proxy *etcdtest.Proxy
	r := startRoles(t, []string{nbSchema}, 2, withFirstEngineVia(func(c *etcdtest.Cluster) string {
		proxy = etcdtest.NewProxy(t, c.Member(0))
		return proxy.Endpoint()
	}), withEngineArgs("--commit-timeout", "3s"))
	runFailover(t, r, func(leader int) (heal func()) {
		if leader != 0 {
			t.Fatalf("txnengine-%d leads, not txnengine-0 behind the proxy", leader)
		}
		proxy.BlackholeRx()
		t.Logf("dropping every etcd response to txnengine-0")
		return proxy.UnblackholeRx
	})
}

// runFailover runs 16 clients inserting uniquely named rows through the
// frontend, calls fault on the leader once a share of them is
// acknowledged, waits for another engine to lead, calls the heal function
// fault returned, lets the clients finish, and checks etcd against what
// the clients were told.
func runFailover(t *testing.T, r *roles, fault func(leader int) (heal func())) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), failoverTimeout)
	defer cancel()

	var (
		mu       sync.Mutex // mu guards outcomes
		outcomes = map[string]outcome{}
		acks     atomic.Int64
		killed   = make(chan struct{})
		wg       sync.WaitGroup
	)
	record := func(name string, o outcome) {
		mu.Lock()
		outcomes[name] = o
		mu.Unlock()
	}
	reachedKill := make(chan struct{})
	var reachedOnce sync.Once
	for c := range failoverClients {
		wg.Go(func() {
			cl, err := jsonrpc.Dial(ctx, r.Addr())
			if err != nil {
				t.Errorf("client %d: dial: %v", c, err)
				return
			}
			defer func() { cl.Close() }()
			for n := range failoverTxnsEach {
				name := fmt.Sprintf("c%02d-%03d", c, n)
				o, err := insertSwitch(ctx, cl, name)
				record(name, o)
				if o == unknown {
					t.Logf("client %d: %s: outcome unknown: %v", c, name, err)
					if ctx.Err() != nil {
						return
					}
					// Reconnect: the frontend is still up, only this
					// connection may be gone.
					cl.Close()
					if cl, err = jsonrpc.Dial(ctx, r.Addr()); err != nil {
						t.Errorf("client %d: redial: %v", c, err)
						return
					}
				}
				if o == acked && acks.Add(1) >= failoverKillAfterAck {
					reachedOnce.Do(func() { close(reachedKill) })
				}
				// Half of the transactions run after the kill.
				if n == failoverTxnsEach/2 {
					select {
					case <-killed:
					case <-ctx.Done():
						return
					}
				}
			}
		})
	}

	select {
	case <-reachedKill:
	case <-ctx.Done():
		t.Fatalf("only %d transactions acknowledged before the deadline", acks.Load())
	}
	old := r.waitLeader("")
	ackedAtKill := acks.Load()
	heal := fault(old)
	t.Logf("fault on txnengine-%d after %d acknowledged transactions", old, ackedAtKill)
	newLeader := r.waitLeader("unix:" + r.engineSocket(old))
	heal()
	close(killed)
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("clients did not finish within %v", failoverTimeout)
	}
	t.Logf("txnengine-%d took over; %d transactions acknowledged in total", newLeader, acks.Load())
	if acks.Load() <= ackedAtKill {
		t.Errorf("no transaction acknowledged after the failover")
	}

	// Compare with etcd, the only state.
	counts := switchNamesInEtcd(ctx, t, r.cli)
	mu.Lock()
	defer mu.Unlock()
	var nAcked, nFailed, nUnknown int
	for name, o := range outcomes {
		switch o {
		case acked:
			nAcked++
			if counts[name] != 1 {
				t.Errorf("acknowledged %s is in etcd %d times", name, counts[name])
			}
		case failed:
			nFailed++
			if counts[name] != 0 {
				t.Errorf("%s was reported failed but is in etcd %d times", name, counts[name])
			}
		case unknown:
			nUnknown++
			if counts[name] > 1 {
				t.Errorf("%s (outcome unknown) is in etcd %d times", name, counts[name])
			}
		}
	}
	for name, n := range counts {
		if _, ok := outcomes[name]; !ok {
			t.Errorf("etcd holds %d rows named %s that no client sent", n, name)
		}
	}
	t.Logf("%d acknowledged, %d failed, %d unknown", nAcked, nFailed, nUnknown)
	if testing.Verbose() {
		r.frontend.DumpOutput()
	}
}

// insertSwitch inserts one Logical_Switch named name and classifies the
// answer.
func insertSwitch(ctx context.Context, cl *jsonrpc.Client, name string) (outcome, error) {
	cctx, cancel := context.WithTimeout(ctx, e2etest.ClientTimeout)
	defer cancel()
	raw, err := cl.Call(cctx, "transact", "OVN_Northbound",
		map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": name}})
	if rpcErr, ok := errors.AsType[*jsonrpc.RPCError](err); ok {
		return failed, rpcErr
	}
	if err != nil {
		return unknown, err
	}
	return classify(raw)
}

// classify returns failed when any operation of a transact result failed
// (including a commit-time error appended at the end), else acked.
func classify(raw json.RawMessage) (outcome, error) {
	var res []map[string]any
	if err := json.Unmarshal(raw, &res); err != nil {
		return unknown, fmt.Errorf("decode %s: %w", raw, err)
	}
	for _, r := range res {
		if r != nil && r["error"] != nil {
			return failed, fmt.Errorf("transact error: %v", r)
		}
	}
	return acked, nil
}

// switchNamesInEtcd counts the Logical_Switch rows in etcd by name.
func switchNamesInEtcd(ctx context.Context, t *testing.T, cli *clientv3.Client) map[string]int {
	t.Helper()
	const tablePrefix = "ovsdb/default/OVN_Northbound/Logical_Switch/"
	resp, err := cli.Get(ctx, tablePrefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("etcd get %s: %v", tablePrefix, err)
	}
	counts := map[string]int{}
	for _, kv := range resp.Kvs {
		var row struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(kv.Value, &row); err != nil {
			t.Fatalf("etcd key %s: %v", kv.Key, err)
		}
		if strings.HasPrefix(row.Name, "c") {
			counts[row.Name]++
		}
	}
	return counts
}
