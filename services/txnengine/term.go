package txnengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/txn"
)

// request is one transaction on its way through the commit loop.
type request struct {
	ctx     context.Context
	db      string
	ops     []any
	size    int
	locks   []string
	session string
	id      string
	arrived time.Time
	reply   chan reply // capacity 1, written once

	// Owned by the commit loop:
	executed   time.Time // when it last started executing
	deadline   time.Time // of a parked wait; zero: none
	parked     bool
	stopCancel func() bool
	asserted   []assertedLock // locks its last execution asserted
}

type reply struct {
	resp Response
	err  error
}

func (r *request) answer(resp Response, err error) {
	select {
	case r.reply <- reply{resp: resp, err: err}:
	default:
		panic("txnengine: request answered twice")
	}
}

func (r *request) hasLock(name string) bool { return slices.Contains(r.locks, name) }

// term is one period of leadership. Its commit loop (run) is the single
// writer of dbs, rev, markerRev, batchSeq and parked; other goroutines
// only send on queue and cancelCh, and wait on done.
type term struct {
	e         *Engine
	log       *slog.Logger
	sess      *concurrency.Session
	leaderKey string
	leaderRev int64
	marker    string

	queue    chan *request
	cancelCh chan *request
	done     chan struct{} // closed by finish, after every taken request was answered

	// Owned by the commit loop.
	dbs       map[string]*txn.Database
	rev       int64 // revision the in-memory state reflects
	markerRev int64 // ModRevision of marker; 0 while absent
	batchSeq  uint64
	parked    []*request

	// locks is the watched view of the lock owner keys; lockWatchLoop
	// writes it, the commit loop reads it.
	locks *lockView

	highWater atomic.Int64
	// took counts the requests the commit loop took off queue (tests
	// wait on it to know a batch has formed).
	took atomic.Int64
	// lastRev is rev for the compaction goroutine.
	lastRev atomic.Int64
}

func newTerm(e *Engine, sess *concurrency.Session, leaderKey string, leaderRev int64) *term {
	return &term{
		e:         e,
		log:       e.log.With("leader_rev", leaderRev),
		sess:      sess,
		leaderKey: leaderKey,
		leaderRev: leaderRev,
		marker:    e.keys.Marker(leaderRev),
		queue:     make(chan *request, e.cfg.QueueLength),
		cancelCh:  make(chan *request, 64),
		done:      make(chan struct{}),
		locks:     newLockView(),
	}
}

func (t *term) noteQueueLen(n int) {
	for {
		hw := t.highWater.Load()
		if int64(n) <= hw {
			return
		}
		if t.highWater.CompareAndSwap(hw, int64(n)) {
			t.e.metrics.queueHighWater.Set(float64(n))
			return
		}
	}
}

// finish answers every request the term holds or that is still queued
// with a retryable error (none of them committed), then closes done.
func (t *term) finish(cause error) {
	// The cause is not wrapped: it may be a context error or
	// ErrOutcomeUnknown, which would hide that these did not commit.
	err := fmt.Errorf("%w: %s", ErrLeadershipLost, cause.Error())
	if errors.Is(cause, context.Canceled) {
		err = fmt.Errorf("%w: engine closing", ErrLeadershipLost)
	}
	for _, r := range t.parked {
		if r.stopCancel != nil {
			r.stopCancel()
		}
		t.e.metrics.transactions.WithLabelValues("unavailable").Inc()
		r.answer(Response{}, err)
	}
	t.parked = nil
	t.e.metrics.parked.Set(0)
	close(t.done)
	for {
		select {
		case r := <-t.queue:
			t.e.metrics.transactions.WithLabelValues("unavailable").Inc()
			r.answer(Response{}, err)
		default:
			return
		}
	}
}

// armTimer sets timer to the earliest deadline of a parked wait.
func (t *term) armTimer(timer *time.Timer) {
	timer.Stop()
	var first time.Time
	for _, r := range t.parked {
		if !r.deadline.IsZero() && (first.IsZero() || r.deadline.Before(first)) {
			first = r.deadline
		}
	}
	if !first.IsZero() {
		timer.Reset(time.Until(first))
	}
}

