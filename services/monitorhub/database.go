package monitorhub

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// listPageSize is the number of keys read per etcd range request when
// loading a database.
const listPageSize = 1000

// errWatchClosed: the etcd watch channel closed without an error.
var errWatchClosed = errors.New("monitorhub: etcd watch closed")

// errRevisionReplayed: the watch delivered a revision at or below the one
// already applied. A re-established watch starts after the applied
// revision, so this would mean a revision split across responses or a
// replay; the hub cannot tell which, so it re-reads the database.
var errRevisionReplayed = errors.New("monitorhub: etcd watch delivered an applied revision")

// database is the hub's copy of one OVSDB database: its rows, its history
// and its subscribers. Its run goroutine (the watch loop) is the only
// writer of the guarded fields.
type database struct {
	hub    *Hub
	name   string
	prefix string // <prefix>/<service>/<db>/
	log    *slog.Logger
	ready  chan struct{} // closed once rows are current at readyRev

	// tables interns the table names of rowIDs and Changes. Only the run
	// goroutine (load, list, apply, resync) touches it, so it needs no
	// lock.
	tables map[string]string

	mu sync.RWMutex
	// mu guards the fields below.
	rows    map[rowID][]byte // row -> its etcd value (JSON), as etcd returned it
	rev     int64            // the revision rows are current at
	baseRev int64            // the oldest revision a subscriber may resume from
	hist    history
	subs    map[*subscriber]struct{}
	// readyRev is the newest revision of the database's keys when the
	// load started; subscribers wait until the replay of the rebuilt
	// history reaches it, so that a snapshot is not older than the hub.
	readyRev int64
	isReady  bool
}

// subscriber is one Watch stream. Its goroutine owns cursor; the watch
// loop reads it to count lag and pokes wake without blocking.
type subscriber struct {
	wake   chan struct{} // capacity 1
	cursor atomic.Int64  // the last revision sent (update or progress)
}

func newDatabase(h *Hub, name string) *database {
	return &database{
		hub:    h,
		name:   name,
		prefix: h.layout.DB(name),
		log:    h.log.With("db", name),
		ready:  make(chan struct{}),
		rows:   map[rowID][]byte{},
		tables: map[string]string{},
		subs:   map[*subscriber]struct{}{},
	}
}

// run is the watch loop: load, then watch until ctx ends, re-watching
// from the last applied revision after any failure and re-reading the
// database when that revision was compacted.
func (d *database) run(ctx context.Context) {
	bo := newRetryDelay()
	for {
		err := d.load(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		d.log.Warn("load database from etcd", "err", err)
		if !bo.wait(ctx) {
			return
		}
	}
	bo.reset()
	for {
		progressed, err := d.watch(ctx)
		if ctx.Err() != nil {
			return
		}
		if progressed {
			bo.reset()
		}
		d.hub.metrics.watchRestarts.WithLabelValues(d.name).Inc()
		if errors.Is(err, rpctypes.ErrCompacted) || errors.Is(err, errRevisionReplayed) {
			d.log.Warn("re-reading the database", "rev", d.currentRev(), "err", err)
			if rerr := d.resync(ctx); rerr != nil {
				if ctx.Err() != nil {
					return
				}
				d.log.Warn("resync database", "err", rerr)
				bo.wait(ctx)
			}
			continue
		}
		d.log.Info("etcd watch ended; re-watching", "rev", d.currentRev(), "err", err)
		if !bo.wait(ctx) {
			return
		}
	}
}

func (d *database) currentRev() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.rev
}

// load reads the database as it was HistoryRebuildRevisions revisions ago
// (or at the oldest uncompacted revision), so that the watch that follows
// replays the recent changes into the history: a frontend that resumes
// after a hub restart then finds its revision in the history.
func (d *database) load(ctx context.Context) error {
	cli := d.hub.cli
	resp, err := cli.Get(ctx, d.hub.layout.Schema(d.name), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("read revision of %q: %w", d.name, err)
	}
	cur := resp.Header.Revision
	start := max(cur-d.hub.cfg.HistoryRebuildRevisions, 1)
	if start < cur {
		start, err = d.oldestRevision(ctx, start, cur)
		if err != nil {
			return err
		}
	}
	// The replay is caught up once it reaches the newest key revision
	// of the database at cur (a later deletion arrives as an update), so
	// becoming ready does not wait for a progress notification.
	newest, err := cli.Get(ctx, d.prefix, clientv3.WithPrefix(), clientv3.WithRev(cur),
		clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortDescend),
		clientv3.WithLimit(1), clientv3.WithKeysOnly())
	if err != nil {
		return fmt.Errorf("read newest revision of %q: %w", d.name, err)
	}
	rows, rev, err := d.list(ctx, start)
	if errors.Is(err, rpctypes.ErrCompacted) {
		rows, rev, err = d.list(ctx, 0)
	}
	if err != nil {
		return err
	}
	readyRev := rev
	if len(newest.Kvs) > 0 {
		readyRev = max(readyRev, newest.Kvs[0].ModRevision)
	}
	d.mu.Lock()
	d.rows, d.rev, d.baseRev, d.readyRev = rows, rev, rev, readyRev
	d.markReadyLocked()
	d.mu.Unlock()
	d.hub.metrics.revision.WithLabelValues(d.name).Set(float64(rev))
	d.log.Info("loaded database", "rev", rev, "rows", len(rows), "current_rev", cur)
	return nil
}

