package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

// backfillTimeout bounds the start-up replay of history (backfill).
const backfillTimeout = 5 * time.Second

// Bounds of the resubscribe backoff.
const (
	minResubscribeInterval = 50 * time.Millisecond
	maxResubscribeInterval = 5 * time.Second
)

// feed is the frontend's single subscription to one database's change
// stream: it keeps the rows and fans every change out to the monitors of
// all sessions.
//
// Rows and history are kept as the JSON etcd stores (about a sixth of
// the memory of decoded ovsdb.Rows: 100,000 Logical_Switch_Ports take
// 43 MiB instead of 263 MiB). They are decoded only when something reads
// them: a revision's changes once for all monitors when there are
// monitors, the rows of a new monitor's initial state while it is built.
//
// The subscription callback (one goroutine, run) is the only writer of
// rows and rev. Fan-out only queues (session.enqueue never blocks), so a
// slow client never holds back the feed or other clients.
type feed struct {
	name      string
	schema    *schema.Database
	log       *slog.Logger
	clusterID uint64
	histLimit int
	metrics   *metrics

	ready      chan struct{} // closed once the first snapshot is applied
	readyOnce  sync.Once
	backfilled chan struct{} // closed once backfill has finished, however

	// mu guards rows, rev, revCh, hist, histBase, monitors and the
	// mutable fields of registered monitors (tables, idJSON). Lock order:
	// mu, then a session's outMu.
	mu       sync.Mutex
	rows     map[string]map[ovsdb.UUID][]byte // table -> uuid -> stored JSON
	rev      int64
	revCh    chan struct{} // closed and replaced whenever rev advances
	monitors map[*monitor]struct{}
	// watched counts, per table, the registered monitors that select it:
	// changes of other tables are never decoded.
	watched map[string]int
	// hot keeps the decoded form of recently changed rows of watched
	// tables (at most hotRows), so a row changed again and again (a
	// Logical_Switch whose ports grow) is not decoded twice per change.
	hot map[hotKey]hotRow
	// hist holds the changes of the last histLimit revisions, oldest
	// first; the state at any revision >= histBase can be rebuilt from
	// rows and hist (monitor_cond_since).
	hist     []histEntry
	histBase int64

	// healthy is true while the subscription delivers (guarded by mu).
	healthy bool
	// onChange, if set, is called when rev or healthy change, possibly
	// with mu held: it must not block or take locks.
	onChange func()

	// snapshot accumulates the chunks of a snapshot; owned by run.
	snapshot []RawRow

	// committed is the highest revision a transact on this database
	// through this frontend was answered with: a monitor opened later
	// must include it (see Server.catchUp).
	committed atomic.Int64
}

