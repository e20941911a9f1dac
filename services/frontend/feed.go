package frontend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

// Bounds of the resubscribe backoff.
const (
	minResubscribeInterval = 50 * time.Millisecond
	maxResubscribeInterval = 5 * time.Second
)

// feed is the frontend's single subscription to one database's change
// stream: it keeps the decoded rows and fans every change out to the
// monitors of all sessions.
//
// The subscription callback (one goroutine, run) is the only writer of
// rows and rev. Fan-out only queues (session.enqueue never blocks), so a
// slow client never holds back the feed or other clients.
type feed struct {
	name   string
	schema *schema.Database
	log    *slog.Logger

	ready     chan struct{} // closed once the first snapshot is applied
	readyOnce sync.Once

	// mu guards rows, rev, revCh and monitors. Lock order: mu, then a
	// session's outMu.
	mu       sync.Mutex
	rows     map[string]map[ovsdb.UUID]ovsdb.Row
	rev      int64
	revCh    chan struct{} // closed and replaced whenever rev advances
	monitors map[*monitor]struct{}

	// snapshot accumulates the chunks of a snapshot; owned by run.
	snapshot []RawRow
}

func newFeed(name string, s *schema.Database, log *slog.Logger) *feed {
	f := &feed{
		name:     name,
		schema:   s,
		log:      log.With("db", name),
		ready:    make(chan struct{}),
		rows:     map[string]map[ovsdb.UUID]ovsdb.Row{},
		revCh:    make(chan struct{}),
		monitors: map[*monitor]struct{}{},
	}
	for t := range s.Tables {
		f.rows[t] = map[ovsdb.UUID]ovsdb.Row{}
	}
	return f
}

// run subscribes until ctx ends, resubscribing from the last applied
// revision after a failure.
func (f *feed) run(ctx context.Context, sub Subscriber) {
	backoff := minResubscribeInterval
	for {
		f.mu.Lock()
		from := f.rev
		f.mu.Unlock()
		err := sub.Subscribe(ctx, f.name, from, f.handle)
		if ctx.Err() != nil {
			return
		}
		f.log.Warn("database subscription ended; resubscribing", "rev", from, "err", err, "backoff", backoff)
		f.snapshot = nil
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxResubscribeInterval)
	}
}

// handle applies one event of the subscription.
func (f *feed) handle(ev Event) error {
	switch ev.Kind {
	case EventSnapshot:
		f.snapshot = append(f.snapshot, ev.Rows...)
		if !ev.Last {
			return nil
		}
		rows, err := f.decodeSnapshot(f.snapshot)
		f.snapshot = nil
		if err != nil {
			return err
		}
		f.applySnapshot(ev.Rev, rows)
		f.readyOnce.Do(func() { close(f.ready) })
	case EventUpdate:
		return f.applyUpdate(ev.Rev, ev.Changes)
	case EventProgress:
		f.mu.Lock()
		f.advanceLocked(ev.Rev)
		f.mu.Unlock()
	default:
		return fmt.Errorf("database %q: unknown event kind %d", f.name, ev.Kind)
	}
	return nil
}

func (f *feed) decodeRow(table, uuid string, value []byte) (ovsdb.UUID, ovsdb.Row, error) {
	t, ok := f.schema.Tables[table]
	if !ok {
		return ovsdb.UUID{}, nil, fmt.Errorf("database %q: row %s of unknown table %q", f.name, uuid, table)
	}
	u, err := ovsdb.ParseUUID(uuid)
	if err != nil {
		return ovsdb.UUID{}, nil, fmt.Errorf("database %q table %q: %w", f.name, table, err)
	}
	if len(value) == 0 {
		return u, nil, nil
	}
	row, err := t.DecodeRow(value)
	if err != nil {
		return u, nil, fmt.Errorf("decode row %s of table %q: %w", uuid, table, err)
	}
	return u, row, nil
}

func (f *feed) decodeSnapshot(raw []RawRow) (map[string]map[ovsdb.UUID]ovsdb.Row, error) {
	rows := map[string]map[ovsdb.UUID]ovsdb.Row{}
	for t := range f.schema.Tables {
		rows[t] = map[ovsdb.UUID]ovsdb.Row{}
	}
	for _, r := range raw {
		u, row, err := f.decodeRow(r.Table, r.UUID, r.Value)
		if err != nil {
			return nil, err
		}
		if row != nil {
			rows[r.Table][u] = row
		}
	}
	return rows, nil
}

