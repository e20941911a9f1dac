package txnengine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// lockState is what the leader last saw of one OVSDB lock's owner key.
type lockState struct {
	owner  string // owning session id; "" while the key is absent
	modRev int64  // ModRevision of the owner key; 0 while absent
	rev    int64  // revision of the last change applied (put or delete)
}

// lockView is the leader's watched view of the owner keys under
// keys.Locks() (DESIGN.md "Locks"). The frontends write those keys; the
// commit loop reads the view to decide "assert" and fences each asserted
// lock with a compare on the ModRevision it saw.
//
// The view may lag etcd, never run ahead of it: every update carries the
// revision it reflects and an entry only moves forward. A lagging view is
// safe because the commit compares catch a lock that changed since, and
// the commit loop re-reads a key from etcd before refusing an assert the
// frontend believes holds.
type lockView struct {
	mu sync.Mutex
	// mu guards locks.
	locks map[string]lockState
}

func newLockView() *lockView { return &lockView{locks: map[string]lockState{}} }

func (v *lockView) get(name string) lockState {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.locks[name]
}

// apply records that at revision rev the owner key of name held owner
// (modRev its ModRevision), or was absent (owner "", modRev 0), unless the
// view already reflects a later revision of that key. It returns the
// entry the view holds afterwards.
func (v *lockView) apply(name, owner string, modRev, rev int64) lockState {
	v.mu.Lock()
	defer v.mu.Unlock()
	cur := v.locks[name]
	if rev < cur.rev {
		return cur
	}
	st := lockState{owner: owner, modRev: modRev, rev: rev}
	if owner == "" {
		st.modRev = 0
	}
	v.locks[name] = st
	return st
}

// resync applies a whole read of the locks prefix at revision rev: the
// keys it returned, and the absence of every other key the view knows.
func (v *lockView) resync(t *term, kvs []*mvccpb.KeyValue, rev int64) {
	seen := map[string]bool{}
	for _, kv := range kvs {
		if name, ok := t.e.keys.ParseLock(string(kv.Key)); ok {
			seen[name] = true
			v.apply(name, string(kv.Value), kv.ModRevision, kv.ModRevision)
		}
	}
	v.mu.Lock()
	var gone []string
	for name := range v.locks {
		if !seen[name] {
			gone = append(gone, name)
		}
	}
	v.mu.Unlock()
	for _, name := range gone {
		v.apply(name, "", 0, rev)
	}
}

// loadLocks reads every owner key at rev, the revision the databases are
// loaded at, so that the view and the data start consistent.
func (t *term) loadLocks(ctx context.Context, rev int64) error {
	resp, err := t.e.cli.Get(ctx, t.e.keys.Locks(), clientv3.WithPrefix(), clientv3.WithRev(rev))
	if err != nil {
		return fmt.Errorf("read locks at rev %d: %w", rev, err)
	}
	t.locks.resync(t, resp.Kvs, rev)
	return nil
}

// lockWatchLoop keeps t.locks current from revision from on, until ctx
// ends. A broken watch resumes where it stopped; a compacted one resyncs
// with a fresh read.
func (t *term) lockWatchLoop(ctx context.Context, from int64) {
	prefix := t.e.keys.Locks()
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		compacted := false
		for resp := range t.e.cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(from)) {
			if err := resp.Err(); err != nil {
				compacted = resp.CompactRevision > 0
				t.log.Debug("lock watch broke", "err", err, "rev", from)
				break
			}
			for _, ev := range resp.Events {
				name, ok := t.e.keys.ParseLock(string(ev.Kv.Key))
				if ok {
					if ev.Type == clientv3.EventTypeDelete {
						t.locks.apply(name, "", 0, ev.Kv.ModRevision)
					} else {
						t.locks.apply(name, string(ev.Kv.Value), ev.Kv.ModRevision, ev.Kv.ModRevision)
					}
				}
				from = max(from, ev.Kv.ModRevision+1)
			}
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if compacted {
			gctx, gcancel := context.WithTimeout(ctx, t.e.cfg.CommitTimeout)
			resp, err := t.e.cli.Get(gctx, prefix, clientv3.WithPrefix())
			gcancel()
			if err == nil {
				t.locks.resync(t, resp.Kvs, resp.Header.Revision)
				from = resp.Header.Revision + 1
			} else {
				t.log.Warn("lock watch: resync", "err", err)
			}
		}
		timer := time.NewTimer(100 * time.Millisecond)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return
		}
	}
}

// readLock reads the owner key of name from etcd (linearizable) and
// applies it to the view. Called by the commit loop only when the view
// and the frontend disagree, so that a view lagging a fresh "lock" does
// not refuse its first assert.
func (t *term) readLock(ctx context.Context, name string) (lockState, error) {
	rctx, cancel := context.WithTimeout(ctx, t.e.cfg.CommitTimeout)
	defer cancel()
	resp, err := t.e.cli.Get(rctx, t.e.keys.Lock(name))
	if err != nil {
		return lockState{}, fmt.Errorf("read lock %q: %w", name, err)
	}
	if len(resp.Kvs) == 1 {
		kv := resp.Kvs[0]
		return t.locks.apply(name, string(kv.Value), kv.ModRevision, kv.ModRevision), nil
	}
	return t.locks.apply(name, "", 0, resp.Header.Revision), nil
}

// assertedLock is a lock a transaction asserted, as the view showed it:
// the commit compares ModRevision(key) == modRev.
type assertedLock struct {
	key    string
	modRev int64
}

// holdsLock decides an "assert" of lock name by request r: r's frontend
// must believe the session holds it (held_locks) and the owner key must
// name r's session. A request without a session id (a caller that does
// not use cluster-wide locks) is trusted on held_locks alone. A held lock
// is recorded on r for the commit's fence.
func (t *term) holdsLock(ctx context.Context, r *request, name string) bool {
	if !r.hasLock(name) {
		return false
	}
	if r.session == "" {
		return true
	}
	st := t.locks.get(name)
	if st.owner != r.session {
		// The frontend says held, the view says not: the view may lag a
		// fresh "lock", or the lock was stolen. etcd decides.
		var err error
		if st, err = t.readLock(ctx, name); err != nil {
			t.log.Warn("assert: read lock", "session", r.session, "err", err)
			return false
		}
	}
	if st.owner != r.session {
		return false
	}
	r.asserted = append(r.asserted, assertedLock{key: t.e.keys.Lock(name), modRev: st.modRev})
	return true
}
