package txnengine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/txn"
)

// stage is one batch being executed in memory, then committed.
type stage struct {
	b     *batch
	done  []executed
	taken int // requests executed into it, parked or answered ones included
	start time.Time
	span  trace.Span // the execute span; nil until the first request
}

func (t *term) newStage() *stage { return &stage{b: newBatch(t.e.keys)} }

// full reports whether the stage reached the group-commit limits.
func (t *term) full(s *stage) bool {
	return s.b.ops() >= t.e.cfg.MaxBatchOps || s.b.bytes >= t.e.cfg.MaxBatchBytes || s.taken >= t.e.cfg.MaxBatchOps
}

// endSpan ends the stage's execute span, if any.
func (t *term) endSpan(s *stage) {
	if s.span != nil {
		s.span.SetAttributes(attribute.Int("batch_size", len(s.done)), attribute.Int64("leader_rev", t.leaderRev))
		s.span.End()
		s.span = nil
	}
}

// executeInto executes r against the in-memory state and adds its effect
// to s. A request whose context ended is answered at once; a blocked
// "wait" is parked. A non-nil error means the in-memory state is suspect
// (the executor broke, or an executed row does not encode): r has been
// answered, and the term must end.
func (t *term) executeInto(ctx context.Context, s *stage, r *request) error {
	s.taken++
	if err := r.ctx.Err(); err != nil {
		r.answer(Response{}, err) // never executed
		return nil
	}
	if s.span == nil {
		s.start = time.Now()
		_, s.span = t.e.tracer.Start(ctx, "txnengine.execute")
	}
	// The batch's spans are linked to each request's trace (the
	// frontend's, through otelgrpc), since one batch serves many.
	s.span.AddLink(trace.LinkFromContext(r.ctx))
	db := t.dbs[r.db]
	r.executed = time.Now()
	expired := !r.deadline.IsZero() && !time.Now().Before(r.deadline)
	r.asserted = r.asserted[:0]
	hasLock := func(name string) bool { return t.holdsLock(ctx, r, name) }
	res, perr := t.execute(db, r.ops, txn.Options{HasLock: hasLock, WaitExpired: expired, NewUUID: newRowUUID})
	if perr != nil {
		// The executor broke on this request and may have left the
		// in-memory state half changed: end the term (the next one
		// reloads from etcd). This one would break again, so it gets the
		// error; the caller answers the others retryably.
		t.log.Error("transaction broke the executor; ending the term", "db", r.db, "session", r.session, "err", perr)
		t.e.metrics.transactions.WithLabelValues("failed").Inc()
		r.answer(Response{}, perr)
		return perr
	}
	if res.Blocked {
		t.park(r, res.BlockTimeoutMs)
		return nil
	}
	if replyFailed(res.Reply) {
		res.Comments = nil // only committed transactions leave comments
	}
	if len(res.Changes) > 0 || len(res.Comments) > 0 {
		// Only a transaction that writes needs its asserts fenced: one
		// that writes nothing is answered from this execution alone.
		s.b.assert(r.asserted)
	}
	if err := s.b.add(r.db, db, res.Changes, res.Comments); err != nil {
		// Encoding a row the executor produced cannot fail unless the
		// schema and executor disagree; the memory state is suspect.
		err = fmt.Errorf("encode rows: %w", err)
		r.answer(Response{}, err)
		return err
	}
	s.done = append(s.done, executed{r: r, res: res})
	return nil
}

// process executes batch, pulling more queued requests while the batch
// stays under the group-commit limits (when drain), commits the result
// synchronously and answers every request. committed reports that data
// changed. The recovery paths (a batch past etcd's limits, a lock fence)
// use it with nothing in flight.
func (t *term) process(ctx context.Context, batch []*request, drain bool) (committed bool, err error) {
	s := t.newStage()
	for i := 0; ; i++ {
		if i == len(batch) {
			if !drain || t.full(s) {
				break
			}
			select {
			case r := <-t.queue:
				t.took.Add(1)
				batch = append(batch, r)
			default:
			}
			if i == len(batch) {
				break
			}
		}
		if err := t.executeInto(ctx, s, batch[i]); err != nil {
			t.endSpan(s)
			t.failAll(s.done, fmt.Errorf("%w: %s", ErrLeadershipLost, err.Error()))
			t.failRequests(batch[i+1:], fmt.Errorf("%w: %s", ErrLeadershipLost, err.Error()))
			return false, err
		}
	}
	t.endSpan(s)
	if len(s.done) == 0 {
		return false, nil
	}
	if s.b.empty() {
		t.publish(ctx, s.done, 0, nil)
		return false, nil
	}
	rev, cerr := t.commit(ctx, s.b)
	return t.landed(ctx, s, rev, cerr)
}

