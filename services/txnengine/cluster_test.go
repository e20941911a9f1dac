package txnengine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
)

// TestEtcdLeaderLoss stops the raft leader of a 3-member etcd cluster
// while 8 writers transact. Commits in flight get lost answers, which the
// engine resolves from etcd: every acknowledged row is in etcd exactly
// once, no row answered "not executed" is there, and writers continue.
func TestEtcdLeaderLoss(t *testing.T) {
	c := etcdtest.NewCluster(t, 3)
	cli := c.Client(t)
	cfg := testConfig(t, cli, writeSchema(t, t.TempDir(), "1.0.0"), "unix:unused")
	cfg.CommitTimeout = 3 * time.Second
	e := newTestEngine(t, cfg, false)
	waitLeader(t, e.Engine)

	const writers, each = 8, 30
	type outcome int
	const (
		acked outcome = iota
		notRun
		unknown
	)
	var (
		mu       sync.Mutex // mu guards outcomes
		outcomes = map[string]outcome{}
		acks     atomic.Int64
		wg       sync.WaitGroup
	)
	halfway := make(chan struct{})
	var halfOnce sync.Once
	stopped := make(chan struct{})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for w := range writers {
		wg.Go(func() {
			for n := range each {
				name := fmt.Sprintf("w%d-%02d", w, n)
				o := unknown
				for attempt := 0; attempt < 20 && ctx.Err() == nil; attempt++ {
					data := fmt.Appendf(nil, `[{"op":"insert","table":"T","row":{"name":%q}}]`, name)
					resp, err := e.Transact(ctx, Request{Database: "Test", Operations: data})
					if err == nil {
						if strings.Contains(string(resp.Result), `"error"`) {
							t.Errorf("%s: %s", name, resp.Result)
						}
						o = acked
						break
					}
					if _, ok := notExecuted(toStatus(err)); !ok {
						t.Logf("%s: outcome unknown: %v", name, err)
						o = unknown
						break
					}
					o = notRun
					wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
					_ = e.WaitLeader(wctx)
					wcancel()
				}
				mu.Lock()
				outcomes[name] = o
				mu.Unlock()
				if o == acked && acks.Add(1) == writers*each/3 {
					halfOnce.Do(func() { close(halfway) })
				}
				if n == each/2 {
					select {
					case <-stopped:
					case <-ctx.Done():
						return
					}
				}
			}
		})
	}
	select {
	case <-halfway:
	case <-ctx.Done():
		t.Fatal("writers made no progress")
	}
	l := c.Leader()
	if l == nil {
		t.Fatal("no etcd leader")
	}
	ackedAtStop := acks.Load()
	l.Stop()
	t.Logf("stopped etcd leader %s after %d acknowledged transactions", l.Name(), ackedAtStop)
	close(stopped)
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("writers did not finish")
	}
	if acks.Load() <= ackedAtStop {
		t.Errorf("no transaction acknowledged after the etcd leader stopped")
	}
	counts := etcdNames(t, cli)
	mu.Lock()
	defer mu.Unlock()
	stats := map[outcome]int{}
	for name, o := range outcomes {
		stats[o]++
		switch {
		case o == acked && counts[name] != 1:
			t.Errorf("acknowledged %s is in etcd %d times", name, counts[name])
		case o == notRun && counts[name] != 0:
			t.Errorf("%s answered not executed but is in etcd %d times", name, counts[name])
		case counts[name] > 1:
			t.Errorf("%s is in etcd %d times", name, counts[name])
		}
	}
	t.Logf("acked %d, not executed %d, unknown %d", stats[acked], stats[notRun], stats[unknown])
}
