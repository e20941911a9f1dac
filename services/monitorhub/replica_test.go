package monitorhub

import (
	"bytes"
	"fmt"
	"maps"
	"testing"
)

// replica applies a subscription's events to a copy of the rows and
// checks that every change's Old is what the copy held, so that a missed
// or duplicated change is caught.
type replica struct {
	rows      map[string]string
	rev       int64
	snapshots int
	updates   []int64
}

func newReplica() *replica { return &replica{rows: map[string]string{}} }

func (r *replica) apply(ev Event) error {
	if ev.Rev < r.rev || (ev.Rev == r.rev && ev.Kind == EventUpdate) {
		return fmt.Errorf("%v at revision %d after %d", ev.Kind, ev.Rev, r.rev)
	}
	r.rev = ev.Rev
	switch ev.Kind {
	case EventSnapshot:
		r.snapshots++
		r.rows = map[string]string{}
		for _, row := range ev.Rows {
			r.rows[row.Table+"/"+row.UUID] = string(row.Value)
		}
	case EventUpdate:
		r.updates = append(r.updates, ev.Rev)
		if len(ev.Changes) == 0 {
			return fmt.Errorf("empty update at %d", ev.Rev)
		}
		for _, c := range ev.Changes {
			k := c.Table + "/" + c.UUID
			old, had := r.rows[k]
			if had != (c.Old != nil) || !bytes.Equal([]byte(old), c.Old) {
				return fmt.Errorf("revision %d: %s: old %q, replica has %q (present %v)", ev.Rev, k, c.Old, old, had)
			}
			if c.New == nil {
				delete(r.rows, k)
			} else {
				r.rows[k] = string(c.New)
			}
		}
	}
	return nil
}

// etcdRows reads the rows of database NB from etcd as a replica map.
func (e *env) etcdRows() map[string]string {
	const db = "NB"
	e.t.Helper()
	rows := map[string]string{}
	resp, err := e.cli.Get(e.t.Context(), testLayout.DB(db), withPrefix())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if table, u, ok := rowKey(testLayout, db, string(kv.Key)); ok {
			rows[table+"/"+u.String()] = string(kv.Value)
		}
	}
	return rows
}

func assertRows(t *testing.T, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Fatalf("replica rows differ from etcd:\n got %v\nwant %v", got, want)
	}
}
