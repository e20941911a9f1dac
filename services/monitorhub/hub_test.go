package monitorhub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	monitorhubv1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/monitorhub/v1"
	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestSnapshotThenUpdates(t *testing.T) {
	e := newEnv(t)
	e.createDB("NB")
	a, b, c := newUUID(), newUUID(), newUUID()
	e.putRow("NB", "Logical_Switch", a, `{"name":"a"}`)
	e.putRow("NB", "ACL", b, `{"name":"b"}`)
	e.put(testLayout.Comment("NB", time.Now(), 0), "hello")
	rev0 := e.putRow("NB", "Logical_Switch", c, `{"name":"c"}`)

	sock := sockPath(t)
	serveHub(t, testConfig(), e.cli, sock)
	r := newRecorder()
	subscribe(t, dial(t, sock), "NB", r.fn)
	r.waitRev(t, rev0)

	ins := e.putRow("NB", "ACL", newUUID(), `{"name":"d"}`)
	mod := e.putRow("NB", "Logical_Switch", a, `{"name":"a2"}`)
	del := e.deleteRow("NB", "ACL", b)
	r.waitRev(t, del)

	evs := r.snapshotEvents()
	if evs[0].Kind != EventSnapshot || !evs[0].Last || evs[0].Rev < rev0 {
		t.Fatalf("first event = %+v, want the snapshot at >= %d", evs[0], rev0)
	}
	if len(evs[0].Rows) != 3 {
		t.Fatalf("snapshot has %d rows, want 3 (comments are not rows)", len(evs[0].Rows))
	}
	rep := newReplica()
	for _, ev := range evs {
		if err := rep.apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(rep.updates, []int64{ins, mod, del}) {
		t.Fatalf("update revisions %v, want %v", rep.updates, []int64{ins, mod, del})
	}
	assertRows(t, rep.rows, e.etcdRows())
}

func TestEtcdTxnIsOneUpdate(t *testing.T) {
	e := newEnv(t)
	e.createDB("NB")
	old := newUUID()
	e.putRow("NB", "ACL", old, `{"x":1}`)
	h := startHub(t, testConfig(), e.cli)
	rec := &fakeSender{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.serve(ctx, "NB", 0, rec) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("serve: %v", err)
		}
	}()
	rec.waitSnapshot(t)

	tests := []struct {
		name        string
		ops         []clientv3.Op
		wantChanges int // 0: no update, only progress
	}{
		{
			name: "puts in two tables and a delete",
			ops: []clientv3.Op{
				clientv3.OpPut(rowKeyOf("NB", "Logical_Switch", newUUID()), `{"a":1}`),
				clientv3.OpPut(rowKeyOf("NB", "Logical_Switch", newUUID()), `{"a":2}`),
				clientv3.OpPut(rowKeyOf("NB", "ACL", newUUID()), `{"a":3}`),
				clientv3.OpDelete(rowKeyOf("NB", "ACL", old)),
				clientv3.OpPut(testLayout.Comment("NB", time.Now(), 0), "comment"),
			},
			wantChanges: 4,
		},
		{
			name:        "comment only",
			ops:         []clientv3.Op{clientv3.OpPut(testLayout.Comment("NB", time.Now(), 1), "c")},
			wantChanges: 0,
		},
		{
			name:        "other database",
			ops:         []clientv3.Op{clientv3.OpPut(rowKeyOf("SB", "Chassis", newUUID()), `{}`)},
			wantChanges: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.updatesAt())
			rev := e.txn(tc.ops...)
			rec.waitRev(t, rev)
			ups := rec.updatesAt()[before:]
			if tc.wantChanges == 0 {
				if len(ups) != 0 {
					t.Fatalf("got %d updates, want none", len(ups))
				}
				return
			}
			if len(ups) != 1 || ups[0].Rev != rev || ups[0].Len() != tc.wantChanges {
				t.Fatalf("got updates %+v, want one at %d with %d changes", ups, rev, tc.wantChanges)
			}
		})
	}
}