func (t *term) park(r *request, timeoutMs int64) {
	if timeoutMs > 0 && r.deadline.IsZero() {
		r.deadline = r.arrived.Add(time.Duration(timeoutMs) * time.Millisecond)
	}
	r.parked = true
	t.parked = append(t.parked, r)
	r.stopCancel = context.AfterFunc(r.ctx, func() {
		select {
		case t.cancelCh <- r:
		case <-t.done:
		}
	})
	t.e.metrics.parked.Set(float64(len(t.parked)))
}

func (t *term) unpark(r *request) {
	r.parked = false
	if r.stopCancel != nil {
		r.stopCancel()
		r.stopCancel = nil
	}
}

func (t *term) unparkAll() []*request {
	batch := t.parked
	t.parked = nil
	for _, r := range batch {
		t.unpark(r)
	}
	t.e.metrics.parked.Set(0)
	return batch
}

func (t *term) unparkExpired(now time.Time) []*request {
	var expired, keep []*request
	for _, r := range t.parked {
		if !r.deadline.IsZero() && !now.Before(r.deadline) {
			t.unpark(r)
			expired = append(expired, r)
		} else {
			keep = append(keep, r)
		}
	}
	t.parked = keep
	t.e.metrics.parked.Set(float64(len(t.parked)))
	return expired
}

// dropCancelled removes a parked request whose RPC was cancelled; it
// never executed, so it is answered with its context's error.
func (t *term) dropCancelled(r *request) {
	if !r.parked {
		return // already re-executed or answered
	}
	t.parked = slices.DeleteFunc(t.parked, func(p *request) bool { return p == r })
	r.parked = false
	r.stopCancel = nil
	t.e.metrics.parked.Set(float64(len(t.parked)))
	r.answer(Response{}, r.ctx.Err())
}

// executed is a request that ran and awaits its batch's commit.
type executed struct {
	r   *request
	res txn.Result
}

// revert undoes the in-memory changes of the executed transactions of a
// batch that did not commit, newest first, restoring the state etcd holds.
func (t *term) revert(done []executed) {
	for i := len(done) - 1; i >= 0; i-- {
		x := done[i]
		if len(x.res.Changes) > 0 {
			t.dbs[x.r.db].Revert(x.res.Changes)
		}
	}
}

// errExecutorPanic: txn.Execute panicked; the transaction is not retried.
var errExecutorPanic = errors.New("txnengine: internal error executing the transaction")

// execute is txn.Execute that turns a panic into errExecutorPanic, so that
// one bad request cannot take the leader down with every other client's
// transaction.
func (t *term) execute(db *txn.Database, ops []any, opts txn.Options) (res txn.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			t.log.Error("executor panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", errExecutorPanic, p)
		}
	}()
	return txn.Execute(db, ops, opts), nil
}

// failAll answers executed requests with err, which must say truthfully
// whether they may have committed.
func (t *term) failAll(done []executed, err error) {
	t.e.retire(t)
	for _, x := range done {
		if errors.Is(err, ErrOutcomeUnknown) {
			t.e.metrics.transactions.WithLabelValues("unknown").Inc()
		} else {
			t.e.metrics.transactions.WithLabelValues("unavailable").Inc()
		}
		x.r.answer(Response{}, err)
	}
}

