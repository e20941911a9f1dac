package frontend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// lockManager is the lock table the sessions of a frontend use: the
// per-frontend lockTable, or etcdLocks that makes locks cluster-wide.
type lockManager interface {
	// acquire queues s for name ("lock", or in front for "steal") and
	// queues the reply {"locked": owns} on s; an error is the syntax
	// error to reply instead.
	acquire(s *session, id json.RawMessage, name string, steal bool) error
	// release removes s from name's waiters; false if it was not one.
	release(s *session, name string) bool
	releaseAll(s *session)
	held(s *session) []string
}

// lockOpTimeout bounds one etcd operation of the lock protocol.
const lockOpTimeout = 10 * time.Second

// etcdLocks keeps OVSDB locks in etcd (DESIGN.md "Locks"), so clients of
// different frontends compete for the same lock.
//
// Keys: the owner key keys.Lock(id) holds the owning session's id; each
// waiting or owning session has a waiter key keys.LockWaiter(id, sessionID).
// Both carry this frontend's lease, so a dead frontend's locks go away
// with its lease. First come, first served: a session claims a free lock
// only if no waiter key is older than its own (one Txn comparing the
// owner key's absence and the waiters' create revisions). "steal"
// overwrites the owner key. One watch on the locks prefix tells every
// frontend who owns what, from which it sends "locked" and "stolen".
//
// Differences from a single ovsdb-server: ovsdb-server 3.1 also sends a
// redundant "locked" to the current owner when another waiter leaves;
// this does not.
type etcdLocks struct {
	cli    *clientv3.Client
	layout keys.Layout
	ttl    int
	log    *slog.Logger

	// mu guards everything below. Lock order: mu, then a session's
	// outMu. etcd calls are made with mu held so that replies and
	// notifications of one lock stay ordered.
	mu        sync.Mutex
	sess      *concurrency.Session
	owners    map[string]string // lock name -> owning session id, as etcd says
	byName    map[string]map[string]*lockWaiter
	bySession map[*session]map[string]*lockWaiter
}

type lockWaiter struct {
	s     *session
	name  string
	rev   int64 // create revision of the waiter key
	owner bool  // told (by reply or "locked") that it owns the lock
}

func newEtcdLocks(cli *clientv3.Client, layout keys.Layout, ttl time.Duration, log *slog.Logger) (*etcdLocks, error) {
	e := &etcdLocks{
		cli:       cli,
		layout:    layout,
		ttl:       max(int(ttl/time.Second), 1),
		log:       log,
		owners:    map[string]string{},
		byName:    map[string]map[string]*lockWaiter{},
		bySession: map[*session]map[string]*lockWaiter{},
	}
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(e.ttl))
	if err != nil {
		return nil, fmt.Errorf("frontend: lock lease: %w", err)
	}
	e.sess = sess
	return e, nil
}

// close revokes the lease, which releases every lock of this frontend.
func (e *etcdLocks) close() {
	e.mu.Lock()
	sess := e.sess
	e.mu.Unlock()
	if sess != nil {
		_ = sess.Close()
	}
}

func (e *etcdLocks) lease() clientv3.OpOption { return clientv3.WithLease(e.sess.Lease()) }

// freeCmps are the compares under which waiter rev may take lock name.
func (e *etcdLocks) freeCmps(name string, rev int64) []clientv3.Cmp {
	return []clientv3.Cmp{
		clientv3.Compare(clientv3.CreateRevision(e.layout.Lock(name)), "=", 0),
		clientv3.Compare(clientv3.CreateRevision(e.layout.LockWaiters(name)), ">", rev-1).WithPrefix(),
	}
}