// noteCommitted records that a transaction committed at rev is about to
// be acknowledged.
func (f *feed) noteCommitted(rev int64) {
	for {
		cur := f.committed.Load()
		if rev <= cur || f.committed.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// histEntry is one revision's changes.
type histEntry struct {
	rev     int64
	changes []rawChange
}

// rawChange is one row's change as stored JSON: old nil for an insert,
// new nil for a delete.
type rawChange struct {
	table    string
	uuid     ovsdb.UUID
	old, new []byte
}

func newFeed(name string, s *schema.Database, log *slog.Logger, clusterID uint64, histLimit int, m *metrics) *feed {
	f := &feed{
		metrics:    m,
		name:       name,
		clusterID:  clusterID,
		histLimit:  histLimit,
		schema:     s,
		log:        log.With("db", name),
		ready:      make(chan struct{}),
		backfilled: make(chan struct{}),
		rows:       map[string]map[ovsdb.UUID][]byte{},
		revCh:      make(chan struct{}),
		monitors:   map[*monitor]struct{}{},
		watched:    map[string]int{},
		hot:        map[hotKey]hotRow{},
	}
	for t := range s.Tables {
		f.rows[t] = map[ovsdb.UUID][]byte{}
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
		f.metrics.subscriptions.Inc()
		delivered := false
		subscribe := sub.Subscribe
		if ls, ok := sub.(LiveSubscriber); ok {
			subscribe = ls.SubscribeLive
		}
		err := subscribe(ctx, f.name, from, func(ev Event) (err error) {
			delivered = true
			// A bad row must not take the server down: resubscribe,
			// which resyncs from a snapshot.
			defer func() {
				if r := recover(); r != nil {
					f.log.Error("panic applying database change", "rev", ev.Rev, "panic", r, "stack", string(debug.Stack()))
					err = fmt.Errorf("database %q: panic applying revision %d: %v", f.name, ev.Rev, r)
				}
			}()
			return f.handle(ev)
		})
		f.metrics.subscriptions.Dec()
		if ctx.Err() != nil {
			return
		}
		f.setHealthy(false)
		f.metrics.resubscribes.Inc()
		if delivered {
			backoff = minResubscribeInterval
		}
		f.mu.Lock()
		at := f.rev
		f.mu.Unlock()
		f.log.Warn("database subscription ended; resubscribing", "rev", at, "err", err, "backoff", backoff)
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

func (f *feed) setHealthy(h bool) {
	f.mu.Lock()
	changed := f.healthy != h
	f.healthy = h
	f.mu.Unlock()
	if changed && f.onChange != nil {
		f.onChange()
	}
}

// handle applies one event of the subscription.
func (f *feed) handle(ev Event) error {
	if err := f.apply(ev); err != nil {
		return err
	}
	f.setHealthy(true)
	return nil
}

func (f *feed) apply(ev Event) error {
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

// rowKey checks a change's table and parses its uuid.
func (f *feed) rowKey(table, uuid string) (ovsdb.UUID, error) {
	if _, ok := f.schema.Tables[table]; !ok {
		return ovsdb.UUID{}, fmt.Errorf("database %q: row %s of unknown table %q", f.name, uuid, table)
	}
	u, err := ovsdb.ParseUUID(uuid)
	if err != nil {
		return ovsdb.UUID{}, fmt.Errorf("database %q table %q: %w", f.name, table, err)
	}
	return u, nil
}

// rowOf decodes a stored row (nil for nil). Stored rows come from the
// txnengine's encoder, so a row that does not decode is a bug: it is
// logged and reads as absent.
func (f *feed) rowOf(table string, raw []byte) ovsdb.Row {
	if len(raw) == 0 {
		return nil
	}
	row, err := f.schema.Tables[table].DecodeRow(raw)
	if err != nil {
		f.log.Error("decode stored row", "table", table, "err", err)
		return nil
	}
	return row
}

// decodeChanges decodes the raw changes of the tables want selects (all
// when want is nil), dropping the ones that change nothing once decoded.
func (f *feed) decodeChanges(raws []rawChange, want func(table string) bool) []rowChange {
	out := make([]rowChange, 0, len(raws))
	for _, c := range raws {
		if want != nil && !want(c.table) {
			continue
		}
		old, nw := f.rowOf(c.table, c.old), f.rowOf(c.table, c.new)
		if (old == nil && nw == nil) || (old != nil && nw != nil && rowsEqual(old, nw)) {
			continue
		}
		out = append(out, rowChange{table: c.table, uuid: c.uuid, old: old, new: nw})
	}
	return out
}

func (f *feed) decodeSnapshot(raw []RawRow) (map[string]map[ovsdb.UUID][]byte, error) {
	rows := map[string]map[ovsdb.UUID][]byte{}
	for t := range f.schema.Tables {
		rows[t] = map[ovsdb.UUID][]byte{}
	}
	for _, r := range raw {
		u, err := f.rowKey(r.Table, r.UUID)
		if err != nil {
			return nil, err
		}
		if len(r.Value) > 0 {
			rows[r.Table][u] = r.Value
		}
	}
	return rows, nil
}

// applySnapshot replaces the state; monitors get the difference as one
// update, so a resync after a gap is invisible to clients.
func (f *feed) applySnapshot(rev int64, rows map[string]map[ovsdb.UUID][]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var changes []rawChange
	for t, cur := range f.rows {
		next := rows[t]
		for u, old := range cur {
			nw, ok := next[u]
			if !ok {
				changes = append(changes, rawChange{table: t, uuid: u, old: old})
			} else if !bytes.Equal(old, nw) {
				changes = append(changes, rawChange{table: t, uuid: u, old: old, new: nw})
			}
		}
		for u, nw := range next {
			if _, ok := cur[u]; !ok {
				changes = append(changes, rawChange{table: t, uuid: u, new: nw})
			}
		}
	}
	f.rows = rows
	clear(f.hot)
	select {
	case <-f.ready:
		f.recordLocked(rev, changes)
		if len(f.monitors) > 0 {
			f.publishLocked(rev, f.decodeChanges(changes, f.watchedLocked))
		}
	default:
		// The first snapshot: history starts here.
		f.histBase = rev
	}
	if rev > f.rev {
		f.advanceLocked(rev)
	}
}

// recordLocked appends a revision's changes to the history ring.
func (f *feed) recordLocked(rev int64, changes []rawChange) {
	if f.histLimit == 0 {
		f.histBase = max(f.histBase, rev)
		return
	}
	f.hist = append(f.hist, histEntry{rev: rev, changes: changes})
	if len(f.hist) > f.histLimit {
		f.histBase = f.hist[0].rev
		f.hist[0] = histEntry{}
		f.hist = f.hist[1:]
	}
}

// watchedLocked reports whether a registered monitor selects table.
func (f *feed) watchedLocked(table string) bool { return f.watched[table] > 0 }

// changesSinceLocked returns the net change of every row of m's tables
// changed after rev (rev >= histBase): old is the row at rev, new the
// current row.
func (f *feed) changesSinceLocked(m *monitor, rev int64) []rowChange {
	type key struct {
		table string
		uuid  ovsdb.UUID
	}
	idx := map[key]int{}
	var out []rawChange
	for _, e := range f.hist {
		if e.rev <= rev {
			continue
		}
		for _, c := range e.changes {
			k := key{c.table, c.uuid}
			if i, ok := idx[k]; ok {
				out[i].new = c.new
				continue
			}
			idx[k] = len(out)
			out = append(out, c)
		}
	}
	net := out[:0]
	for _, c := range out {
		if (c.old == nil && c.new == nil) || bytes.Equal(c.old, c.new) {
			continue
		}
		net = append(net, c)
	}
	return f.decodeChanges(net, func(table string) bool {
		_, ok := m.tables[table]
		return ok
	})
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

// Outcomes of a backfill subscription's callback.
var (
	errBackfillDone        = errors.New("frontend: backfill reached the first snapshot")
	errBackfillUnavailable = errors.New("frontend: history before the first snapshot is gone")
)

// backfill loads the revisions before the feed's first snapshot into the
// history ring, from the monitorhub's history (updates carry old and new
// rows), so that after a frontend restart a client resuming with
// monitor_cond_since still gets found=true and only what it missed. It
// runs once, on its own short-lived subscription, and gives up quietly if
// the hub can no longer replay that far.
func (f *feed) backfill(ctx context.Context, sub Subscriber) {
	defer close(f.backfilled)
	if f.histLimit == 0 || f.waitReady(ctx) != nil {
		return
	}
	f.mu.Lock()
	base := f.histBase
	f.mu.Unlock()
	from := max(base-int64(f.histLimit), 1)
	if from >= base {
		return
	}
	// Never hold up serving for long: an idle hub may send nothing until
	// its next progress notification.
	ctx, cancel := context.WithTimeout(ctx, backfillTimeout)
	defer cancel()
	var entries []histEntry
	err := sub.Subscribe(ctx, f.name, from, func(ev Event) error {
		switch ev.Kind {
		case EventSnapshot:
			return errBackfillUnavailable
		case EventProgress:
			if ev.Rev >= base {
				return errBackfillDone
			}
		case EventUpdate:
			if ev.Rev > base {
				return errBackfillDone
			}
			changes := make([]rawChange, 0, len(ev.Changes))
			for _, c := range ev.Changes {
				u, err := f.rowKey(c.Table, c.UUID)
				if err != nil {
					return err
				}
				changes = append(changes, rawChange{table: c.Table, uuid: u, old: nilIfEmpty(c.Old), new: nilIfEmpty(c.New)})
			}
			entries = append(entries, histEntry{rev: ev.Rev, changes: changes})
			if ev.Rev == base {
				return errBackfillDone
			}
		}
		return nil
	})
	if !errors.Is(err, errBackfillDone) {
		f.log.Info("no history before the first snapshot", "rev", base, "err", err)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.histBase != base {
		return // the ring already rolled past the snapshot
	}
	f.hist = append(entries, f.hist...)
	f.histBase = from
	for len(f.hist) > f.histLimit {
		f.histBase = f.hist[0].rev
		f.hist = f.hist[1:]
	}
	f.log.Debug("history backfilled", "rev", from, "revisions", len(entries))
}

func (f *feed) applyUpdate(rev int64, raw []RawChange) error {
	changes := make([]rawChange, 0, len(raw))
	for _, c := range raw {
		u, err := f.rowKey(c.Table, c.UUID)
		if err != nil {
			return err
		}
		changes = append(changes, rawChange{table: c.Table, uuid: u, new: nilIfEmpty(c.New)})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if rev <= f.rev {
		return nil // already applied (a resumed stream may repeat)
	}
	// Decode the new rows before changing anything, so a bad one leaves
	// the state as it was (the subscription then resyncs). Without
	// monitors nothing reads them: they are kept as they are.
	var news []ovsdb.Row
	if len(f.monitors) > 0 {
		news = make([]ovsdb.Row, len(changes))
		for i, c := range changes {
			if c.new == nil || !f.watchedLocked(c.table) {
				continue
			}
			row, err := f.schema.Tables[c.table].DecodeRow(c.new)
			if err != nil {
				return fmt.Errorf("decode row %s of table %q: %w", c.uuid, c.table, err)
			}
			news[i] = row
		}
	}
	kept := changes[:0]
	var decoded []rowChange
	for i, c := range changes {
		tbl := f.rows[c.table]
		old := tbl[c.uuid]
		if old == nil && c.new == nil {
			continue
		}
		if c.new == nil {
			delete(tbl, c.uuid)
		} else {
			tbl[c.uuid] = c.new
		}
		c.old = old
		kept = append(kept, c)
		if news != nil && f.watchedLocked(c.table) {
			decoded = append(decoded, rowChange{table: c.table, uuid: c.uuid, old: f.oldRowLocked(c.table, c.uuid, old), new: news[i]})
			f.rememberLocked(c.table, c.uuid, c.new, news[i])
		}
	}
	f.recordLocked(rev, kept)
	f.publishLocked(rev, decoded)
	f.advanceLocked(rev)
	return nil
}

// hotRows bounds feed.hot.
const hotRows = 1024

type hotKey struct {
	table string
	uuid  ovsdb.UUID
}

// hotRow is a stored row and its decoded form.
type hotRow struct {
	raw []byte
	row ovsdb.Row
}

// sameBytes reports whether a and b are the same slice (not just equal
// contents: stored rows are never modified in place).
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// oldRowLocked decodes the stored row raw of a change, from hot when it
// was decoded as the new row of an earlier change.
func (f *feed) oldRowLocked(table string, uuid ovsdb.UUID, raw []byte) ovsdb.Row {
	if h, ok := f.hot[hotKey{table, uuid}]; ok && sameBytes(h.raw, raw) {
		return h.row
	}
	return f.rowOf(table, raw)
}

// rememberLocked records the decoded form of a row just stored (row nil:
// deleted).
func (f *feed) rememberLocked(table string, uuid ovsdb.UUID, raw []byte, row ovsdb.Row) {
	k := hotKey{table, uuid}
	if row == nil {
		delete(f.hot, k)
		return
	}
	if _, ok := f.hot[k]; !ok && len(f.hot) >= hotRows {
		clear(f.hot)
	}
	f.hot[k] = hotRow{raw: raw, row: row}
}

// nilIfEmpty maps an absent row (empty value) to nil.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// publishLocked queues the update of revision rev to every monitor.
func (f *feed) publishLocked(rev int64, changes []rowChange) {
	if len(changes) == 0 {
		return
	}
	cache := &renderCache{rev: rev, changes: changes, bySig: map[string][]byte{}}
	for m := range f.monitors {
		m.sess.pushUpdate(m, cache)
	}
}

// notificationLocked renders an update, update2 or update3 notification
// of upd for m, or nil when upd is empty.
func (f *feed) notificationLocked(m *monitor, rev int64, upd map[string]any) []byte {
	if len(upd) == 0 {
		return nil
	}
	b, err := marshal(upd)
	if err != nil {
		f.log.Error("encode update", "monitor_id", string(m.idJSON), "err", err)
		return nil
	}
	return f.encodeUpdate(m, rev, b)
}

// encodeUpdate wraps encoded table-updates for m: [id, upd] for update
// and update2, [id, last-txn-id, upd] for update3.
func (f *feed) encodeUpdate(m *monitor, rev int64, upd []byte) []byte {
	b := make([]byte, 0, len(upd)+len(m.idJSON)+96)
	b = append(b, `{"id":null,"method":"`...)
	b = append(b, updateMethods[m.version]...)
	b = append(b, `","params":[`...)
	b = append(b, m.idJSON...)
	b = append(b, ',')
	if m.version == 3 {
		b = append(b, '"')
		b = append(b, txnID(f.clusterID, rev).String()...)
		b = append(b, `",`...)
	}
	b = append(b, upd...)
	b = append(b, "]}"...)
	return b
}

// renderCache shares the encoded table-updates of one revision between
// monitors with the same selection (monitor.sig), so an update's JSON is
// built once however many clients watch the same thing.
type renderCache struct {
	rev     int64
	changes []rowChange
	bySig   map[string][]byte // nil value: nothing for that selection
}

func (f *feed) cachedNotificationLocked(m *monitor, c *renderCache) []byte {
	upd, ok := c.bySig[m.sig]
	if !ok {
		if u := m.updateJSON(c.changes); len(u) > 0 {
			var err error
			if upd, err = marshal(u); err != nil {
				f.log.Error("encode update", "monitor_id", string(m.idJSON), "err", err)
				upd = nil
			}
		}
		c.bySig[m.sig] = upd
	}
	if upd == nil {
		return nil
	}
	return f.encodeUpdate(m, c.rev, upd)
}

var updateMethods = map[int]string{1: "update", 2: "update2", 3: "update3"}

func (f *feed) advanceLocked(rev int64) {
	if rev <= f.rev {
		return
	}
	f.rev = rev
	f.metrics.feedRevision.WithLabelValues(f.name).Set(float64(rev))
	close(f.revCh)
	f.revCh = make(chan struct{})
	if f.onChange != nil {
		f.onChange()
	}
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

// waitBackfilled waits until backfill has finished.
func (f *feed) waitBackfilled(ctx context.Context) error {
	select {
	case <-f.backfilled:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("database %q history not loaded: %w", f.name, ctx.Err())
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
// every change exactly once, after the initial state. For
// monitor_cond_since (version 3), since is the client's last-txn-id: if
// the history still covers it the reply carries only what changed
// since (found=true), otherwise the whole state.
func (f *feed) register(ctx context.Context, m *monitor, id json.RawMessage, since ovsdb.UUID) error {
	if err := f.waitReady(ctx); err != nil {
		return err
	}
	if m.version == 3 {
		if err := f.waitBackfilled(ctx); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var b []byte
	var err error
	if m.version < 3 {
		b, err = m.appendInitial(nil, f.rows, f.rowOf)
	} else {
		rev, ok := txnRev(f.clusterID, since)
		found := ok && rev >= f.histBase && rev <= f.rev
		b = fmt.Appendf(nil, `[%t,"%s",`, found, txnID(f.clusterID, f.rev))
		if found {
			upd := m.updateJSON(f.changesSinceLocked(m, rev))
			if upd == nil {
				upd = map[string]any{}
			}
			var ub []byte
			ub, err = marshal(upd)
			b = append(b, ub...)
		} else {
			b, err = m.appendInitial(b, f.rows, f.rowOf)
		}
		b = append(b, ']')
	}
	if err != nil {
		return fmt.Errorf("encode initial rows: %w", err)
	}
	f.monitors[m] = struct{}{}
	for name := range m.tables {
		f.watched[name]++
	}
	f.metrics.monitors.Inc()
	m.sess.replyRaw(id, b)
	return nil
}

// changeCond replaces the conditions of some of m's tables
// (monitor_cond_change), renames it to newID, and queues the inserts and
// deletes of rows that start or stop matching, then the reply, so the
// client sees them before the reply (as ovsdb-server does).
func (f *feed) changeCond(m *monitor, newID []byte, tables map[string]*tableMonitor, reqID json.RawMessage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m.sess.freezeLag(m)
	m.idJSON = newID
	if m.version == 1 {
		// ovsdb-server accepts conditions for a plain "monitor" and
		// ignores them.
		m.sess.replyResult(reqID, map[string]any{})
		return
	}
	upd := map[string]any{}
	for name, ntm := range tables {
		otm := m.tables[name]
		tu := map[string]any{}
		for u, raw := range f.rows[name] {
			row := f.rowOf(name, raw)
			om, nm := otm != nil && otm.match(u, row), ntm.match(u, row)
			switch {
			case om && !nm:
				tu[u.String()] = map[string]any{"delete": nil}
			case !om && nm:
				tu[u.String()] = map[string]any{"insert": ntm.rowJSON(row, true)}
			}
		}
		if len(tu) > 0 {
			upd[name] = tu
		}
		if _, had := m.tables[name]; !had {
			if _, reg := f.monitors[m]; reg {
				f.watched[name]++
			}
		}
		m.tables[name] = ntm
	}
	m.sig = m.signature()
	if b := f.notificationLocked(m, f.rev, upd); b != nil {
		m.sess.enqueue(b)
	}
	m.sess.replyResult(reqID, map[string]any{})
}

func (f *feed) unregister(m *monitor) {
	f.mu.Lock()
	if _, ok := f.monitors[m]; ok {
		delete(f.monitors, m)
		for name := range m.tables {
			if f.watched[name]--; f.watched[name] <= 0 {
				delete(f.watched, name)
			}
		}
		if len(f.monitors) == 0 {
			clear(f.hot) // nothing reads decoded rows any more
		}
		f.metrics.monitors.Dec()
	}
	f.mu.Unlock()
}