// publish answers every executed request of a committed batch (or of a
// batch that wrote nothing, rev 0). With limitErr, the one request failed
// at commit: its reply gets the error appended, as ovsdb-server does.
func (t *term) publish(ctx context.Context, done []executed, rev int64, limitErr error) {
	_, span := t.e.tracer.Start(ctx, "txnengine.publish",
		trace.WithAttributes(attribute.Int("batch_size", len(done)), attribute.Int64("rev", rev)))
	defer span.End()
	now := time.Now()
	for _, x := range done {
		if total := now.Sub(x.r.arrived); total >= slowRequest {
			t.log.Warn("slow transaction", "db", x.r.db, "session", x.r.session, "request_id", x.r.id,
				"rev", rev, "batch_size", len(done), "total", total,
				"queued", x.r.executed.Sub(x.r.arrived), "execute_and_commit", now.Sub(x.r.executed))
		}
		data, failed, err := encodeReply(x.res.Reply, limitErr)
		if err != nil {
			x.r.answer(Response{}, fmt.Errorf("encode result: %w", err))
			continue
		}
		if failed {
			t.e.metrics.transactions.WithLabelValues("failed").Inc()
		} else {
			t.e.metrics.transactions.WithLabelValues("committed").Inc()
		}
		t.log.Debug("transaction answered", "session", x.r.session, "db", x.r.db, "rev", rev, "request_id", x.r.id)
		r := rev
		if len(x.res.Changes) == 0 && len(x.res.Comments) == 0 {
			r = 0 // wrote nothing (failed or read-only)
		}
		x.r.answer(Response{Result: data, Revision: r}, nil)
	}
}

// encodeReply returns the JSON text of a transaction's result array, with
// limitErr (a batch past etcd's limits) appended as a "resources
// exhausted" error, and whether the result holds an error.
func encodeReply(res []any, limitErr error) (data []byte, failed bool, err error) {
	reply := normalizeReply(res)
	if limitErr != nil {
		reply = append(reply, ovsdb.NewError(ovsdb.TagResourcesExhausted, "%s", limitErr.Error()).JSON())
	}
	data, err = appendJSON(make([]byte, 0, 64*len(reply)), reply)
	return data, replyFailed(reply), err
}

// replyFailed reports whether a transact result holds an error object.
func replyFailed(reply []any) bool {
	for _, v := range reply {
		switch e := v.(type) {
		case *ovsdb.Error, ovsdb.Error:
			return true
		case map[string]any:
			if _, isErr := e["error"]; isErr {
				return true
			}
		}
	}
	return false
}

// normalizeReply turns error values in a reply into RFC 7047 objects.
func normalizeReply(reply []any) []any {
	out := make([]any, len(reply))
	for i, v := range reply {
		switch e := v.(type) {
		case *ovsdb.Error:
			out[i] = e.JSON()
		case ovsdb.Error:
			out[i] = e.JSON()
		default:
			out[i] = v
		}
	}
	return out
}

// slowRequest is the time after which an answered transaction is logged
// at Warn with its step breakdown.
const slowRequest = time.Second

// errNotApplied: a batch Txn's answer was lost and resolveUnknown proved
// that it did not apply (and never will).
var errNotApplied = errors.New("commit did not apply")

// errLockFenced: a batch Txn failed only its compare on an asserted lock
// key, so it did not apply.
var errLockFenced = errors.New("asserted lock changed before the commit")

// errTooLarge: etcd refused a Txn for its size before applying it.
var errTooLarge = errors.New("transaction too large for the etcd cluster")

