package monitorhub

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestCompactionUnderTheHubResyncs cuts the hub off etcd (through a
// proxy), changes and compacts the database meanwhile, then breaks the
// hub's connection so that its watch resumes at a compacted revision. The
// hub must re-read the database and publish the difference: the
// subscriber's replica ends equal to etcd, and every change's old value
// matches what the replica held (nothing missed, nothing twice).
func TestCompactionUnderTheHubResyncs(t *testing.T) {
	c := etcdtest.NewServer(t)
	e := &env{t: t, c: c, cli: c.Client(t)}
	p := etcdtest.NewProxy(t, c.Member(0))
	hubCli, err := clientv3.New(c.ClientConfig(p.Endpoint()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hubCli.Close() })

	e.createDB("NB")
	a, b := newUUID(), newUUID()
	e.putRow("NB", "T", a, `{"v":"a"}`)
	e.putRow("NB", "T", b, `{"v":"b"}`)
	sock := sockPath(t)
	g := serveHub(t, testConfig(), hubCli, sock)
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
	r.waitRev(t, 1)
	before := e.putRow("NB", "T", a, `{"v":"a1"}`)
	r.waitRev(t, before)

	p.BlackholeRx()
	e.putRow("NB", "T", a, `{"v":"a2"}`)
	e.deleteRow("NB", "T", b)
	for i := range 5 {
		e.putRow("NB", "T", newUUID(), fmt.Sprintf(`{"v":%d}`, i))
	}
	rev := e.put(testLayout.Comment("NB", time.Now(), 0), "c")
	if _, err := e.cli.Compact(t.Context(), rev, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	// Replace the blackhole by garbage, which breaks the HTTP/2 framing
	// of the hub's connection; it reconnects and its watch resumes at a
	// compacted revision.
	corrupted := make(chan struct{})
	var once sync.Once
	p.ModifyRx(func([]byte) []byte {
		once.Do(func() { close(corrupted) })
		return bytes.Repeat([]byte{0xff}, 64<<10)
	})
	select {
	case <-corrupted:
	case <-time.After(testTimeout):
		t.Fatal("no traffic from etcd to corrupt")
	}
	p.UnmodifyRx()

	r.waitRev(t, rev)
	after := e.putRow("NB", "T", a, `{"v":"a3"}`)
	r.waitRev(t, after)
	mu.Lock()
	defer mu.Unlock()
	if repErr != nil {
		t.Fatal(repErr)
	}
	if n := counterValue(g.h.metrics.resyncs.WithLabelValues("NB")); n < 1 {
		t.Fatalf("resyncs = %v, want >= 1", n)
	}
	if rep.snapshots != 1 {
		t.Fatalf("%d snapshots, want 1: the resync reaches subscribers as an update", rep.snapshots)
	}
	assertRows(t, rep.rows, e.etcdRows())
}

// TestStartAfterCompaction starts a hub whose history rebuild reaches
// below etcd's compaction: it rebuilds from the oldest revision left, and
// a resume point below that gets a snapshot.
func TestStartAfterCompaction(t *testing.T) {
	e := newEnv(t)
	e.createDB("NB")
	id := newUUID()
	var revs []int64
	for i := range 10 {
		revs = append(revs, e.putRow("NB", "T", id, fmt.Sprintf(`{"i":%d}`, i)))
	}
	if _, err := e.cli.Compact(t.Context(), revs[5]); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, testConfig(), e.cli)
	tests := []struct {
		name     string
		from     int64
		snapshot bool
		want     []int64
	}{
		{name: "at the compaction", from: revs[5], want: revs[6:]},
		{name: "after it", from: revs[7], want: revs[8:]},
		{name: "below it", from: revs[3], snapshot: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &fakeSender{}
			runServe(t, h, tc.from, s)
			s.waitRev(t, revs[9])
			if got := s.snapshotRev() != 0; got != tc.snapshot {
				t.Fatalf("snapshot sent: %v, want %v", got, tc.snapshot)
			}
			var got []int64
			for _, u := range s.updatesAt() {
				got = append(got, u.Rev)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("updates %v, want %v", got, tc.want)
			}
		})
	}
	if st := h.Status(); st[0].OldestRev != revs[5] {
		t.Fatalf("oldest revision %d, want the compaction revision %d", st[0].OldestRev, revs[5])
	}
}
