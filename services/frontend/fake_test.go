package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/txn"
	txnenginev1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/txnengine/v1"
)

// fakeBackend is an in-process txnengine and monitorhub on the real
// executor: Transact runs txn.Execute and publishes the changes, with a
// revision, to the subscribers the way the monitorhub streams them.
type fakeBackend struct {
	schemas map[string]*schema.Database
	etcd    *clientv3.Client // set: servers on this backend keep locks in etcd

	// mu guards everything below.
	mu      sync.Mutex
	dbs     map[string]*txn.Database
	rows    map[string]map[string][]byte // db -> "table/uuid" -> value
	rev     int64
	events  map[string][]Event // every update per db, for resumes
	subs    map[*fakeSub]struct{}
	paused  bool    // hold back deliveries
	held    []Event // deliveries held back while paused, with their db
	heldDB  []string
	txnHook func(ctx context.Context) error // runs before executing
	gate    chan struct{}                   // non-nil: new subscriptions wait for it
	commits chan int64                      // non-nil: gets each commit's revision (never blocks)

	live atomic.Int64 // SubscribeLive calls
}

// breakSubscriptions fails every open subscription and holds new ones
// until the returned function is called.
func (b *fakeBackend) breakSubscriptions() (release func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	gate := make(chan struct{})
	b.gate = gate
	for s := range b.subs {
		close(s.kill)
		delete(b.subs, s)
	}
	return func() {
		b.mu.Lock()
		b.gate = nil
		b.mu.Unlock()
		close(gate)
	}
}

type fakeSub struct {
	db   string
	kill chan struct{} // closed: fail the subscription
	mu   sync.Mutex
	q    []Event
	sig  chan struct{}
}

func newFakeBackend(t testing.TB, schemas map[string]*schema.Database) *fakeBackend {
	t.Helper()
	b := &fakeBackend{schemas: schemas, dbs: map[string]*txn.Database{}, rows: map[string]map[string][]byte{}, subs: map[*fakeSub]struct{}{}, rev: 1, events: map[string][]Event{}}
	for name, s := range schemas {
		b.dbs[name] = txn.NewDatabase(s)
		b.rows[name] = map[string][]byte{}
	}
	return b
}

// loadSchema parses the test schema.
func loadSchema(t testing.TB) *schema.Database {
	t.Helper()
	data, err := os.ReadFile(testSchemaPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.Parse(data)
	if err != nil {
		t.Fatalf("parse %s: %v", testSchemaPath, err)
	}
	return s
}

func (b *fakeBackend) Transact(ctx context.Context, req *txnenginev1.TransactRequest) (*txnenginev1.TransactResponse, error) {
	b.mu.Lock()
	hook := b.txnHook
	b.mu.Unlock()
	if hook != nil {
		if err := hook(ctx); err != nil {
			return nil, err
		}
	}
	v, err := jsonrpc.DecodeValue(req.GetOperations())
	if err != nil {
		return nil, err
	}
	ops, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("operations are not an array")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	db, ok := b.dbs[req.GetDatabase()]
	if !ok {
		return nil, fmt.Errorf("no database %q", req.GetDatabase())
	}
	held := map[string]bool{}
	for _, l := range req.GetHeldLocks() {
		held[l] = true
	}
	res := txn.Execute(db, ops, txn.Options{WaitExpired: true, HasLock: func(name string) bool { return held[name] }})
	out, err := json.Marshal(res.Reply)
	if err != nil {
		return nil, err
	}
	resp := &txnenginev1.TransactResponse{Result: out}
	if len(res.Changes) == 0 {
		return resp, nil
	}
	b.rev++
	resp.Revision = b.rev
	ev := Event{Kind: EventUpdate, Rev: b.rev}
	sch := b.schemas[req.GetDatabase()]
	for _, c := range res.Changes {
		rc := RawChange{Table: c.Table, UUID: c.UUID.String()}
		key := c.Table + "/" + c.UUID.String()
		rc.Old = b.rows[req.GetDatabase()][key]
		if c.New != nil {
			if rc.New, err = sch.Tables[c.Table].EncodeRow(c.New); err != nil {
				return nil, err
			}
			b.rows[req.GetDatabase()][key] = rc.New
		} else {
			delete(b.rows[req.GetDatabase()], key)
		}
		ev.Changes = append(ev.Changes, rc)
	}
	b.events[req.GetDatabase()] = append(b.events[req.GetDatabase()], ev)
	if b.commits != nil {
		select {
		case b.commits <- b.rev:
		default:
		}
	}
	b.publishLocked(req.GetDatabase(), ev)
	return resp, nil
}

func (b *fakeBackend) publishLocked(db string, ev Event) {
	if b.paused {
		b.held = append(b.held, ev)
		b.heldDB = append(b.heldDB, db)
		return
	}
	for s := range b.subs {
		if s.db == db {
			s.push(ev)
		}
	}
}

// pause holds back deliveries until resume.
func (b *fakeBackend) pause() {
	b.mu.Lock()
	b.paused = true
	b.mu.Unlock()
}

func (b *fakeBackend) resume() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.paused = false
	held, dbs := b.held, b.heldDB
	b.held, b.heldDB = nil, nil
	for i, ev := range held {
		b.publishLocked(dbs[i], ev)
	}
}

