package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// writerPlan says how long writers write.
type writerPlan struct {
	writers int
	// until, when set, stops the writers at that time.
	until time.Time
	// txnsPerWriter, when > 0, stops each writer after that many.
	txnsPerWriter int
	// interval, when > 0, paces each writer to one transaction per
	// interval (a slow stream) instead of back to back.
	interval time.Duration
}

// writerRun is what the writers did.
type writerRun struct {
	acked   []int // acknowledged transactions per writer: seqs 0..acked[w]-1
	lat     []time.Duration
	elapsed time.Duration
	errs    []string
}

// txnFunc sends transaction seq of writer w and waits for its outcome.
type txnFunc func(ctx context.Context, w, seq int) error

// runWriters runs the writers and waits for them. A writer stops at its
// first error: the outcome of that transaction is unknown, so the run
// fails rather than guess.
func runWriters(ctx context.Context, plan writerPlan, tr *tracker, txn txnFunc) writerRun {
	run := writerRun{acked: make([]int, plan.writers)}
	var mu sync.Mutex // guards run.lat and run.errs
	var wg sync.WaitGroup
	start := time.Now()
	for w := range plan.writers {
		wg.Go(func() {
			var lat []time.Duration
			next := time.Now()
			for seq := 0; ; seq++ {
				if plan.txnsPerWriter > 0 && seq >= plan.txnsPerWriter {
					break
				}
				if !plan.until.IsZero() && !time.Now().Before(plan.until) {
					break
				}
				if plan.interval > 0 {
					if d := time.Until(next); d > 0 {
						select {
						case <-ctx.Done():
						case <-time.After(d):
						}
					}
					next = next.Add(plan.interval)
				}
				if ctx.Err() != nil {
					break
				}
				t0 := time.Now()
				if tr != nil {
					tr.send(txnKey{w, seq}, t0)
				}
				if err := txn(ctx, w, seq); err != nil {
					mu.Lock()
					if len(run.errs) < maxErrors {
						run.errs = append(run.errs, err.Error())
					}
					mu.Unlock()
					break
				}
				lat = append(lat, time.Since(t0))
				run.acked[w] = seq + 1
			}
			mu.Lock()
			run.lat = append(run.lat, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	run.elapsed = time.Since(start)
	return run
}

// waitCaughtUp polls until every watcher has seen every acknowledged
// transaction, or timeout. The watchers have no event to wait on that
// covers all of them, so this polls.
func waitCaughtUp(ctx context.Context, ws []*watcher, acked []int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		all := true
		for _, w := range ws {
			if !w.caughtUp(acked) {
				all = false
				break
			}
		}
		if all {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// watcher is one watcher's log, fed by its connection's read goroutine.
type watcher struct {
	// mu guards log, live and pending.
	mu  sync.Mutex
	log *watchLog
	tr  *tracker
	// live is false between sending a monitor request and applying its
	// reply's initial state: updates that the read goroutine hands over
	// meanwhile follow that state on the wire, so they wait in pending.
	live    bool
	pending []map[txnKey]int
}

func newWatcher(rowsPerTxn int, tr *tracker) *watcher {
	return &watcher{log: newWatchLog(rowsPerTxn), tr: tr, live: true}
}

// update feeds one update's bench rows.
func (w *watcher) update(rows map[txnKey]int, now time.Time) {
	w.mu.Lock()
	if !w.live {
		w.pending = append(w.pending, rows)
		w.mu.Unlock()
		return
	}
	done := w.log.observe(rows)
	w.mu.Unlock()
	w.tr.saw(done, now)
}

// hold makes updates wait until start.
func (w *watcher) hold() {
	w.mu.Lock()
	w.live = false
	w.mu.Unlock()
}

// start applies a monitor's initial state, then the updates that arrived
// after it, and lets later updates through.
func (w *watcher) start(initial map[txnKey]int, now time.Time) {
	w.mu.Lock()
	done := w.log.observe(initial)
	for _, rows := range w.pending {
		done = append(done, w.log.observe(rows)...)
	}
	w.pending, w.live = nil, true
	w.mu.Unlock()
	w.tr.saw(done, now)
}

func (w *watcher) errorf(format string, args ...any) {
	w.mu.Lock()
	w.log.errorf(format, args...)
	w.mu.Unlock()
}

func (w *watcher) caughtUp(acked []int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log.caughtUp(acked)
}

func (w *watcher) check(acked []int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log.check(acked)
}

// checkWatchers checks each watcher's log, and that all saw the
// transactions in one order.
func checkWatchers(ws []*watcher, acked []int) []string {
	var errs []string
	for i, w := range ws {
		for _, e := range w.check(acked) {
			errs = append(errs, fmt.Sprintf("watcher %d: %s", i, e))
		}
	}
	for i := 1; i < len(ws); i++ {
		ws[0].mu.Lock()
		ws[i].mu.Lock()
		for _, e := range sameOrder(ws[0].log, ws[i].log) {
			errs = append(errs, fmt.Sprintf("watchers 0 and %d: %s", i, e))
		}
		ws[i].mu.Unlock()
		ws[0].mu.Unlock()
	}
	return errs
}
