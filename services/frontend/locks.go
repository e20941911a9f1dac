package frontend

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// lockTable is the OVSDB lock table of ovsdb-server's lock.c, shared by
// the sessions of this frontend: per lock name an ordered list of
// waiters whose head owns the lock. "lock" appends, "steal" pushes to the
// front (the previous owner stays queued and is told "stolen").
//
// Scope: locks are per frontend for now; issue 5 makes them cluster-wide
// with etcd keys (DESIGN.md "Locks") behind the same session methods.
type lockTable struct {
	// mu guards locks. Lock order: mu, then a session's outMu.
	mu    sync.Mutex
	locks map[string][]*session
}

func newLockTable() *lockTable { return &lockTable{locks: map[string][]*session{}} }

var _ lockManager = (*lockTable)(nil)

// held lists the locks s owns.
func (lt *lockTable) held(s *session) []string {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	var out []string
	for name, w := range lt.locks {
		if len(w) > 0 && w[0] == s {
			out = append(out, name)
		}
	}
	return out
}

func (lt *lockTable) waitingLocked(s *session, name string) bool {
	for _, w := range lt.locks[name] {
		if w == s {
			return true
		}
	}
	return false
}

// acquire queues s for name ("lock"), or puts it in front ("steal"),
// and returns whether s now owns the lock. The reply is queued before
// the lock table is released, so a later "locked" cannot overtake it.
func (lt *lockTable) acquire(s *session, id json.RawMessage, name string, steal bool) error {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	method := "lock"
	if steal {
		method = "steal"
	}
	if lt.waitingLocked(s, name) {
		return fmt.Errorf("must issue \"unlock\" before new %q", method)
	}
	w := lt.locks[name]
	if steal {
		if len(w) > 0 {
			w[0].enqueue(lockNotification("stolen", name))
		}
		w = append([]*session{s}, w...)
	} else {
		w = append(w, s)
	}
	lt.locks[name] = w
	s.replyResult(id, map[string]any{"locked": w[0] == s})
	return nil
}

// release removes s from the waiters of name. As ovsdb-server 3.1 does,
// whoever then heads the queue is sent "locked", even if it already
// owned the lock.
func (lt *lockTable) release(s *session, name string) bool {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	return lt.releaseLocked(s, name)
}

func (lt *lockTable) releaseLocked(s *session, name string) bool {
	w := lt.locks[name]
	for i, x := range w {
		if x != s {
			continue
		}
		w = append(w[:i:i], w[i+1:]...)
		if len(w) == 0 {
			delete(lt.locks, name)
			return true
		}
		lt.locks[name] = w
		w[0].enqueue(lockNotification("locked", name))
		return true
	}
	return false
}

// releaseAll drops every lock and wait of a closing session.
func (lt *lockTable) releaseAll(s *session) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	for name := range lt.locks {
		lt.releaseLocked(s, name)
	}
}

func lockNotification(method, name string) []byte {
	return encodeNotification(method, []byte(ovsJSON([]any{name})))
}

// lockParams parses the single <id> parameter of lock, steal and unlock;
// ok is false when params are not exactly one string.
func lockParams(m *jsonrpc.Message) (name string, params []any, ok bool, err error) {
	if params, err = m.DecodeParams(); err != nil {
		return "", nil, false, err
	}
	if len(params) == 1 {
		name, ok = params[0].(string)
	}
	return name, params, ok, nil
}

func (s *session) lock(m *jsonrpc.Message) error  { return s.acquireLock(m, false) }
func (s *session) steal(m *jsonrpc.Message) error { return s.acquireLock(m, true) }

func (s *session) acquireLock(m *jsonrpc.Message, steal bool) error {
	name, params, ok, err := lockParams(m)
	if err != nil {
		return fmt.Errorf("%w: %w", errProtocol, err)
	}
	if !ok {
		s.replyError(m.ID, syntaxError(params, m.Method+" request params must be <id>").JSON())
		return nil
	}
	if err := s.srv.locks.acquire(s, m.ID, name, steal); err != nil {
		s.replyError(m.ID, syntaxError(params, err.Error()).JSON())
	}
	return nil
}

func (s *session) unlock(m *jsonrpc.Message) error {
	name, params, ok, err := lockParams(m)
	if err != nil {
		return fmt.Errorf("%w: %w", errProtocol, err)
	}
	if !ok {
		s.replyError(m.ID, syntaxError(params, "unlock request params must be <id>").JSON())
		return nil
	}
	if !s.srv.locks.release(s, name) {
		s.replyError(m.ID, syntaxError(params, `unlock: "unlock" without "lock" or "steal"`).JSON())
		return nil
	}
	s.replyResult(m.ID, map[string]any{})
	return nil
}
