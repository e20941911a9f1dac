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
// with etcd, the ModRevision of db's commit key (keys.Commit), which the
// txnengine writes in every Txn that changes db, read linearizably: it
// covers commits through other frontends, costs one etcd round trip
// whatever the database's size, and, unlike etcd's cluster-wide revision,
// never waits for a write to another database or to a lock key. The wait
// is bounded by MonitorSyncTimeout and then gives up quietly (the state is
// then no older than a clustered ovsdb-server follower's). Errors are not
// returned: a monitor is never refused because the catch-up failed.
//
// For _Server it catches up every database and then refreshes _Server's
// rows, so that its "index" is never lower than one a client saw through
// another frontend (the IDL drops a server whose index went backwards).
func (s *Server) catchUp(ctx context.Context, db *database) {
	if db.server != nil {
		for _, other := range s.dbs {
			if other.server == nil {
				s.catchUp(ctx, other)
			}
		}
		db.server.refresh()
		return
	}
	if db.feed == nil {
		return
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
	resp, err := s.deps.Etcd.Get(gctx, s.keys.Commit(db.name))
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("monitor: read last commit revision", "db", db.name, "err", err)
		}
		return
	}
	if len(resp.Kvs) == 0 {
		return // nothing committed to db yet
	}
	if rem := s.cfg.MonitorSyncTimeout - time.Since(start); rem > 0 {
		s.waitFeed(ctx, db, resp.Kvs[0].ModRevision, rem)
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