func TestResumeFromHistory(t *testing.T) {
	e := newEnv(t)
	e.createDB("NB")
	cfg := testConfig()
	cfg.HistoryMaxTxns = 5
	h := startHub(t, cfg, e.cli)
	first := &fakeSender{}
	runServe(t, h, 0, first)
	first.waitSnapshot(t)
	id := newUUID()
	var revs []int64
	for i := range 8 {
		revs = append(revs, e.putRow("NB", "T", id, fmt.Sprintf(`{"i":%d}`, i)))
	}
	first.waitRev(t, revs[7])

	tests := []struct {
		name     string
		from     int64
		snapshot bool
		want     []int64
	}{
		{name: "inside the window", from: revs[4], want: revs[5:]},
		{name: "oldest resumable", from: revs[2], want: revs[3:]},
		{name: "newest", from: revs[7], want: nil},
		{name: "too old", from: revs[1], snapshot: true},
		{name: "past etcd", from: 1 << 40, snapshot: true},
		{name: "zero", from: 0, snapshot: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &fakeSender{}
			runServe(t, h, tc.from, s)
			if tc.snapshot {
				s.waitSnapshot(t)
				if got := s.snapshotRev(); got < revs[7] {
					t.Fatalf("snapshot at %d, want >= %d", got, revs[7])
				}
				if len(s.rows) != 1 || string(s.rows[0].Value) != `{"i":7}` {
					t.Fatalf("snapshot rows %+v, want the last value", s.rows)
				}
			}
			// A later write elsewhere, seen as progress, proves that
			// nothing else was sent before it.
			last := e.putRow("SB", "Other", newUUID(), `{}`)
			s.waitRev(t, last)
			var got []int64
			for _, u := range s.updatesAt() {
				got = append(got, u.Rev)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("replayed %v, want %v", got, tc.want)
			}
			if !tc.snapshot && s.snapshotRev() != 0 {
				t.Fatal("resume inside the window sent a snapshot")
			}
		})
	}
	st := h.Status()
	if len(st) != 1 || st[0].OldestRev < revs[2] || st[0].HistoryUpdates != 5 {
		t.Fatalf("Status = %+v", st)
	}
}

func TestUnknownDatabase(t *testing.T) {
	e := newEnv(t)
	c := hubClient(t, e.cli)
	for _, tc := range []struct {
		name string
		db   string
		code codes.Code
	}{
		{name: "missing", db: "nope", code: codes.NotFound},
		{name: "reserved", db: "_", code: codes.InvalidArgument},
		{name: "slash", db: "a/b", code: codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Subscribe(t.Context(), tc.db, 0, func(Event) error { return nil })
			if status.Code(errors.Unwrap(err)) != tc.code && status.Code(err) != tc.code {
				t.Fatalf("Subscribe = %v, want %v", err, tc.code)
			}
		})
	}
}

func TestDiscoversNewDatabases(t *testing.T) {
	e := newEnv(t)
	e.put(testLayout.Lock("ovn_northd"), "x")
	h := startHub(t, testConfig(), e.cli)
	e.createDB("SB")
	e.createDB("NB")
	e.putRow("IC", "T", newUUID(), `{}`) // rows without a schema: not a database
	waitFor(t, "both databases", func() bool { return slices.Equal(h.Databases(), []string{"NB", "SB"}) })
	waitFor(t, "two watches", func() bool { return gaugeValue(h.metrics.etcdWatches) == 2 })
}

func TestProgressAdvancesIdleDatabase(t *testing.T) {
	e := newEnv(t)
	e.createDB("NB")
	e.createDB("SB")
	sock := sockPath(t)
	serveHub(t, testConfig(), e.cli, sock)
	r := newRecorder()
	subscribe(t, dial(t, sock), "NB", r.fn)
	r.waitRev(t, 1) // the snapshot
	var rev int64
	for range 3 {
		rev = e.putRow("SB", "Chassis", newUUID(), `{}`)
	}
	r.waitRev(t, rev)
	if ups := r.updates(); len(ups) != 0 {
		t.Fatalf("idle database got updates %+v", ups)
	}
	if evs := r.snapshotEvents(); evs[len(evs)-1].Kind != EventProgress {
		t.Fatalf("last event %+v, want progress", evs[len(evs)-1])
	}
}

func TestOneEtcdWatchPerDatabase(t *testing.T) {
	e := newEnv(t)
	dbs := []string{"NB", "SB"}
	for _, db := range dbs {
		e.createDB(db)
	}
	reg := prometheus.NewRegistry()
	cfg := testConfig()
	cfg.Registerer = reg
	sock := sockPath(t)
	g := serveHub(t, cfg, e.cli, sock)
	conn := dial(t, sock)
	const subscribers = 50
	recs := make([]*recorder, subscribers)
	for i := range recs {
		recs[i] = newRecorder()
		subscribe(t, conn, dbs[i%2], recs[i].fn)
	}
	for _, r := range recs {
		r.waitRev(t, 1) // the snapshot
	}
	revs := map[string]int64{}
	for _, db := range dbs {
		revs[db] = e.putRow(db, "T", newUUID(), `{}`)
	}
	for i, r := range recs {
		r.waitRev(t, revs[dbs[i%2]])
		if len(r.updates()) == 0 {
			t.Fatalf("subscriber %d got no update", i)
		}
	}
	if got := gaugeValue(g.h.metrics.etcdWatches); got != float64(len(dbs)) {
		t.Fatalf("etcd watches = %v, want %d", got, len(dbs))
	}
	if got := gathered(t, reg, "ovsdb_etcd_monitorhub_etcd_watches"); got != float64(len(dbs)) {
		t.Fatalf("gathered ovsdb_etcd_monitorhub_etcd_watches = %v, want %d", got, len(dbs))
	}
	st, err := monitorhubv1.NewMonitorHubServiceClient(conn).Status(t.Context(), &monitorhubv1.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.GetDatabases()) != len(dbs) {
		t.Fatalf("Status = %v", st)
	}
	for i, ds := range st.GetDatabases() {
		if ds.GetDatabase() != dbs[i] || ds.GetRevision() < revs[dbs[i]] || ds.GetOldestRevision() > ds.GetRevision() {
			t.Fatalf("Status database %d = %v", i, ds)
		}
	}
	waitFor(t, "subscriber gauge", func() bool {
		return gaugeValue(g.h.metrics.subscribers.WithLabelValues("NB"))+
			gaugeValue(g.h.metrics.subscribers.WithLabelValues("SB")) == subscribers
	})
}

