package txnengine

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	txnenginev1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/txnengine/v1"
)

// TestClientRetriesUnreachableLeader: the election names a leader whose
// socket does not exist (a dead process); the client's dial fails before
// anything was sent, so it retries and reaches the engine that takes
// over once the dead leader's lease is gone.
func TestClientRetriesUnreachableLeader(t *testing.T) {
	etcd := startEtcd(t)
	cli := etcd.client(t)
	dir := t.TempDir()
	dead := "unix:" + filepath.Join(dir, "dead.sock")

	lease, err := cli.Grant(t.Context(), 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, perr := cli.Put(t.Context(), keys.Default().Election()+"/dead", dead, clientv3.WithLease(lease.ID)); perr != nil {
		t.Fatal(perr)
	}
	e := newTestEngine(t, testConfig(t, cli, writeSchema(t, dir, "1.0.0"), "unix:"+filepath.Join(dir, "live.sock")), true)

	var once sync.Once
	triedDead := make(chan struct{})
	cfg := NewClientConfig()
	cfg.DialOptions = []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		if strings.HasSuffix(addr, "dead.sock") {
			once.Do(func() { close(triedDead) })
		}
		addr = strings.TrimPrefix(strings.TrimPrefix(addr, "unix://"), "unix:")
		var d net.Dialer
		return d.DialContext(ctx, "unix", addr)
	})}
	c, err := NewClient(t.Context(), cli, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	type result struct {
		resp *txnenginev1.TransactResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.Transact(t.Context(), &txnenginev1.TransactRequest{
			Database: "Test", Operations: []byte(`[{"op":"insert","table":"T","row":{"name":"r"}}]`)})
		done <- result{resp, err}
	}()
	select {
	case <-triedDead:
	case <-time.After(testTimeout):
		t.Fatal("client never dialled the dead leader")
	}
	if _, err := cli.Revoke(t.Context(), lease.ID); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, e.Engine)
	res := <-done
	if res.err != nil {
		t.Fatalf("Transact: %v", res.err)
	}
	if got := etcdNames(t, cli); got["r"] != 1 {
		t.Errorf("etcd rows %v, want r once", got)
	}
}

func TestNotExecutedClassification(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{name: "not leader", err: &notLeaderError{leader: "x"}, want: true},
		{name: "leadership lost", err: ErrLeadershipLost, want: true},
		{name: "not committed", err: ErrNotCommitted, want: true},
		{name: "not committed after a timeout", err: fmt.Errorf("%w: %w", ErrNotCommitted, context.DeadlineExceeded), want: true},
		{name: "leadership lost on close", err: fmt.Errorf("%w: %w", ErrLeadershipLost, context.Canceled), want: true},
		{name: "outcome unknown", err: ErrOutcomeUnknown, want: false},
		{name: "overloaded", err: ErrOverloaded, want: false},
		{name: "cancelled", err: context.Canceled, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := notExecuted(toStatus(tc.err)); got != tc.want {
				t.Errorf("notExecuted(%v) = %v, want %v", toStatus(tc.err), got, tc.want)
			}
		})
	}
}
