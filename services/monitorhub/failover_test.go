package monitorhub

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
)

// TestEtcdLeaderLossNoGapNoDuplicate stops the etcd leader under a hub
// on a 3-member cluster while writes go on, then restarts it: the hub's
// watch follows, and a subscriber sees every revision that changed a row
// exactly once, in order, ending equal to etcd.
func TestEtcdLeaderLossNoGapNoDuplicate(t *testing.T) {
	c := etcdtest.NewCluster(t, 3)
	e := &env{t: t, c: c, cli: c.Client(t)}
	e.createDB("NB")
	start := e.putRow("NB", "T", newUUID(), `{}`)
	sock := sockPath(t)
	serveHub(t, testConfig(), c.Client(t), sock)

	rep := newReplica()
	r := newRecorder()
	var mu sync.Mutex
	var repErr error
	subscribe(t, dial(t, sock), "NB", func(ev Event) error {
		mu.Lock()
		if err := rep.apply(ev); err != nil && repErr == nil {
			repErr = err
		}
		mu.Unlock()
		return r.fn(ev)
	})
	r.waitRev(t, start)
	write := func(i int) int64 {
		ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
		defer cancel()
		for {
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			resp, err := e.cli.Put(rctx, rowKeyOf("NB", "T", newUUID()), fmt.Sprintf(`{"i":%d}`, i))
			rcancel()
			if err == nil {
				return resp.Header.Revision
			}
			if ctx.Err() != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
	}
	for i := range 5 {
		write(i)
	}
	leader, err := c.WaitLeader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	leader.Stop()
	for i := 5; i < 10; i++ {
		write(i)
	}
	if err := leader.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	var last int64
	for i := 10; i < 15; i++ {
		last = write(i)
	}
	r.waitRev(t, last)

	mu.Lock()
	defer mu.Unlock()
	if repErr != nil {
		t.Fatal(repErr)
	}
	if want := e.rowRevisions("NB", start, last); !slices.Equal(rep.updates, want) {
		t.Fatalf("updates %v, want the revisions etcd holds %v", rep.updates, want)
	}
	assertRows(t, rep.rows, e.etcdRows())
}

// rowRevisions replays etcd's history of db in (from, to] and returns the
// revisions that changed a row.
func (e *env) rowRevisions(db string, from, to int64) []int64 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), testTimeout)
	defer cancel()
	var revs []int64
	for resp := range e.cli.Watch(ctx, testLayout.DB(db), withPrefix(), withRev(from+1)) {
		if err := resp.Err(); err != nil {
			e.t.Fatal(err)
		}
		for _, ev := range resp.Events {
			rev := ev.Kv.ModRevision
			if rev > to {
				return revs
			}
			if _, _, ok := rowKey(testLayout, db, string(ev.Kv.Key)); ok && (len(revs) == 0 || revs[len(revs)-1] != rev) {
				revs = append(revs, rev)
			}
			if rev == to {
				return revs
			}
		}
	}
	e.t.Fatalf("history of %s up to %d not replayed", db, to)
	return nil
}
