package frontend

import (
	"errors"
	"net"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// The outbound queue of a session.
//
// Items are written in queue order. An item is either encoded bytes (a
// reply or a notification) or a lag slot: once a session's unsent bytes
// pass Config.LagBacklogBytes, each monitor's further updates are merged
// per row into one slot queued where the first of them would have been,
// and rendered only when the writer reaches it. A slot precedes every
// reply queued after the updates merged into it, so update-before-reply
// still holds, and a stalled client costs at most one net change per
// row and monitor instead of a growing list of updates (apiserver's
// cacheWatcher has the same problem and closes the watcher instead).

// outItem is one entry of the outbound queue.
type outItem struct {
	raw []byte
	lag *lagSlot
}

// lagSlot holds the merged updates of one monitor.
type lagSlot struct {
	m       *monitor
	rev     int64 // the latest merged revision
	changes []rowChange
	index   map[rowKey]int // position in changes
}

type rowKey struct {
	table string
	uuid  ovsdb.UUID
}

// merge folds changes of revision rev into the slot: per row, the first
// old and the last new.
func (ls *lagSlot) merge(rev int64, changes []rowChange) {
	ls.rev = rev
	for _, c := range changes {
		k := rowKey{c.table, c.uuid}
		if i, ok := ls.index[k]; ok {
			ls.changes[i].new = c.new
			continue
		}
		ls.index[k] = len(ls.changes)
		ls.changes = append(ls.changes, c)
	}
}

// net drops rows whose merged change cancels out.
func (ls *lagSlot) net() []rowChange {
	out := make([]rowChange, 0, len(ls.changes))
	for _, c := range ls.changes {
		if (c.old == nil && c.new == nil) || (c.old != nil && c.new != nil && rowsEqual(c.old, c.new)) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// enqueue appends an encoded message to the outbound queue. It never
// blocks; it returns false when the session is closing or its backlog
// is over MaxBacklogBytes (the session is then closed).
func (s *session) enqueue(b []byte) bool {
	s.outMu.Lock()
	if s.outClosed {
		s.outMu.Unlock()
		return false
	}
	if s.outBytes+len(b) > s.srv.cfg.MaxBacklogBytes {
		s.outClosed = true
		s.out, s.outBytes = nil, 0
		s.outMu.Unlock()
		s.log.Warn("dropping client: output backlog over limit", "limit", s.srv.cfg.MaxBacklogBytes)
		s.srv.metrics.dropped.WithLabelValues(dropBacklog).Inc()
		s.cancel()
		return false
	}
	if s.raw != nil && len(s.out) == 0 && !s.writing {
		// Nothing is queued or being written: write now, without
		// blocking, and queue only what the socket did not take.
		// Holding outMu keeps the order of enqueue calls.
		n, err := s.writeNow(b)
		s.srv.metrics.writesDirect.Inc()
		if err != nil {
			s.outClosed = true
			s.outMu.Unlock()
			s.writeFailed(err)
			return false
		}
		b = b[n:]
		if len(b) == 0 {
			s.outMu.Unlock()
			return true
		}
	}
	s.out = append(s.out, outItem{raw: b})
	s.outBytes += len(b)
	n := s.outBytes
	s.outMu.Unlock()
	s.srv.metrics.observeBacklog(int64(n))
	s.signal()
	return true
}

// writeNow writes as much of b to the socket as it takes without
// blocking. The caller holds outMu, and writeLoop is idle.
func (s *session) writeNow(b []byte) (n int, err error) {
	var werr error
	cerr := s.raw.Write(func(fd uintptr) bool {
		for n < len(b) {
			k, e := syscall.Write(int(fd), b[n:])
			if k > 0 {
				n += k
			}
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
			case e != nil:
				werr = e
			case k > 0:
				continue
			}
			break
		}
		return true // never wait for the socket: writeLoop does that
	})
	return n, errors.Join(cerr, werr)
}

// writeFailed drops the client after a failed write.
func (s *session) writeFailed(err error) {
	if s.ctx.Err() == nil {
		s.log.Info("dropping client: write failed", "err", err)
		s.srv.metrics.dropped.WithLabelValues(dropWrite).Inc()
	}
	s.cancel()
}

func (s *session) signal() {
	select {
	case s.outSig <- struct{}{}:
	default:
	}
}

// pushUpdate queues the update of one revision for monitor m. The caller
// holds m.feed.mu. When the session lags, the changes are merged into the
// monitor's lag slot instead of being rendered now.
func (s *session) pushUpdate(m *monitor, c *renderCache) {
	s.outMu.Lock()
	if s.outClosed {
		s.outMu.Unlock()
		return
	}
	slot := s.lagging[m]
	if slot == nil && s.outBytes > s.srv.cfg.LagBacklogBytes {
		slot = &lagSlot{m: m, index: map[rowKey]int{}}
		s.lagging[m] = slot
		s.out = append(s.out, outItem{lag: slot})
		s.srv.metrics.lagging.Inc()
	}
	if slot != nil {
		slot.merge(c.rev, c.changes)
		s.outMu.Unlock()
		s.signal()
		return
	}
	s.outMu.Unlock()
	if b := m.feed.cachedNotificationLocked(m, c); b != nil {
		if s.enqueue(b) {
			s.srv.metrics.updates.Inc()
		}
	}
}

// freezeLag renders m's pending lag slot now, with m's current tables,
// before they change (monitor_cond_change). The caller holds m.feed.mu.
func (s *session) freezeLag(m *monitor) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	slot := s.lagging[m]
	if slot == nil {
		return
	}
	delete(s.lagging, m)
	s.srv.metrics.lagging.Dec()
	b := m.feed.notificationLocked(m, slot.rev, m.updateJSON(slot.net()))
	for i := range s.out {
		if s.out[i].lag == slot {
			s.out[i] = outItem{raw: b} // nil raw: nothing to send
			s.outBytes += len(b)
		}
	}
}

// writeLoop owns writes to the connection.
func (s *session) writeLoop() {
	defer s.wg.Done()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic writing to client", "panic", r, "stack", string(debug.Stack()))
			s.cancel()
		}
	}()
	var deadline time.Time // the connection's write deadline
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.outSig:
		}
		s.outMu.Lock()
		batch := s.out
		s.out = nil
		s.writing = len(batch) > 0
		for _, it := range batch {
			if it.lag != nil && s.lagging[it.lag.m] == it.lag {
				// Freeze the slot: later updates go behind this point.
				delete(s.lagging, it.lag.m)
			}
		}
		s.outMu.Unlock()
		if len(batch) == 0 {
			continue
		}
		bufs := make(net.Buffers, 0, len(batch))
		queued := 0
		for _, it := range batch {
			if it.lag == nil {
				queued += len(it.raw)
				if len(it.raw) > 0 {
					bufs = append(bufs, it.raw)
				}
				continue
			}
			if b := s.renderLag(it.lag); b != nil {
				bufs = append(bufs, b)
			}
		}
		// Re-arm the write deadline only once half of it has passed: a
		// write still gets between WriteTimeout/2 and WriteTimeout, and a
		// busy session does not pay a deadline update per write.
		if now := time.Now(); now.After(deadline.Add(-s.srv.cfg.WriteTimeout / 2)) {
			deadline = now.Add(s.srv.cfg.WriteTimeout)
			_ = s.conn.SetWriteDeadline(deadline)
		}
		s.srv.metrics.writesQueue.Inc()
		if _, err := bufs.WriteTo(s.conn); err != nil {
			s.writeFailed(err)
			return
		}
		s.outMu.Lock()
		s.writing = false
		s.outBytes -= queued
		close(s.drained)
		s.drained = make(chan struct{})
		s.outMu.Unlock()
	}
}

// renderLag renders a frozen lag slot.
func (s *session) renderLag(slot *lagSlot) []byte {
	m := slot.m
	m.feed.mu.Lock()
	defer m.feed.mu.Unlock()
	s.srv.metrics.lagging.Dec()
	b := m.feed.notificationLocked(m, slot.rev, m.updateJSON(slot.net()))
	if b != nil {
		s.srv.metrics.updates.Inc()
	}
	return b
}

// waitDrained blocks while the unsent output is over LagBacklogBytes.
func (s *session) waitDrained() error {
	for {
		s.outMu.Lock()
		over := s.outBytes > s.srv.cfg.LagBacklogBytes
		ch := s.drained
		s.outMu.Unlock()
		if !over {
			return nil
		}
		select {
		case <-ch:
		case <-s.ctx.Done():
			return s.ctx.Err()
		}
	}
}