func (e *etcdLocks) acquire(s *session, id json.RawMessage, name string, steal bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	method := "lock"
	if steal {
		method = "steal"
	}
	if e.bySession[s][name] != nil {
		return fmt.Errorf("must issue \"unlock\" before new %q", method)
	}
	ctx, cancel := context.WithTimeout(s.ctx, lockOpTimeout)
	defer cancel()
	put, err := e.cli.Put(ctx, e.layout.LockWaiter(name, s.id), s.id, e.lease())
	if err != nil {
		s.log.Error("lock: write waiter key", "err", err)
		s.replyError(id, ovsdb.NewError(ovsdb.TagInternalError, "lock %s: %v", name, err).JSON())
		return nil
	}
	w := &lockWaiter{s: s, name: name, rev: put.Header.Revision}
	e.addLocked(w)
	// The reply tells the session it owns the lock: mark it first so
	// that setOwnerLocked does not also send "locked".
	if steal {
		if _, err := e.cli.Put(ctx, e.layout.Lock(name), s.id, e.lease()); err != nil {
			s.log.Error("steal: write owner key", "err", err)
		} else {
			w.owner = true
			e.setOwnerLocked(name, s.id)
		}
	} else {
		txn, err := e.cli.Txn(ctx).If(e.freeCmps(name, w.rev)...).Then(clientv3.OpPut(e.layout.Lock(name), s.id, e.lease())).Commit()
		if err != nil {
			s.log.Error("lock: claim owner key", "err", err)
		} else if txn.Succeeded {
			w.owner = true
			e.setOwnerLocked(name, s.id)
		}
	}
	s.replyResult(id, map[string]any{"locked": w.owner})
	return nil
}

func (e *etcdLocks) addLocked(w *lockWaiter) {
	if e.byName[w.name] == nil {
		e.byName[w.name] = map[string]*lockWaiter{}
	}
	e.byName[w.name][w.s.id] = w
	if e.bySession[w.s] == nil {
		e.bySession[w.s] = map[string]*lockWaiter{}
	}
	e.bySession[w.s][w.name] = w
}

func (e *etcdLocks) removeLocked(w *lockWaiter) {
	delete(e.byName[w.name], w.s.id)
	if len(e.byName[w.name]) == 0 {
		delete(e.byName, w.name)
	}
	delete(e.bySession[w.s], w.name)
	if len(e.bySession[w.s]) == 0 {
		delete(e.bySession, w.s)
	}
}

// setOwnerLocked records that owner (a session id, "" for none) owns
// name, and tells this frontend's sessions what changed for them.
func (e *etcdLocks) setOwnerLocked(name, owner string) {
	prev := e.owners[name]
	if owner == "" {
		delete(e.owners, name)
	} else {
		e.owners[name] = owner
	}
	if prev == owner {
		return
	}
	if pw := e.byName[name][prev]; pw != nil && pw.owner {
		pw.owner = false
		if owner != "" {
			pw.s.enqueue(lockNotification("stolen", name))
		}
	}
	if nw := e.byName[name][owner]; nw != nil && !nw.owner {
		nw.owner = true
		nw.s.enqueue(lockNotification("locked", name))
	}
}

func (e *etcdLocks) release(s *session, name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.bySession[s][name]
	if w == nil {
		return false
	}
	e.releaseLocked(w)
	return true
}

func (e *etcdLocks) releaseLocked(w *lockWaiter) {
	e.removeLocked(w)
	// The session may be closing: use a context of its own.
	ctx, cancel := context.WithTimeout(context.Background(), lockOpTimeout)
	defer cancel()
	_, err := e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(e.layout.Lock(w.name)), "=", w.s.id)).
		Then(clientv3.OpDelete(e.layout.Lock(w.name)), clientv3.OpDelete(e.layout.LockWaiter(w.name, w.s.id))).
		Else(clientv3.OpDelete(e.layout.LockWaiter(w.name, w.s.id))).
		Commit()
	if err != nil {
		// The lease still bounds how long the keys outlive us.
		w.s.log.Error("unlock: delete lock keys", "lock", w.name, "err", err)
	}
}

func (e *etcdLocks) releaseAll(s *session) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, w := range e.bySession[s] {
		e.releaseLocked(w)
	}
}

func (e *etcdLocks) held(s *session) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for name := range e.bySession[s] {
		if e.owners[name] == s.id {
			out = append(out, name)
		}
	}
	return out
}