// failRequests answers requests that were taken but never executed.
func (t *term) failRequests(rs []*request, err error) {
	for _, r := range rs {
		t.e.metrics.transactions.WithLabelValues("unavailable").Inc()
		r.answer(Response{}, err)
	}
}

// landed answers the requests of stage s, whose Txn returned rev and
// cerr, and recovers from a commit that did not apply. Nothing may be in
// flight and no later stage executed when it is called.
func (t *term) landed(ctx context.Context, s *stage, rev int64, cerr error) (committed bool, err error) {
	t.e.metrics.commitLatency.Observe(time.Since(s.start).Seconds())
	done := s.done
	switch {
	case cerr == nil:
		t.e.metrics.batchSize.Observe(float64(len(done)))
		t.publish(ctx, done, rev, nil)
		return true, nil
	case errors.Is(cerr, errTooLarge):
		// etcd refused the Txn before applying it: memory is ahead of
		// etcd, so undo the batch, then commit each transaction on its
		// own so that only the one past the limits fails.
		t.revert(done)
		if len(done) == 1 {
			t.publish(ctx, done, 0, cerr)
			return false, nil
		}
		t.log.Info("batch past etcd limits; committing its transactions one by one", "batch_size", len(done))
		for i, x := range done {
			c, err := t.process(ctx, []*request{x.r}, false)
			if err != nil {
				// x was answered by process; the rest never ran again.
				t.e.retire(t)
				for _, y := range done[i+1:] {
					y.r.answer(Response{}, fmt.Errorf("%w: %s", ErrLeadershipLost, err.Error()))
				}
				return false, err
			}
			committed = committed || c
		}
		return committed, nil
	case errors.Is(cerr, errLockFenced):
		// A lock a transaction asserted changed between its execution and
		// the commit; nothing of the batch applied. The view now holds the
		// lock keys as the failed Txn read them, so executing the batch
		// again fails the offenders' asserts ("not owner") and commits the
		// rest.
		t.revert(done)
		t.log.Info("lock changed before commit; executing the batch again", "batch_size", len(done))
		again := make([]*request, len(done))
		for i, x := range done {
			again[i] = x.r
		}
		return t.process(ctx, again, false)
	case errors.Is(cerr, errNotApplied):
		// Nothing of the batch is in etcd, and we may still lead: undo it
		// and answer retryably; the next commit's fence tells.
		t.revert(done)
		for _, x := range done {
			t.e.metrics.transactions.WithLabelValues("unavailable").Inc()
			x.r.answer(Response{}, cerr)
		}
		return false, nil
	default:
		// Fenced or unresolved: nothing of this batch is in etcd, or we
		// cannot tell. Either way the term ends.
		t.failAll(done, cerr)
		return false, cerr
	}
}

// flight is a stage whose Txn is in flight; commit runs in its own
// goroutine and sends the outcome on result (capacity 1).
type flight struct {
	s      *stage
	result chan flightResult
}

type flightResult struct {
	rev int64
	err error
}

// launch sends stage s's Txn in a goroutine that wg tracks. While it is
// in flight that goroutine owns rev, markerRev and batchSeq (commit's
// state); the commit loop takes them back when it receives the result.
func (t *term) launch(ctx context.Context, wg *sync.WaitGroup, s *stage) *flight {
	t.endSpan(s)
	fl := &flight{s: s, result: make(chan flightResult, 1)}
	wg.Add(1)
	go func() {
		defer wg.Done()
		rev, err := t.commit(ctx, s.b)
		fl.result <- flightResult{rev: rev, err: err}
	}()
	return fl
}

