package txnengine

import (
	"context"
	"fmt"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
)

// pinnedEndpoint returns the endpoint commits are pinned to, or "".
func pinnedEndpoint(e *Engine) string {
	e.pin.mu.Lock()
	defer e.pin.mu.Unlock()
	if e.pin.cur == nil {
		return ""
	}
	return e.pin.cur.endpoint
}

// TestCommitsFollowEtcdLeader checks that batch commits are pinned to the
// etcd raft leader, and that the pin follows a leadership transfer while
// every transaction is acknowledged exactly once.
func TestCommitsFollowEtcdLeader(t *testing.T) {
	c := etcdtest.NewCluster(t, 3)
	cli := c.Client(t)
	e := newTestEngine(t, testConfig(t, cli, writeSchema(t, t.TempDir(), "1.0.0"), "unix:unused"), false)
	waitLeader(t, e.Engine)
	if e.pin == nil {
		t.Fatal("no leader pin with 3 endpoints")
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	next := func() {
		mustTransact(t, e.Engine, insertOp(fmt.Sprintf("r%d", n), n))
		n++
	}
	next()
	eventually(t, "pin to the etcd leader", func() bool { return pinnedEndpoint(e.Engine) == leader.Endpoint() })

	// Hand etcd leadership to another member: the pin follows.
	var to *etcdtest.Member
	for _, m := range c.Members() {
		if m != leader {
			to = m
			break
		}
	}
	st, err := cli.Status(ctx, to.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Client(t).MoveLeader(ctx, st.Header.MemberId); err != nil {
		t.Fatalf("move etcd leader: %v", err)
	}
	eventually(t, "pin follows the new etcd leader", func() bool {
		next()
		return pinnedEndpoint(e.Engine) == to.Endpoint()
	})
	next()
	if got := etcdNames(t, cli); len(got) != n {
		t.Fatalf("%d rows in etcd after %d acknowledged inserts: %v", len(got), n, got)
	}
	for name, count := range etcdNames(t, cli) {
		if count != 1 {
			t.Errorf("row %q stored %d times", name, count)
		}
	}
}
