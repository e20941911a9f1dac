package frontend

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

// TestLocksAcrossFrontends: with etcd, clients of two frontends compete
// for one lock, first come first served, with "locked" and "stolen"
// crossing frontends, and a frontend's death frees its locks.
func TestLocksAcrossFrontends(t *testing.T) {
	cluster := etcdtest.NewServer(t)
	cli := cluster.Client(t)
	sch := loadSchema(t)
	be := newFakeBackend(t, map[string]*schema.Database{sch.Name: sch})
	be.etcd = cli
	noProbe := func(c *Config) { c.InactivityProbeInterval = 0; c.LockLeaseTTL = DefaultLockLeaseTTL }
	f1 := startServerOn(t, be, noProbe, nil)
	f2 := startServerOn(t, be, noProbe, nil)
	if f1.srv.deps.ClusterID == 0 || f1.srv.deps.ClusterID != f2.srv.deps.ClusterID {
		t.Fatalf("cluster ids %x and %x, want the etcd cluster's", f1.srv.deps.ClusterID, f2.srv.deps.ClusterID)
	}

	na, nb, nc := newNotes(), newNotes(), newNotes()
	a := dial(t, f1.addr(), na.handler)
	b := dial(t, f2.addr(), nb.handler)
	c := dial(t, f2.addr(), nc.handler)
	locked := func(r json.RawMessage) bool {
		var v struct{ Locked bool }
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatalf("lock reply %s: %v", r, err)
		}
		return v.Locked
	}
	has := func(want string) func([]string) bool {
		return func(s []string) bool {
			for _, m := range s {
				if m == want {
					return true
				}
			}
			return false
		}
	}

	if !locked(call(t, a, "lock", "L")) {
		t.Fatal("a did not get the free lock")
	}
	if locked(call(t, b, "lock", "L")) {
		t.Fatal("b got a lock a holds (through another frontend)")
	}
	if locked(call(t, c, "lock", "L")) {
		t.Fatal("c got a lock a holds")
	}
	// assert: only the owner's transactions pass.
	assert := map[string]any{"op": "assert", "lock": "L"}
	if r := string(call(t, a, "transact", "T", assert)); r != `[{}]` {
		t.Fatalf("owner's assert = %s", r)
	}
	if r := string(call(t, b, "transact", "T", assert)); !strings.Contains(r, "not owner") {
		t.Fatalf("waiter's assert = %s", r)
	}

	// a unlocks: b, the oldest waiter, gets it (on the other frontend).
	call(t, a, "unlock", "L")
	nb.waitFor(t, "b locked", has(`locked ["L"]`))

	// a steals from b across frontends.
	if !locked(call(t, a, "steal", "L")) {
		t.Fatal("steal did not lock")
	}
	nb.waitFor(t, "b stolen", has(`stolen ["L"]`))

	// Frontend 1 dies (Close revokes its lease): the lock is free again
	// and c... b is the oldest waiter still queued, so b gets it.
	_ = f1.srv.Close()
	nb.waitFor(t, "b locked again", func(s []string) bool {
		n := 0
		for _, m := range s {
			if m == `locked ["L"]` {
				n++
			}
		}
		return n == 2
	})
	if got := nc.snapshot(); len(got) != 0 {
		t.Fatalf("c got %q, want nothing", got)
	}
	// b leaves: c is next.
	call(t, b, "unlock", "L")
	nc.waitFor(t, "c locked", has(`locked ["L"]`))
}