// applySnapshot replaces the state; monitors get the difference as one
// update, so a resync after a gap is invisible to clients.
func (f *feed) applySnapshot(rev int64, rows map[string]map[ovsdb.UUID]ovsdb.Row) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var changes []rowChange
	for t, cur := range f.rows {
		next := rows[t]
		for u, old := range cur {
			nw, ok := next[u]
			if !ok {
				changes = append(changes, rowChange{table: t, uuid: u, old: old})
			} else if !rowsEqual(old, nw) {
				changes = append(changes, rowChange{table: t, uuid: u, old: old, new: nw})
			}
		}
		for u, nw := range next {
			if _, ok := cur[u]; !ok {
				changes = append(changes, rowChange{table: t, uuid: u, new: nw})
			}
		}
	}
	f.rows = rows
	f.publishLocked(changes)
	if rev > f.rev {
		f.advanceLocked(rev)
	}
}

func rowsEqual(a, b ovsdb.Row) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !v.Equal(w) {
			return false
		}
	}
	return true
}

func (f *feed) applyUpdate(rev int64, raw []RawChange) error {
	type decoded struct {
		table string
		uuid  ovsdb.UUID
		new   ovsdb.Row
	}
	dec := make([]decoded, 0, len(raw))
	for _, c := range raw {
		u, row, err := f.decodeRow(c.Table, c.UUID, c.New)
		if err != nil {
			return err
		}
		dec = append(dec, decoded{table: c.Table, uuid: u, new: row})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if rev <= f.rev {
		return nil // already applied (a resumed stream may repeat)
	}
	changes := make([]rowChange, 0, len(dec))
	for _, d := range dec {
		tbl := f.rows[d.table]
		old := tbl[d.uuid]
		if old == nil && d.new == nil {
			continue
		}
		if d.new == nil {
			delete(tbl, d.uuid)
		} else {
			tbl[d.uuid] = d.new
		}
		changes = append(changes, rowChange{table: d.table, uuid: d.uuid, old: old, new: d.new})
	}
	f.publishLocked(changes)
	f.advanceLocked(rev)
	return nil
}

// publishLocked queues the update of changes to every monitor.
func (f *feed) publishLocked(changes []rowChange) {
	if len(changes) == 0 {
		return
	}
	for m := range f.monitors {
		upd := m.updateJSON(changes)
		if upd == nil {
			continue
		}
		params, err := marshal([]any{json.RawMessage(m.idJSON), upd})
		if err != nil {
			f.log.Error("encode update", "monitor_id", m.key, "err", err)
			continue
		}
		method := "update"
		if m.version == 2 {
			method = "update2"
		}
		m.sess.enqueue(encodeNotification(method, params))
	}
}

func (f *feed) advanceLocked(rev int64) {
	if rev <= f.rev {
		return
	}
	f.rev = rev
	close(f.revCh)
	f.revCh = make(chan struct{})
}

// waitRev waits until the feed has applied rev (and so queued its
// updates to every monitor).
func (f *feed) waitRev(ctx context.Context, rev int64) error {
	for {
		f.mu.Lock()
		cur, ch := f.rev, f.revCh
		f.mu.Unlock()
		if cur >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for revision %d of %q (at %d): %w", rev, f.name, cur, ctx.Err())
		}
	}
}

// waitReady waits for the first snapshot.
func (f *feed) waitReady(ctx context.Context) error {
	select {
	case <-f.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("database %q not loaded: %w", f.name, ctx.Err())
	}
}

// register adds m and queues the reply to its monitor request (the
// initial rows) atomically with respect to updates, so the client sees
// every change exactly once, after the initial state.
func (f *feed) register(ctx context.Context, m *monitor, id json.RawMessage) error {
	if err := f.waitReady(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	initial, err := marshal(m.initialJSON(f.rows))
	if err != nil {
		return fmt.Errorf("encode initial rows: %w", err)
	}
	f.monitors[m] = struct{}{}
	m.sess.replyRaw(id, initial)
	return nil
}

func (f *feed) unregister(m *monitor) {
	f.mu.Lock()
	delete(f.monitors, m)
	f.mu.Unlock()
}

var errFeedClosed = errors.New("frontend: feed closed")
