package monitorhub

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// replayBatch is the number of updates a subscriber copies out of the
// history per lock acquisition.
const replayBatch = 64

// sender is where a subscription writes: the gRPC stream, or a test.
type sender interface {
	snapshot(rev int64, rows []Row, last bool) error
	update(u *Update) error
	progress(rev int64) error
}

// serve runs one subscription until ctx ends, the hub closes, or the
// subscriber is closed for lagging or for falling out of the history.
//
// fromRev 0 asks for a snapshot at the current revision and then the
// updates after it. fromRev > 0 replays the updates after fromRev when the
// state at fromRev is known (canResumeLocked), else starts with a
// snapshot. The subscriber is registered under the database lock in the
// same critical section that takes the snapshot or checks the resume
// point, so no update falls between the two.
//
// The subscriber never holds the lock while sending: it copies up to
// replayBatch shared updates and sends them, so a slow stream only delays
// itself. Once it has reached the revision the hub was at when it
// subscribed, letting more than SubscriberMaxLag updates pile up closes it
// with ErrLagging (it resumes from the history at its last revision); if
// its position leaves the history it is closed with ErrTooOld.
//
// A fromRev past the hub's revision is served by waiting for the hub to
// get there (another hub replica was ahead), unless it is past etcd's own
// revision too: then it comes from another etcd cluster and gets a
// snapshot.
func (h *Hub) serve(ctx context.Context, name string, fromRev int64, s sender) error {
	if fromRev < 0 {
		return fmt.Errorf("%w: negative start revision %d", ErrInvalidRequest, fromRev)
	}
	d, err := h.database(ctx, name)
	if err != nil {
		return err
	}
	if fromRev > d.currentRev() {
		// A resume point past the hub is fine if etcd has it (another hub
		// was ahead); past etcd's own revision it comes from another etcd
		// (a recreated cluster), and waiting for it would miss changes.
		resp, err := h.cli.Get(ctx, h.layout.Schema(name), clientv3.WithCountOnly())
		if err != nil {
			return fmt.Errorf("read revision of %q: %w", name, err)
		}
		if fromRev > resp.Header.Revision {
			d.log.Warn("resume revision is past etcd's; sending a snapshot", "rev", fromRev, "etcd_rev", resp.Header.Revision)
			fromRev = 0
		}
	}
	m := h.metrics
	sub := &subscriber{wake: make(chan struct{}, 1)}
	var snap []Row
	d.mu.Lock()
	cursor := fromRev
	resume := fromRev > 0 && d.canResumeLocked(fromRev)
	if !resume {
		snap = d.snapshotLocked()
		cursor = d.rev
	}
	// The subscriber has caught up once it reaches the revision the hub
	// was at when it subscribed; only then does the lag limit apply.
	target := d.rev
	sub.cursor.Store(cursor)
	d.subs[sub] = struct{}{}
	d.mu.Unlock()
	m.subscribers.WithLabelValues(name).Inc()
	defer func() {
		d.mu.Lock()
		delete(d.subs, sub)
		d.mu.Unlock()
		m.subscribers.WithLabelValues(name).Dec()
	}()
	log := d.log.With("from_rev", fromRev)
	if resume {
		m.historyReplays.WithLabelValues(name).Inc()
		log.Debug("subscriber resumes from history")
	} else {
		m.snapshotsServed.WithLabelValues(name).Inc()
		log.Debug("subscriber starts with a snapshot", "rev", cursor, "rows", len(snap))
		if err := h.sendSnapshot(cursor, snap, s); err != nil {
			return err
		}
	}

	caughtUp := cursor >= target
	for {
		d.mu.RLock()
		tooOld := cursor < d.baseRev
		batch := d.hist.after(cursor, replayBatch)
		pending := len(batch)
		if pending == replayBatch {
			pending = d.hist.countAfter(cursor)
		}
		rev := d.rev
		d.mu.RUnlock()
		switch {
		case tooOld:
			m.closedSubs.WithLabelValues(name, "too_old").Inc()
			log.Info("closing subscriber: its revision left the history", "rev", cursor)
			return &SubscriberClosedError{Err: ErrTooOld, LastRev: cursor}
		case caughtUp && pending > h.cfg.SubscriberMaxLag:
			m.closedSubs.WithLabelValues(name, "lagging").Inc()
			log.Info("closing lagging subscriber", "rev", cursor, "pending", pending)
			return &SubscriberClosedError{Err: ErrLagging, LastRev: cursor}
		}
		if len(batch) == 0 {
			if rev > cursor {
				if err := s.progress(rev); err != nil {
					return err
				}
				cursor = rev
				sub.cursor.Store(cursor)
			}
			caughtUp = true
			select {
			case <-sub.wake:
				continue
			case <-ctx.Done():
				return ctx.Err()
			case <-h.ctx.Done():
				m.closedSubs.WithLabelValues(name, "shutdown").Inc()
				return &SubscriberClosedError{Err: ErrClosed, LastRev: cursor}
			}
		}
		for _, u := range batch {
			if u.Len() > 0 {
				if err := s.update(u); err != nil {
					return err
				}
			}
			cursor = u.Rev
			sub.cursor.Store(cursor)
		}
		caughtUp = caughtUp || cursor >= target
	}
}

// sendSnapshot sends rows in chunks of about SnapshotChunkBytes; an empty
// database is one empty last chunk.
func (h *Hub) sendSnapshot(rev int64, rows []Row, s sender) error {
	limit := h.cfg.SnapshotChunkBytes
	start, size := 0, 0
	for i, r := range rows {
		size += len(r.Table) + len(r.UUID) + len(r.Value) + 16
		if size >= limit && i+1 < len(rows) {
			if err := s.snapshot(rev, rows[start:i+1], false); err != nil {
				return err
			}
			start, size = i+1, 0
		}
	}
	return s.snapshot(rev, rows[start:], true)
}