// commit writes batch b in one fenced etcd Txn and returns its revision.
//
// The If-clause holds CreateRevision(leaderKey) == leaderRev (the fence:
// once our lease ends or the key is replaced, no Txn of ours applies) and
// ModRevision(marker) == markerRev. Then-ops are the rows, the comments
// and a put of the batch id to marker. When the Txn's answer is lost,
// resolveUnknown finds out whether it applied (see there).
func (t *term) commit(ctx context.Context, b *batch) (int64, error) {
	t.batchSeq++
	id := strconv.FormatUint(t.batchSeq, 10)
	ops := b.etcdOps(time.Now())
	ops = append(ops, clientv3.OpPut(t.marker, id))
	if len(ops) > t.e.cfg.MaxTxnOps {
		t.e.metrics.etcdTxns.WithLabelValues("too_large").Inc()
		return 0, fmt.Errorf("%w: %d etcd operations, the limit (--max-txn-ops) is %d", errTooLarge, len(ops), t.e.cfg.MaxTxnOps)
	}
	if n := b.bytes + len(t.marker) + len(id); n > t.e.cfg.MaxRequestBytes {
		t.e.metrics.etcdTxns.WithLabelValues("too_large").Inc()
		return 0, fmt.Errorf("%w: %d bytes, the limit (--max-request-bytes) is %d", errTooLarge, n, t.e.cfg.MaxRequestBytes)
	}
	cctx, span := t.e.tracer.Start(ctx, "txnengine.etcd_txn",
		trace.WithAttributes(attribute.Int("batch_size", b.txns), attribute.Int64("leader_rev", t.leaderRev),
			attribute.Int("etcd_ops", len(ops))))
	defer span.End()
	// The Txn outlives a closing engine for up to CommitTimeout, so that a
	// clean shutdown still learns its outcome.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(cctx), t.e.cfg.CommitTimeout)
	defer cancel()
	cmps := []clientv3.Cmp{
		clientv3.Compare(clientv3.CreateRevision(t.leaderKey), "=", t.leaderRev),
		clientv3.Compare(clientv3.ModRevision(t.marker), "=", t.markerRev),
	}
	elseOps := []clientv3.Op{clientv3.OpGet(t.marker), clientv3.OpGet(t.leaderKey)}
	for _, a := range b.asserted {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(a.key), "=", a.modRev))
	}
	lockKeys := b.assertedKeys()
	for _, key := range lockKeys {
		elseOps = append(elseOps, clientv3.OpGet(key))
	}
	kv, pn := t.e.pin.acquire()
	if kv == nil {
		kv = t.e.kv
	}
	resp, err := kv.Txn(cctx).If(cmps...).Then(ops...).Else(elseOps...).Commit()
	if err == nil {
		t.e.pin.observe(pn, resp.Header.RaftTerm, nil)
	} else {
		t.e.pin.observe(pn, 0, err)
	}
	if err == nil {
		if !resp.Succeeded {
			// Only this batch can have moved the marker to id: if a
			// transport-level retry delivered the Txn twice, the first
			// delivery applied and this one failed its compare.
			mkvs := resp.Responses[0].GetResponseRange().Kvs
			if len(mkvs) == 1 && string(mkvs[0].Value) == id {
				t.e.metrics.etcdTxns.WithLabelValues("ok").Inc()
				t.setRev(mkvs[0].ModRevision)
				t.markerRev = mkvs[0].ModRevision
				return mkvs[0].ModRevision, nil
			}
			if t.onlyLocksFailed(resp, lockKeys) {
				t.e.metrics.etcdTxns.WithLabelValues("lock_fenced").Inc()
				return 0, errLockFenced
			}
			t.e.metrics.etcdTxns.WithLabelValues("fenced").Inc()
			t.e.metrics.fenceFailures.Inc()
			t.log.Warn("commit fenced: no longer leader", "batch_size", b.txns)
			return 0, fmt.Errorf("%w: fence compare failed", ErrLeadershipLost)
		}
		t.e.metrics.etcdTxns.WithLabelValues("ok").Inc()
		span.SetAttributes(attribute.Int64("rev", resp.Header.Revision))
		t.setRev(resp.Header.Revision)
		t.markerRev = resp.Header.Revision
		return resp.Header.Revision, nil
	}
	span.RecordError(err)
	if isSizeError(err) {
		t.e.metrics.etcdTxns.WithLabelValues("too_large").Inc()
		return 0, fmt.Errorf("%w: %w", errTooLarge, err)
	}
	t.e.metrics.etcdTxns.WithLabelValues("unknown").Inc()
	t.log.Warn("commit outcome unknown; resolving from etcd", "err", err, "batch_size", b.txns)
	rev, applied, rerr := t.resolveUnknown(ctx, id)
	if rerr != nil {
		return 0, fmt.Errorf("%w: %w", ErrOutcomeUnknown, rerr)
	}
	if applied {
		t.log.Info("unknown commit outcome resolved: applied", "rev", rev)
		t.setRev(rev)
		t.markerRev = rev
		return rev, nil
	}
	t.log.Info("unknown commit outcome resolved: not applied")
	return 0, fmt.Errorf("%w: %w (%s)", ErrNotCommitted, errNotApplied, err.Error())
}

