package txnengine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	txnenginev1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/txnengine/v1"
)

// streamSetup starts an engine that serves gRPC and leads, and a Client;
// they stop at cleanup.
func streamSetup(t *testing.T) (*testEngine, *clientv3.Client, *Client) {
	t.Helper()
	etcd := startEtcd(t)
	cli := etcd.client(t)
	dir := t.TempDir()
	e := newTestEngine(t, testConfig(t, cli, writeSchema(t, dir, "1.0.0"), "unix:"+filepath.Join(dir, "te.sock")), true)
	waitLeader(t, e.Engine)
	c, err := NewClient(t.Context(), cli, NewClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return e, cli, c
}

// TestStreamSharedAndConcurrent: concurrent transactions of one Client
// share one TransactStream, each gets its own answer, and each commits
// once.
func TestStreamSharedAndConcurrent(t *testing.T) {
	_, cli, c := streamSetup(t)
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			resp, err := c.Transact(t.Context(), &txnenginev1.TransactRequest{Database: "Test",
				Operations: fmt.Appendf(nil, `[{"op":"insert","table":"T","row":{"name":"r%d","n":%d}}]`, i, i)})
			switch {
			case err != nil:
				errs <- err
			case !strings.Contains(string(resp.GetResult()), `"uuid"`) || resp.GetRevision() <= 0:
				errs <- fmt.Errorf("transaction %d: result %s at revision %d", i, resp.GetResult(), resp.GetRevision())
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := etcdNames(t, cli)
	for i := range n {
		if got[fmt.Sprintf("r%d", i)] != 1 {
			t.Errorf("row r%d stored %d times, want once", i, got[fmt.Sprintf("r%d", i)])
		}
	}
	c.streamMu.Lock()
	streams := len(c.streams)
	c.streamMu.Unlock()
	if streams != 1 {
		t.Errorf("%d transaction streams, want 1", streams)
	}
}

// TestStreamNotLeaderHint: a standby's NOT_LEADER answer keeps its
// details across the stream, so the client goes to the leader it names.
func TestStreamNotLeaderHint(t *testing.T) {
	e1, e2, c, cli := leaderAndStandby(t)
	// Point the client at the standby, as after a stale lookup.
	c.mu.Lock()
	c.leader = e2.addr
	c.mu.Unlock()
	cc, err := c.conn(e2.addr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.streamTransact(t.Context(), e2.addr, cc, &txnenginev1.TransactRequest{Database: "Test",
		Operations: []byte(`[{"op":"insert","table":"T","row":{"name":"no"}}]`)})
	if hint, ok := notExecuted(err); !ok || hint != e1.addr {
		t.Fatalf("standby over the stream: %v (hint %q), want NOT_LEADER naming %s", err, hint, e1.addr)
	}
	if _, err := c.Transact(t.Context(), &txnenginev1.TransactRequest{Database: "Test",
		Operations: []byte(`[{"op":"insert","table":"T","row":{"name":"yes"}}]`)}); err != nil {
		t.Fatalf("Transact after the standby's answer: %v", err)
	}
	if got := etcdNames(t, cli); got["yes"] != 1 || got["no"] != 0 {
		t.Errorf("etcd rows %v, want yes once and no never", got)
	}
}

// TestStreamCancel: cancelling a transaction's context over the stream
// cancels it on the engine (its parked wait goes), and the stream goes
// on serving others.
func TestStreamCancel(t *testing.T) {
	e, _, c := streamSetup(t)
	parked := func() float64 {
		return metric(t, e.reg, "ovsdb_etcd_txnengine_parked_waits").GetGauge().GetValue()
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Transact(ctx, &txnenginev1.TransactRequest{Database: "Test",
			Operations: []byte(`[{"op":"wait","table":"T","timeout":60000,"where":[["name","==","never"]],"columns":["name"],"until":"==","rows":[{"name":"never"}]}]`)})
		errc <- err
	}()
	eventually(t, "wait parked", func() bool { return parked() == 1 })
	cancel()
	if err := <-errc; status.Code(err) != codes.Canceled && !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled transaction: %v, want Canceled", err)
	}
	eventually(t, "wait unparked on the engine", func() bool { return parked() == 0 })
	if _, err := c.Transact(t.Context(), &txnenginev1.TransactRequest{Database: "Test",
		Operations: []byte(`[{"op":"insert","table":"T","row":{"name":"after"}}]`)}); err != nil {
		t.Fatalf("Transact after a cancel: %v", err)
	}
}

// TestStreamLargeBothWays: concurrent transactions whose requests and
// answers are far larger than HTTP/2's initial flow-control windows, in
// both directions at once, all complete on the one shared stream (no side
// may stop reading while it waits to send).
func TestStreamLargeBothWays(t *testing.T) {
	_, _, c := streamSetup(t)
	const (
		n    = 8
		size = 512 << 10
	)
	big := strings.Repeat("x", size)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			ops := fmt.Appendf(nil, `[{"op":"insert","table":"T","row":{"name":"big%d-%s"}},{"op":"select","table":"T","where":[]}]`, i, big)
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			resp, err := c.Transact(ctx, &txnenginev1.TransactRequest{Database: "Test", Operations: ops})
			switch {
			case err != nil:
				errs <- fmt.Errorf("transaction %d: %w", i, err)
			case len(resp.GetResult()) < size:
				errs <- fmt.Errorf("transaction %d: %d-byte result, want its own row back at least", i, len(resp.GetResult()))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