// run is the commit loop. It returns when leadership ends (session closed,
// fence failed), when ctx ends, or when a commit outcome cannot be
// resolved; every request it took has been answered by then.
//
// Commits are pipelined one deep: while a batch's Txn is in flight, the
// loop executes arriving requests in memory on top of it (the next
// stage), and sends them as the next Txn as soon as the previous one is
// acknowledged. The fencing is unchanged: one Txn at a time, each
// comparing the marker revision its predecessor wrote. The next stage's
// requests are answered only after their own Txn, so nothing is answered
// from a state etcd has not acknowledged. When a Txn does not apply, the
// next stage is undone first (newest first) and its requests executed
// again after the recovery.
func (t *term) run(ctx context.Context) (err error) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	var (
		fl          *flight
		next        = t.newStage()
		pending     []*request // taken, to execute (again) before the queue
		retryParked bool
	)
	defer func() {
		// Whatever was taken and not answered never committed.
		lost := fmt.Errorf("%w: commit loop ended", ErrLeadershipLost)
		if err != nil {
			lost = fmt.Errorf("%w: %s", ErrLeadershipLost, err.Error())
		}
		if errors.Is(err, context.Canceled) {
			lost = fmt.Errorf("%w: engine closing", ErrLeadershipLost)
		}
		t.endSpan(next)
		t.failAll(next.done, lost)
		t.failRequests(pending, lost)
	}()
	// land handles the in-flight Txn's outcome.
	land := func(res flightResult) error {
		s := fl.s
		fl = nil
		if res.err != nil && len(next.done) > 0 {
			// next ran on top of s's changes, which did not apply.
			t.endSpan(next)
			t.revert(next.done)
			again := make([]*request, 0, len(next.done)+len(pending))
			for _, x := range next.done {
				again = append(again, x.r)
			}
			pending = append(again, pending...)
			next = t.newStage()
		}
		committed, lerr := t.landed(ctx, s, res.rev, res.err)
		retryParked = retryParked || committed
		return lerr
	}
	// execute runs pending requests, then r (if any), into next.
	execute := func(r *request) error {
		if r != nil {
			pending = append(pending, r)
		}
		for len(pending) > 0 && !t.full(next) {
			r := pending[0]
			pending = pending[1:]
			if xerr := t.executeInto(ctx, next, r); xerr != nil {
				return xerr
			}
		}
		return nil
	}
	// breakdown ends the term after executeInto failed with xerr while
	// fl may be in flight: fl's outcome is still answered truthfully.
	breakdown := func(xerr error) error {
		if fl != nil {
			s, res := fl.s, <-fl.result
			fl = nil
			switch {
			case res.err == nil:
				t.e.metrics.batchSize.Observe(float64(len(s.done)))
				t.publish(ctx, s.done, res.rev, nil)
			case errors.Is(res.err, ErrOutcomeUnknown):
				t.failAll(s.done, res.err)
			default:
				t.failAll(s.done, fmt.Errorf("%w: %s", ErrLeadershipLost, res.err.Error()))
			}
		}
		return xerr
	}

	for {
		if fl == nil {
			if retryParked && len(t.parked) > 0 {
				pending = append(pending, t.unparkAll()...)
			}
			retryParked = false
			if xerr := execute(nil); xerr != nil {
				return breakdown(xerr)
			}
			// Drain what is already queued without blocking.
			for !t.full(next) {
				var r *request
				select {
				case r = <-t.queue:
					t.took.Add(1)
				default:
				}
				if r == nil {
					break
				}
				if xerr := execute(r); xerr != nil {
					return breakdown(xerr)
				}
			}
			if len(next.done) > 0 {
				if next.b.empty() {
					t.endSpan(next)
					t.publish(ctx, next.done, 0, nil)
					next = t.newStage()
					continue
				}
				fl = t.launch(ctx, &wg, next)
				next = t.newStage()
				continue
			}
			// next holds only answered or parked requests, if any.
			t.endSpan(next)
			next = t.newStage()
			if len(pending) > 0 {
				continue // they fit into the fresh stage
			}
			t.armTimer(timer)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.sess.Done():
				return errors.New("election session ended")
			case r := <-t.queue:
				t.took.Add(1)
				pending = append(pending, r)
			case r := <-t.cancelCh:
				t.dropCancelled(r)
			case <-timer.C:
				pending = append(pending, t.unparkExpired(time.Now())...)
			}
			continue
		}

		// A Txn is in flight: execute arrivals into next meanwhile.
		queue := t.queue
		if t.full(next) || len(pending) > 0 {
			queue = nil
		}
		t.armTimer(timer)
		select {
		case res := <-fl.result:
			if lerr := land(res); lerr != nil {
				return lerr
			}
		case r := <-queue:
			t.took.Add(1)
			if xerr := execute(r); xerr != nil {
				return breakdown(xerr)
			}
		case r := <-t.cancelCh:
			t.dropCancelled(r)
		case <-timer.C:
			pending = append(pending, t.unparkExpired(time.Now())...)
			if xerr := execute(nil); xerr != nil {
				return breakdown(xerr)
			}
		case <-ctx.Done():
			// The Txn outlives ctx for at most CommitTimeout: answer its
			// requests truthfully first.
			if lerr := land(<-fl.result); lerr != nil {
				return lerr
			}
			return ctx.Err()
		case <-t.sess.Done():
			if lerr := land(<-fl.result); lerr != nil {
				return lerr
			}
			return errors.New("election session ended")
		}
	}
}