// oldestRevision finds by bisection the oldest revision in [lo, hi] that
// etcd has not compacted (hi is current, so never compacted).
func (d *database) oldestRevision(ctx context.Context, lo, hi int64) (int64, error) {
	key := d.hub.layout.Schema(d.name)
	ok := func(rev int64) (bool, error) {
		_, err := d.hub.cli.Get(ctx, key, clientv3.WithRev(rev), clientv3.WithCountOnly())
		if errors.Is(err, rpctypes.ErrCompacted) {
			return false, nil
		}
		return err == nil, err
	}
	if good, err := ok(lo); err != nil || good {
		return lo, err
	}
	for lo+1 < hi { // lo is compacted, hi is not
		mid := lo + (hi-lo)/2
		good, err := ok(mid)
		if err != nil {
			return 0, fmt.Errorf("probe compaction of %q: %w", d.name, err)
		}
		if good {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}

// list reads every row of the database at rev (0: the current revision),
// page by page at one revision. The values are kept as the etcd client
// decoded them (each is its own allocation, not a view of the response).
func (d *database) list(ctx context.Context, rev int64) (map[rowID][]byte, int64, error) {
	rows := map[rowID][]byte{}
	key, end := d.prefix, clientv3.GetPrefixRangeEnd(d.prefix)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(listPageSize)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := d.hub.cli.Get(ctx, key, opts...)
		if err != nil {
			return nil, 0, fmt.Errorf("list %q at revision %d: %w", d.name, rev, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			if table, u, ok := rowKey(d.hub.layout, d.name, string(kv.Key)); ok {
				rows[rowID{intern(d.tables, table), u}] = kv.Value
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return rows, rev, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// watch runs one etcd watch from the revision after the last applied one
// until it fails. progressed tells whether it delivered anything. It
// does not ask for previous values (WithPrevKV): the hub holds them in
// rows, and etcd would read and send each one again.
func (d *database) watch(ctx context.Context) (progressed bool, err error) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	from := d.currentRev() + 1
	wch := d.hub.watcher.Watch(wctx, d.prefix,
		clientv3.WithPrefix(), clientv3.WithRev(from),
		clientv3.WithProgressNotify())
	d.hub.metrics.etcdWatches.Inc()
	defer d.hub.metrics.etcdWatches.Dec()
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return progressed, err
		}
		if resp.Created {
			continue
		}
		progressed = true
		if resp.IsProgressNotify() {
			d.progress(resp.Header.Revision)
		} else if err := d.apply(resp.Events); err != nil {
			return progressed, err
		}
		if hr := resp.Header.GetRevision(); hr > 0 {
			d.hub.metrics.watchLag.WithLabelValues(d.name).Set(float64(max(hr-d.currentRev(), 0)))
		}
	}
	if ctx.Err() != nil {
		return progressed, ctx.Err()
	}
	return progressed, errWatchClosed
}

// progress records that the database is unchanged up to rev.
func (d *database) progress(rev int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if rev <= d.rev {
		return
	}
	d.rev = rev
	d.hub.metrics.revision.WithLabelValues(d.name).Set(float64(rev))
	d.markReadyLocked()
	d.wakeLocked()
}

// markReadyLocked opens the database to subscribers once its rows are
// current at readyRev.
func (d *database) markReadyLocked() {
	if !d.isReady && d.readyRev > 0 && d.rev >= d.readyRev {
		d.isReady = true
		close(d.ready)
	}
}

// apply turns the events of one watch response into one Update per
// revision. etcd never splits a revision across watch responses (the
// watcher does not ask for fragments, and mvcc's watcherBatch cuts only
// between revisions), so each group of equal ModRevision is a whole
// revision. A revision at or below the applied one stops the apply with
// errRevisionReplayed, and the caller re-reads the database: a change is
// never dropped or published twice on a guess.
func (d *database) apply(evs []*clientv3.Event) (err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	published := 0
	defer func() {
		d.hub.metrics.revision.WithLabelValues(d.name).Set(float64(d.rev))
		d.hub.metrics.updatesPublished.WithLabelValues(d.name).Add(float64(published))
		d.markReadyLocked()
		d.wakeLocked()
	}()
	for i := 0; i < len(evs); {
		rev := evs[i].Kv.ModRevision
		j := i
		for j < len(evs) && evs[j].Kv.ModRevision == rev {
			j++
		}
		group := evs[i:j]
		i = j
		if rev <= d.rev {
			d.log.Error("etcd watch delivered an applied revision", "rev", rev, "applied_rev", d.rev)
			return fmt.Errorf("%w: %d after %d", errRevisionReplayed, rev, d.rev)
		}
		// Exactly sized: the history keeps this slice.
		changes := make([]Change, 0, len(group))
		for _, ev := range group {
			table, u, ok := rowKey(d.hub.layout, d.name, string(ev.Kv.Key))
			if !ok {
				continue
			}
			id := rowID{intern(d.tables, table), u}
			old, had := d.rows[id]
			var val []byte
			if ev.Type == mvccpb.PUT {
				val = ev.Kv.Value
				d.rows[id] = val
			} else {
				if !had {
					continue
				}
				delete(d.rows, id)
			}
			changes = append(changes, Change{Table: id.table, UUID: u.String(), Old: old, New: val})
		}
		if len(changes) == 0 {
			changes = nil
		}
		prev := d.rev
		d.rev = rev
		if len(changes) > 0 {
			d.pushLocked(newUpdate(rev, prev, changes, false))
			published++
		}
	}
	return nil
}

// resync re-reads the database after its watch revision was compacted and
// publishes the difference as one Update at the new revision. Subscribers
// at the old revision receive it as an ordinary update; a resume from a
// revision strictly inside the unseen range gets a snapshot.
func (d *database) resync(ctx context.Context) error {
	rows, rev, err := d.list(ctx, 0)
	if err != nil {
		return err
	}
	d.hub.metrics.resyncs.WithLabelValues(d.name).Inc()
	d.mu.Lock()
	defer d.mu.Unlock()
	if rev <= d.rev {
		return nil
	}
	var changes []Change
	for k, v := range rows {
		if old, ok := d.rows[k]; !ok || !bytes.Equal(old, v) {
			changes = append(changes, Change{Table: k.table, UUID: k.uuid.String(), Old: old, New: v})
		}
	}
	for k, old := range d.rows {
		if _, ok := rows[k]; !ok {
			changes = append(changes, Change{Table: k.table, UUID: k.uuid.String(), Old: old})
		}
	}
	slices.SortFunc(changes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.UUID, b.UUID))
	})
	prev := d.rev
	d.rows, d.rev = rows, rev
	// Even an empty resync is kept: it marks (prev, rev) as unseen.
	d.pushLocked(newUpdate(rev, prev, changes, true))
	d.hub.metrics.revision.WithLabelValues(d.name).Set(float64(rev))
	d.log.Info("resynced database", "rev", rev, "prev_rev", prev, "changes", len(changes))
	d.markReadyLocked()
	d.wakeLocked()
	return nil
}

