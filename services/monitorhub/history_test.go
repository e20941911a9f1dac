package monitorhub

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// testDB builds a database with the given history, without etcd.
func testDB(t *testing.T, baseRev, rev int64, ups ...*Update) *database {
	t.Helper()
	cfg := testConfig()
	h := &Hub{cfg: cfg, layout: testLayout, log: cfg.logger()}
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	h.metrics = m
	d := &database{hub: h, name: "NB", prefix: testLayout.DB("NB"), log: h.log, ready: make(chan struct{}), rows: map[rowID][]byte{}, tables: map[string]string{}, subs: map[*subscriber]struct{}{}, baseRev: baseRev, rev: rev}
	for _, u := range ups {
		d.hist.push(u)
	}
	return d
}

func TestCanResume(t *testing.T) {
	ch := []Change{{Table: "T", UUID: "u", New: []byte("{}")}}
	// State known at [10, 20) (no change), 20..29, resync gap (30, 40),
	// 40..50.
	d := testDB(t, 10, 50,
		newUpdate(20, 12, ch, false),
		newUpdate(30, 25, ch, false),
		newUpdate(40, 30, ch, true),
		newUpdate(45, 40, ch, false),
	)
	tests := []struct {
		name string
		rev  int64
		want bool
	}{
		{name: "below the window", rev: 9, want: false},
		{name: "oldest", rev: 10, want: true},
		{name: "between updates", rev: 15, want: true},
		{name: "at an update", rev: 20, want: true},
		{name: "before a resync", rev: 30, want: true},
		{name: "inside a resync gap", rev: 35, want: false},
		{name: "at the resync", rev: 40, want: true},
		{name: "after the last update", rev: 47, want: true},
		{name: "current", rev: 50, want: true},
		{name: "future", rev: 90, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := d.canResumeLocked(tc.rev); got != tc.want {
				t.Fatalf("canResumeLocked(%d) = %v, want %v", tc.rev, got, tc.want)
			}
		})
	}
}

func TestHistoryWindowLimits(t *testing.T) {
	big := make([]byte, 1000)
	tests := []struct {
		name      string
		maxTxns   int
		maxBytes  int64
		pushes    int
		wantLen   int
		wantBase  int64
		wantFirst int64
	}{
		{name: "by count", maxTxns: 3, maxBytes: 1 << 30, pushes: 10, wantLen: 3, wantBase: 7, wantFirst: 8},
		{name: "by bytes", maxTxns: 100, maxBytes: 2500, pushes: 10, wantLen: 2, wantBase: 8, wantFirst: 9},
		{name: "newest kept over the byte limit", maxTxns: 100, maxBytes: 10, pushes: 4, wantLen: 1, wantBase: 3, wantFirst: 4},
		{name: "many, compacting the ring", maxTxns: 5, maxBytes: 1 << 30, pushes: 5000, wantLen: 5, wantBase: 4995, wantFirst: 4996},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := testDB(t, 0, 0)
			d.hub.cfg.HistoryMaxTxns, d.hub.cfg.HistoryMaxBytes = tc.maxTxns, tc.maxBytes
			for i := 1; i <= tc.pushes; i++ {
				d.pushLocked(newUpdate(int64(i), int64(i-1), []Change{{Table: "T", UUID: "u", New: big}}, false))
			}
			if d.hist.len() != tc.wantLen || d.baseRev != tc.wantBase || d.hist.firstAfter(0).Rev != tc.wantFirst {
				t.Fatalf("len %d base %d first %d, want %d %d %d", d.hist.len(), d.baseRev, d.hist.firstAfter(0).Rev, tc.wantLen, tc.wantBase, tc.wantFirst)
			}
			var revs []int64
			for _, u := range d.hist.after(tc.wantBase, 100) {
				revs = append(revs, u.Rev)
			}
			if len(revs) != tc.wantLen || !slices.IsSorted(revs) || d.hist.countAfter(tc.wantBase) != tc.wantLen {
				t.Fatalf("after(%d) = %v", tc.wantBase, revs)
			}
			if len(d.hist.entries) > 2*tc.maxTxns+1024 {
				t.Fatalf("ring holds %d slots for %d updates", len(d.hist.entries), d.hist.len())
			}
		})
	}
}

func TestApplyGroupsByRevision(t *testing.T) {
	a, b := newUUID(), newUUID()
	ev := func(typ mvccpb.Event_EventType, key, val string, rev int64) *clientv3.Event {
		return &clientv3.Event{Type: typ, Kv: &mvccpb.KeyValue{Key: []byte(key), Value: []byte(val), ModRevision: rev}}
	}
	d := testDB(t, 4, 4)
	err := d.apply([]*clientv3.Event{
		ev(mvccpb.PUT, rowKeyOf("NB", "T", a), "a1", 5),
		ev(mvccpb.PUT, rowKeyOf("NB", "U", b), "b1", 5),
		ev(mvccpb.PUT, testLayout.Comment("NB", time.Unix(0, 0), 0), "c", 5),
		ev(mvccpb.PUT, testLayout.Comment("NB", time.Unix(0, 0), 1), "c", 6),
		ev(mvccpb.PUT, rowKeyOf("NB", "T", a), "a2", 7),
		ev(mvccpb.DELETE, rowKeyOf("NB", "U", b), "", 7),
		ev(mvccpb.DELETE, rowKeyOf("NB", "U", newUUID()), "", 8),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range d.hist.after(0, 10) {
		for _, c := range u.Changes() {
			got = append(got, fmt.Sprintf("%d %s", u.Rev, changeString(c)))
		}
	}
	want := []string{
		fmt.Sprintf(`5 T/%s ""->"a1"`, a),
		fmt.Sprintf(`5 U/%s ""->"b1"`, b),
		fmt.Sprintf(`7 T/%s "a1"->"a2"`, a),
		fmt.Sprintf(`7 U/%s "b1"->""`, b),
	}
	if !slices.Equal(got, want) || d.rev != 8 {
		t.Fatalf("history %q at %d, want %q at 8", got, d.rev, want)
	}
	if err := d.apply([]*clientv3.Event{ev(mvccpb.PUT, rowKeyOf("NB", "T", a), "a3", 8)}); !errors.Is(err, errRevisionReplayed) {
		t.Fatalf("apply of an applied revision = %v, want errRevisionReplayed", err)
	}
	if d.hist.len() != 2 || string(d.rows[rowID{"T", mustUUID(a)}]) != "a2" {
		t.Fatal("an applied revision changed the state")
	}
}