// onlyLocksFailed reports whether a failed batch Txn still found us
// leader with the marker unmoved, so that only an asserted lock's compare
// can have failed. It applies the lock keys the Else branch read to the
// view.
func (t *term) onlyLocksFailed(resp *clientv3.TxnResponse, lockKeys []string) bool {
	if len(resp.Responses) < 2 {
		return false
	}
	mkvs := resp.Responses[0].GetResponseRange().Kvs
	markerRev := int64(0)
	if len(mkvs) == 1 {
		markerRev = mkvs[0].ModRevision
	}
	lkvs := resp.Responses[1].GetResponseRange().Kvs
	if markerRev != t.markerRev || len(lkvs) != 1 || lkvs[0].CreateRevision != t.leaderRev {
		return false
	}
	for i, key := range lockKeys {
		name, ok := t.e.keys.ParseLock(key)
		if !ok || 2+i >= len(resp.Responses) {
			continue
		}
		if kvs := resp.Responses[2+i].GetResponseRange().Kvs; len(kvs) == 1 {
			t.locks.apply(name, string(kvs[0].Value), kvs[0].ModRevision, kvs[0].ModRevision)
		} else {
			t.locks.apply(name, "", 0, resp.Header.Revision)
		}
	}
	return len(lockKeys) > 0
}

func (t *term) setRev(rev int64) {
	t.rev = rev
	t.lastRev.Store(rev)
}

// resolveUnknown learns whether the batch Txn with batch id id applied,
// and makes sure it never applies later if it has not yet.
//
// Only this term writes t.marker, and every batch Txn compares its
// ModRevision with t.markerRev. So we send
//
//	If(ModRevision(marker) == markerRev) Then(Put(marker, "abort-"+id)) Else(Get(marker))
//
// If it succeeds, the lost Txn had not applied, and now never will: its
// compare on the marker can no longer hold. Otherwise the marker moved,
// which only the lost Txn can have done, and the Else read shows our id
// with the commit revision, or an earlier probe of ours did, whose
// answer was lost, and it shows "abort-"+id. The probe is idempotent, so
// it is retried until etcd answers or the engine closes.
func (t *term) resolveUnknown(ctx context.Context, id string) (rev int64, applied bool, err error) {
	backoff := 50 * time.Millisecond
	for {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.e.cfg.CommitTimeout)
		resp, err := t.e.kv.Txn(rctx).
			If(clientv3.Compare(clientv3.ModRevision(t.marker), "=", t.markerRev)).
			Then(clientv3.OpPut(t.marker, "abort-"+id)).
			Else(clientv3.OpGet(t.marker)).
			Commit()
		cancel()
		if err == nil {
			if resp.Succeeded {
				t.markerRev = resp.Header.Revision
				return 0, false, nil
			}
			kvs := resp.Responses[0].GetResponseRange().Kvs
			if len(kvs) == 1 && string(kvs[0].Value) == id {
				return kvs[0].ModRevision, true, nil
			}
			if len(kvs) == 1 && string(kvs[0].Value) == "abort-"+id {
				// An earlier probe of ours applied and its answer was
				// lost: the Txn never applies.
				t.markerRev = kvs[0].ModRevision
				return 0, false, nil
			}
			// Impossible while only this term writes its marker.
			return 0, false, fmt.Errorf("marker %s changed by someone else", t.marker)
		}
		t.log.Warn("resolve commit outcome", "err", err)
		timer := time.NewTimer(backoff)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return 0, false, fmt.Errorf("engine closing before the outcome was known: %w", err)
		}
		backoff = min(2*backoff, time.Second)
	}
}
