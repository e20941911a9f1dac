package frontend

import (
	"context"
	"time"
)

// catchUp waits, bounded, until db's feed has applied every transaction
// acknowledged before the monitor request that calls it arrived, so a
// monitor's initial state never misses one (ovsdb-server answers from
// the state that includes every transaction it has acknowledged).
//
// Two marks bound what may have been acknowledged: the highest revision
// a transact on db through this frontend returned (exact, no I/O), and,
// with etcd, the revision of a linearizable read (covering other
// frontends). The read is of one key, so it costs one etcd round trip
// whatever the database's size. etcd's revision is cluster-wide: when the
// last write was to another database or to a lock key, the feed reaches
// it only through the monitorhub's next progress notification, which is
// why that wait is bounded by MonitorSyncTimeout and then gives up
// quietly (the state is then no older than a clustered ovsdb-server
// follower's). Errors are not returned: a monitor is never refused
// because the catch-up failed.
func (s *Server) catchUp(ctx context.Context, db *database) {
	if db.server != nil || db.feed == nil {
		return // _Server is local
	}
	f := db.feed
	if rev := f.committed.Load(); rev > 0 {
		s.waitFeed(ctx, db, rev, s.cfg.UpdateWaitTimeout)
	}
	if s.deps.Etcd == nil || s.cfg.MonitorSyncTimeout <= 0 {
		return
	}
	start := time.Now()
	gctx, cancel := context.WithTimeout(ctx, s.cfg.MonitorSyncTimeout)
	resp, err := s.deps.Etcd.Get(gctx, s.keys.Schema(db.name))
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("monitor: read etcd revision", "db", db.name, "err", err)
		}
		return
	}
	if rem := s.cfg.MonitorSyncTimeout - time.Since(start); rem > 0 {
		s.waitFeed(ctx, db, resp.Header.GetRevision(), rem)
	}
}

// waitFeed waits up to timeout for db's feed to apply rev.
func (s *Server) waitFeed(ctx context.Context, db *database, rev int64, timeout time.Duration) {
	f := db.feed
	f.mu.Lock()
	cur, healthy := f.rev, f.healthy
	f.mu.Unlock()
	if cur >= rev || !healthy {
		// Caught up, or the subscription is down and cannot catch up
		// before it is back (the monitor then gets what the feed has,
		// and the rest as updates once it resumes).
		return
	}
	if hook := s.testHookCatchUp.Load(); hook != nil {
		(*hook)(db.name)
	}
	s.metrics.monitorCatchUps.Inc()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := f.waitRev(wctx, rev); err != nil && ctx.Err() == nil {
		s.log.Debug("monitor: feed did not catch up", "db", db.name, "rev", rev, "err", err)
		s.metrics.monitorCatchUpMiss.Inc()
	}
}