func (s *fakeSub) push(ev Event) {
	s.mu.Lock()
	s.q = append(s.q, ev)
	s.mu.Unlock()
	select {
	case s.sig <- struct{}{}:
	default:
	}
}

func (b *fakeBackend) Subscribe(ctx context.Context, db string, fromRev int64, fn func(Event) error) error {
	b.mu.Lock()
	gate := b.gate
	b.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s := &fakeSub{db: db, sig: make(chan struct{}, 1), kill: make(chan struct{})}
	b.mu.Lock()
	if fromRev > 0 {
		// Like the monitorhub: replay the updates after fromRev from the
		// (complete) history, then a progress event, then live updates.
		for _, ev := range b.events[db] {
			if ev.Rev > fromRev {
				s.q = append(s.q, ev)
			}
		}
		s.q = append(s.q, Event{Kind: EventProgress, Rev: b.rev})
		s.sig <- struct{}{}
		b.subs[s] = struct{}{}
		b.mu.Unlock()
		return b.serve(ctx, s, fn)
	}
	snap := Event{Kind: EventSnapshot, Rev: b.rev, Last: true}
	for key, v := range b.rows[db] {
		var table, uuid string
		for i := range key {
			if key[i] == '/' {
				table, uuid = key[:i], key[i+1:]
				break
			}
		}
		snap.Rows = append(snap.Rows, RawRow{Table: table, UUID: uuid, Value: v})
	}
	s.q = []Event{snap}
	s.sig <- struct{}{}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return b.serve(ctx, s, fn)
}

// SubscribeLive is Subscribe without the old row values of updates, as
// the monitorhub streams them to a live subscription (WithoutOld): every
// test of a server on this backend runs its live feed that way.
func (b *fakeBackend) SubscribeLive(ctx context.Context, db string, fromRev int64, fn func(Event) error) error {
	b.live.Add(1)
	return b.Subscribe(ctx, db, fromRev, func(ev Event) error {
		if ev.Kind == EventUpdate {
			changes := make([]RawChange, len(ev.Changes))
			for i, c := range ev.Changes {
				c.Old = nil
				changes[i] = c
			}
			ev.Changes = changes
		}
		return fn(ev)
	})
}

func (b *fakeBackend) serve(ctx context.Context, s *fakeSub, fn func(Event) error) error {
	defer func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.kill:
			return fmt.Errorf("fake: subscription broken")
		case <-s.sig:
		}
		s.mu.Lock()
		q := s.q
		s.q = nil
		s.mu.Unlock()
		for _, ev := range q {
			if err := fn(ev); err != nil {
				return err
			}
		}
	}
}

var _ = ovsdb.UUID{}