// watchLoop follows the locks prefix until ctx ends: it keeps owners
// current and, when a lock becomes free, lets this frontend's oldest
// waiter claim it.
func (e *etcdLocks) watchLoop(ctx context.Context) {
	for ctx.Err() == nil {
		err := e.watchOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		e.log.Warn("lock watch ended; restarting", "err", err)
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (e *etcdLocks) watchOnce(ctx context.Context) error {
	prefix := e.layout.Locks()
	get, err := e.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("list locks: %w", err)
	}
	owners := map[string]string{}
	for _, kv := range get.Kvs {
		if name, ok := e.layout.ParseLock(string(kv.Key)); ok {
			owners[name] = string(kv.Value)
		}
	}
	e.mu.Lock()
	var free []string
	for name := range e.owners {
		if _, ok := owners[name]; !ok {
			e.setOwnerLocked(name, "")
			free = append(free, name)
		}
	}
	for name, owner := range owners {
		e.setOwnerLocked(name, owner)
	}
	for name := range e.byName {
		if _, ok := owners[name]; !ok {
			free = append(free, name)
		}
	}
	e.mu.Unlock()
	for _, name := range free {
		e.claim(ctx, name)
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := e.cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(get.Header.Revision+1))
	e.mu.Lock()
	done := e.sess.Done()
	e.mu.Unlock()
	for {
		select {
		case <-done:
			e.leaseLost(ctx)
			return errors.New("lock lease lost")
		case wr, ok := <-wch:
			if !ok {
				return errors.New("watch channel closed")
			}
			if err := wr.Err(); err != nil {
				return fmt.Errorf("watch locks: %w", err)
			}
			for _, ev := range wr.Events {
				e.handleEvent(ctx, ev)
			}
		}
	}
}

// leaseLost handles the expiry of this frontend's lease: every lock and
// wait of its sessions is gone from etcd, so their clients are dropped
// (they reconnect and lock again) and a new lease is taken.
func (e *etcdLocks) leaseLost(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log.Error("lock lease lost; dropping clients that held or waited for locks")
	for s := range e.bySession {
		s.cancel()
	}
	e.byName = map[string]map[string]*lockWaiter{}
	e.bySession = map[*session]map[string]*lockWaiter{}
	for ctx.Err() == nil {
		sess, err := concurrency.NewSession(e.cli, concurrency.WithTTL(e.ttl), concurrency.WithContext(ctx))
		if err == nil {
			e.sess = sess
			return
		}
		e.log.Error("new lock lease", "err", err)
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

func (e *etcdLocks) handleEvent(ctx context.Context, ev *clientv3.Event) {
	key := string(ev.Kv.Key)
	if name, ok := e.layout.ParseLock(key); ok {
		e.mu.Lock()
		if ev.Type == mvccpb.PUT {
			e.setOwnerLocked(name, string(ev.Kv.Value))
			e.mu.Unlock()
			return
		}
		e.setOwnerLocked(name, "")
		e.mu.Unlock()
		e.claim(ctx, name)
		return
	}
	// A waiter key: when one goes while the lock is free, the next
	// waiter may now be the oldest.
	if ev.Type != mvccpb.DELETE {
		return
	}
	rest := strings.TrimPrefix(key, e.layout.Locks())
	esc, _, found := strings.Cut(rest, "/")
	if !found {
		return
	}
	name, err := keys.UnescapeLock(esc)
	if err != nil {
		return
	}
	e.mu.Lock()
	_, owned := e.owners[name]
	e.mu.Unlock()
	if !owned {
		e.claim(ctx, name)
	}
}

// claim lets this frontend's oldest waiter of name take the lock if it
// is free and no older waiter exists anywhere. The watch then reports
// the new owner, which sends "locked".
func (e *etcdLocks) claim(ctx context.Context, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var oldest *lockWaiter
	for _, w := range e.byName[name] {
		if oldest == nil || w.rev < oldest.rev {
			oldest = w
		}
	}
	if oldest == nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, lockOpTimeout)
	defer cancel()
	txn, err := e.cli.Txn(cctx).If(e.freeCmps(name, oldest.rev)...).
		Then(clientv3.OpPut(e.layout.Lock(name), oldest.s.id, e.lease())).Commit()
	if err != nil {
		e.log.Error("claim lock", "lock", name, "err", err)
		return
	}
	if txn.Succeeded {
		e.setOwnerLocked(name, oldest.s.id)
	}
}
