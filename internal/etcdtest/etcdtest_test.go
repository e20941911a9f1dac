package etcdtest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
)

func TestMain(m *testing.M) {
	etcdtest.VerifyTestMain(m)
}

const testTimeout = 60 * time.Second

func put(ctx context.Context, t *testing.T, cli *clientv3.Client, key, val string) int64 {
	t.Helper()
	resp, err := cli.Put(ctx, key, val)
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	return resp.Header.Revision
}

func get(ctx context.Context, t *testing.T, cli *clientv3.Client, key string) string {
	t.Helper()
	resp, err := cli.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	if len(resp.Kvs) != 1 {
		t.Fatalf("get %q: %d keys", key, len(resp.Kvs))
	}
	return string(resp.Kvs[0].Value)
}

func TestServerLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	c := etcdtest.NewServer(t)
	if got := len(c.Endpoints()); got != 1 {
		t.Fatalf("Endpoints() has %d entries, want 1", got)
	}
	if !strings.HasPrefix(c.Endpoints()[0], "unix:///") {
		t.Errorf("Endpoints()[0] = %q, want a unix socket", c.Endpoints()[0])
	}
	cli := c.Client(t)
	put(ctx, t, cli, "k", "v")
	if got := get(ctx, t, cli, "k"); got != "v" {
		t.Errorf("get k = %q, want v", got)
	}

	tests := []struct {
		name string
		ops  int
		size int
	}{
		// etcd's defaults are 128 ops and 1.5 MiB per request.
		{name: "many ops", ops: 10_000, size: 10},
		{name: "large request", ops: 4, size: 2 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			val := strings.Repeat("x", tc.size)
			ops := make([]clientv3.Op, tc.ops)
			for i := range ops {
				ops[i] = clientv3.OpPut(fmt.Sprintf("%s/%06d", tc.name, i), val)
			}
			if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
				t.Fatalf("txn of %d ops of %d bytes: %v", tc.ops, tc.size, err)
			}
			resp, err := cli.Get(ctx, tc.name+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
			if err != nil {
				t.Fatal(err)
			}
			if resp.Count != int64(tc.ops) {
				t.Errorf("count = %d, want %d", resp.Count, tc.ops)
			}
		})
	}
}

func TestOptionsLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	c := etcdtest.NewServer(t, etcdtest.WithMaxTxnOps(4), etcdtest.WithMaxRequestBytes(64<<10))
	cli := c.Client(t)
	tests := []struct {
		name string
		ops  int
		size int
	}{
		{name: "too many ops", ops: 5, size: 1},
		{name: "too large", ops: 1, size: 128 << 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ops := make([]clientv3.Op, tc.ops)
			for i := range ops {
				ops[i] = clientv3.OpPut(fmt.Sprint(i), strings.Repeat("y", tc.size))
			}
			_, err := cli.Txn(ctx).Then(ops...).Commit()
			if !etcdtest.IsTooLarge(err) {
				t.Errorf("txn error = %v, want too many ops / request too large", err)
			}
		})
	}
}

func TestClusterStopRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*testTimeout)
	defer cancel()
	c := etcdtest.NewCluster(t, 3)
	cli := c.Client(t)
	put(ctx, t, cli, "before", "1")

	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader.Stop()
	leader.Stop() // idempotent
	if leader.Running() {
		t.Fatal("stopped leader still running")
	}
	next, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next == leader {
		t.Fatal("stopped member is still the leader")
	}
	// The client fails over to a running member.
	rev := put(ctx, t, cli, "during", "2")

	if err = next.Restart(ctx); err == nil {
		t.Error("Restart of a running member succeeded")
	}
	if err = leader.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// The restarted member catches up: a linearizable read through it
	// sees the write it missed.
	mcli := leader.Client(t)
	if got := get(ctx, t, mcli, "during"); got != "2" {
		t.Errorf("restarted member: during = %q, want 2", got)
	}
	resp, err := mcli.Get(ctx, "before")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Revision < rev {
		t.Errorf("restarted member at revision %d, want >= %d", resp.Header.Revision, rev)
	}
}

func TestProxyDropsResponses(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	c := etcdtest.NewServer(t)
	direct := c.Client(t)
	p := etcdtest.NewProxy(t, c.Member(0))
	cli, err := clientv3.New(c.ClientConfig(p.Endpoint()))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	put(ctx, t, cli, "through", "proxy")

	// A put whose response is dropped applies but never returns. Wait
	// for it to apply (watched directly) before cancelling it: cancelled
	// earlier, on a slow machine, it may be aborted before etcd proposes
	// it.
	p.BlackholeRx()
	wctx, cancelWatch := context.WithCancel(ctx)
	defer cancelWatch()
	applied := direct.Watch(wctx, "lost")
	putCtx, cancelPut := context.WithCancel(ctx)
	defer cancelPut()
	putErr := make(chan error, 1)
	go func() {
		_, err := cli.Put(putCtx, "lost", "reply")
		putErr <- err
	}()
	select {
	case wresp := <-applied:
		if err := wresp.Err(); err != nil || len(wresp.Events) != 1 || string(wresp.Events[0].Kv.Value) != "reply" {
			t.Fatalf("watch of lost: %v %v", wresp.Events, err)
		}
	case err := <-putErr:
		t.Fatalf("put through a blackholed proxy returned %v before it applied", err)
	case <-ctx.Done():
		t.Fatal("put through a blackholed proxy never applied")
	}
	cancelWatch()
	select {
	case err := <-putErr:
		t.Fatalf("put through a blackholed proxy returned %v", err)
	default:
	}
	cancelPut()
	if err := <-putErr; err == nil {
		t.Fatal("put through a blackholed proxy returned")
	}

	// Once the proxy forwards again the client recovers (it may have to
	// drop the broken connection and dial again).
	p.UnblackholeRx()
	for {
		try, cancelTry := context.WithTimeout(ctx, 2*time.Second)
		_, err := cli.Put(try, "after", "ok")
		cancelTry()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("client did not recover through the proxy: %v", err)
		}
	}
	if got := get(ctx, t, cli, "after"); got != "ok" {
		t.Errorf("after = %q, want ok", got)
	}
	if err := cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("close client: %v", err)
	}
	p.Close()
	p.Close() // idempotent
}