// pushLocked appends u to the history and trims the window to its limits,
// always keeping the newest update.
func (d *database) pushLocked(u *Update) {
	d.hist.push(u)
	cfg := &d.hub.cfg
	for d.hist.len() > 1 && (d.hist.len() > cfg.HistoryMaxTxns || d.hist.bytes > cfg.HistoryMaxBytes) {
		d.baseRev = d.hist.popFront().Rev
	}
	d.hub.metrics.historyUpdates.WithLabelValues(d.name).Set(float64(d.hist.len()))
	d.hub.metrics.historyBytes.WithLabelValues(d.name).Set(float64(d.hist.bytes))
}

// wakeLocked pokes every subscriber without blocking and counts the
// lagging ones.
func (d *database) wakeLocked() {
	lagging := 0
	for s := range d.subs {
		select {
		case s.wake <- struct{}{}:
		default:
		}
		if d.hist.countAfter(s.cursor.Load()) > d.hub.cfg.SubscriberMaxLag/2 {
			lagging++
		}
	}
	d.hub.metrics.laggingSubs.WithLabelValues(d.name).Set(float64(lagging))
}

// canResumeLocked tells whether the state at rev is known, so that the
// updates after rev describe exactly what a subscriber at rev misses. A
// revision past the newest one is resumable: the subscriber gets the
// updates after it once the hub sees them.
func (d *database) canResumeLocked(rev int64) bool {
	if rev < d.baseRev {
		return false
	}
	if rev >= d.rev {
		return true
	}
	u := d.hist.firstAfter(rev)
	return u == nil || !u.resync || u.PrevRev == rev
}

// snapshotLocked copies the rows (the values are shared, never mutated).
func (d *database) snapshotLocked() []Row {
	rows := make([]Row, 0, len(d.rows))
	for k, v := range d.rows {
		rows = append(rows, Row{Table: k.table, UUID: k.uuid.String(), Value: v})
	}
	return rows
}

// intern returns the copy of s that m holds, adding one (a clone, so
// that it does not keep the key s was cut from alive).
func intern(m map[string]string, s string) string {
	if v, ok := m[s]; ok {
		return v
	}
	v := strings.Clone(s)
	m[v] = v
	return v
}

// retryDelay is a capped exponential delay for retries of the watch loop.
type retryDelay struct{ next time.Duration }

const (
	initialBackoff = 50 * time.Millisecond
	maxBackoff     = 2 * time.Second
)

func newRetryDelay() *retryDelay { return &retryDelay{next: initialBackoff} }

func (b *retryDelay) reset() { b.next = initialBackoff }

// wait waits for the current delay and doubles it; false if ctx ended.
func (b *retryDelay) wait(ctx context.Context) bool {
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(b.next*2, maxBackoff)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