// TestHubRestartNoGapNoDuplicate restarts the hub under a subscribed
// client while transactions continue: the client resumes from the last
// revision it delivered, and the new hub, which rebuilt its history from
// etcd, replays exactly the missed updates without a second snapshot.
func TestHubRestartNoGapNoDuplicate(t *testing.T) {
	e := newEnv(t)
	e.createDB("NB")
	sock := sockPath(t)
	g1 := serveHub(t, testConfig(), e.cli, sock)
	rep := newReplica()
	r := newRecorder()
	errc := make(chan error, 1)
	fn := func(ev Event) error {
		if err := rep.apply(ev); err != nil {
			select {
			case errc <- err:
			default:
			}
		}
		return r.fn(ev)
	}
	subscribe(t, dial(t, sock), "NB", fn)
	r.waitRev(t, 1) // the snapshot
	ids := []string{newUUID(), newUUID(), newUUID()}
	var want []int64
	write := func(n int) int64 {
		for i := range n {
			want = append(want, e.putRow("NB", "T", ids[i%3], fmt.Sprintf(`{"n":%d}`, len(want))))
		}
		return want[len(want)-1]
	}
	r.waitRev(t, write(5))
	g1.stop()
	write(5)
	serveHub(t, testConfig(), e.cli, sock)
	last := write(5)
	last = max(last, e.deleteRow("NB", "T", ids[0]))
	want = append(want, last)
	r.waitRev(t, last)
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	if rep.snapshots != 1 {
		t.Fatalf("%d snapshots, want 1 (the resume must come from the history)", rep.snapshots)
	}
	if !slices.Equal(rep.updates, want) {
		t.Fatalf("updates %v, want %v", rep.updates, want)
	}
	assertRows(t, rep.rows, e.etcdRows())
}

// TestReadyWithoutProgress: a hub that rebuilds its history is ready as
// soon as the replay reaches the database's newest key, without waiting
// for a progress notification.
func TestReadyWithoutProgress(t *testing.T) {
	e := newEnv(t)
	e.createDB("NB")
	id := newUUID()
	last := e.putRow("NB", "T", id, `{"v":1}`)
	e.putRow("SB", "T", newUUID(), `{}`) // a later revision elsewhere
	cfg := testConfig()
	cfg.ProgressInterval = time.Hour
	h := startHub(t, cfg, e.cli)
	s := &fakeSender{}
	runServe(t, h, 0, s)
	s.waitSnapshot(t)
	if s.snapshotRev() < last || len(s.rows) != 1 {
		t.Fatalf("snapshot at %d with %d rows, want >= %d with 1", s.snapshotRev(), len(s.rows), last)
	}
}

// TestLargeTxnIsOneUpdate: a 10,000-row, 8 MiB etcd Txn (ovn-northd's
// first sync) reaches a gRPC subscriber as one update.
func TestLargeTxnIsOneUpdate(t *testing.T) {
	e := newEnv(t)
	e.createDB("NB")
	sock := sockPath(t)
	serveHub(t, testConfig(), e.cli, sock)
	r := newRecorder()
	subscribe(t, dial(t, sock), "NB", r.fn)
	r.waitRev(t, 1)
	const rows = 10000
	val := `{"pad":"` + strings.Repeat("x", 830) + `"}`
	ops := make([]clientv3.Op, rows)
	for i := range ops {
		ops[i] = clientv3.OpPut(rowKeyOf("NB", "Logical_Switch_Port", newUUID()), val)
	}
	rev := e.txn(ops...)
	r.waitRev(t, rev)
	ups := r.updates()
	if len(ups) != 1 || ups[0].Rev != rev || len(ups[0].Changes) != rows {
		t.Fatalf("got %d updates, want one at %d with %d changes", len(ups), rev, rows)
	}
}
