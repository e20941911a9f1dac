package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// txnKey names one writer transaction.
type txnKey struct{ writer, seq int }

// rowName is the unique name of row k of transaction (writer, seq).
func rowName(writer, seq, k int) string { return fmt.Sprintf("b%d-%d-%d", writer, seq, k) }

// parseRowName inverts rowName; ok is false for rows the writers did not
// write (preloaded rows, for example).
func parseRowName(s string) (key txnKey, k int, ok bool) {
	rest, found := strings.CutPrefix(s, "b")
	if !found {
		return txnKey{}, 0, false
	}
	parts := strings.Split(rest, "-")
	if len(parts) != 3 {
		return txnKey{}, 0, false
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return txnKey{}, 0, false
		}
		n[i] = v
	}
	return txnKey{writer: n[0], seq: n[1]}, n[2], true
}

// maxErrors bounds the problems kept per watcher or check.
const maxErrors = 5

// watchLog checks what one watcher receives: each update's bench rows,
// grouped by transaction, must hold whole transactions, and per writer the
// transactions must arrive exactly once and in the writer's order (a
// writer waits for each reply before sending the next, so its order is
// the commit order). Not safe for concurrent use.
type watchLog struct {
	rowsPerTxn int
	next       map[int]int // writer -> next expected seq
	errs       []string
	// updates counts the updates that carried bench rows; pos says in
	// which of them each transaction arrived, for sameOrder.
	updates int
	pos     map[txnKey]int
}

func newWatchLog(rowsPerTxn int) *watchLog {
	return &watchLog{rowsPerTxn: rowsPerTxn, next: map[int]int{}, pos: map[txnKey]int{}}
}

func (w *watchLog) errorf(format string, args ...any) {
	if len(w.errs) < maxErrors {
		w.errs = append(w.errs, fmt.Sprintf(format, args...))
	}
}

// observe takes the bench rows of one update (the number of rows per
// transaction) and returns the transactions it completes, in order.
func (w *watchLog) observe(rows map[txnKey]int) []txnKey {
	keys := make([]txnKey, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b txnKey) int {
		if a.writer != b.writer {
			return a.writer - b.writer
		}
		return a.seq - b.seq
	})
	var done []txnKey
	if len(keys) > 0 {
		w.updates++
	}
	for _, k := range keys {
		if n := rows[k]; n != w.rowsPerTxn {
			w.errorf("transaction %d/%d arrived with %d of its %d rows in one update", k.writer, k.seq, n, w.rowsPerTxn)
		}
		want := w.next[k.writer]
		switch {
		case k.seq < want:
			w.errorf("transaction %d/%d seen again (or out of order) after %d/%d", k.writer, k.seq, k.writer, want-1)
			continue
		case k.seq > want:
			w.errorf("transaction %d/%d seen before %d/%d", k.writer, k.seq, k.writer, want)
		}
		w.next[k.writer] = k.seq + 1
		w.pos[k] = w.updates
		done = append(done, k)
	}
	return done
}

// caughtUp reports whether every acknowledged transaction has been seen
// (acked[w] transactions 0..acked[w]-1 of writer w).
func (w *watchLog) caughtUp(acked []int) bool {
	for wr, n := range acked {
		if w.next[wr] < n {
			return false
		}
	}
	return true
}

// check returns the problems found: the errors seen so far plus any
// acknowledged transaction never seen or any unacknowledged one seen.
func (w *watchLog) check(acked []int) []string {
	errs := slices.Clone(w.errs)
	for wr, n := range acked {
		if got := w.next[wr]; got != n {
			errs = append(errs, fmt.Sprintf("writer %d: saw %d transactions, %d acknowledged", wr, got, n))
		}
	}
	for wr := range w.next {
		if wr >= len(acked) {
			errs = append(errs, fmt.Sprintf("rows of unknown writer %d seen", wr))
		}
	}
	return errs
}

// sameOrder checks that w saw the transactions that ref saw in the same
// order across writers: the commit order is one total order, so no two
// watchers may see two transactions in opposite orders. Transactions that
// arrived in one update (one batch, or merged for a lagging watcher) are
// unordered. Transactions that either one missed are left to check.
func sameOrder(ref, w *watchLog) []string {
	type pair struct {
		k      txnKey
		pr, pw int
	}
	pairs := make([]pair, 0, len(ref.pos))
	for k, pr := range ref.pos {
		if pw, ok := w.pos[k]; ok {
			pairs = append(pairs, pair{k, pr, pw})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if a.pr != b.pr {
			return a.pr - b.pr
		}
		return a.pw - b.pw
	})
	var errs []string
	for i := 1; i < len(pairs); i++ {
		if pairs[i].pw < pairs[i-1].pw {
			a, b := pairs[i-1].k, pairs[i].k
			errs = append(errs, fmt.Sprintf("saw %d/%d before %d/%d, another watcher the other way round", b.writer, b.seq, a.writer, a.seq))
			if len(errs) >= maxErrors {
				break
			}
		}
	}
	return errs
}

// checkRows compares the bench rows a server holds (row names, without
// preloaded rows) with the acknowledged transactions.
func checkRows(names []string, acked []int, rowsPerTxn int) []string {
	var errs []string
	add := func(format string, args ...any) {
		if len(errs) < maxErrors {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	seen := map[txnKey]map[int]bool{}
	for _, n := range names {
		key, k, ok := parseRowName(n)
		if !ok {
			add("unexpected row %q", n)
			continue
		}
		if key.writer >= len(acked) || key.seq >= acked[key.writer] {
			add("row %q of an unacknowledged transaction", n)
			continue
		}
		if seen[key] == nil {
			seen[key] = map[int]bool{}
		}
		if seen[key][k] {
			add("row %q twice", n)
		}
		seen[key][k] = true
	}
	for wr, n := range acked {
		for s := range n {
			if got := len(seen[txnKey{wr, s}]); got != rowsPerTxn {
				add("transaction %d/%d: server holds %d of its %d rows", wr, s, got, rowsPerTxn)
			}
		}
	}
	return errs
}

// tracker joins writers and watchers: it records when each transaction was
// sent and, once every watcher has seen it, its visible latency.
type tracker struct {
	watchers int

	// mu guards the fields below.
	mu      sync.Mutex
	sent    map[txnKey]time.Time
	seen    map[txnKey]int
	visible []time.Duration
}

func newTracker(watchers int) *tracker {
	return &tracker{watchers: watchers, sent: map[txnKey]time.Time{}, seen: map[txnKey]int{}}
}

// send records that k is being sent now.
func (t *tracker) send(k txnKey, now time.Time) {
	t.mu.Lock()
	t.sent[k] = now
	t.mu.Unlock()
}

// saw records that one watcher has seen keys at time now.
func (t *tracker) saw(keys []txnKey, now time.Time) {
	if len(keys) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		t.seen[k]++
		if t.seen[k] == t.watchers {
			if s, ok := t.sent[k]; ok {
				t.visible = append(t.visible, now.Sub(s))
			}
			delete(t.seen, k)
			delete(t.sent, k)
		}
	}
}

// visibleLatencies returns the visible latencies recorded so far.
func (t *tracker) visibleLatencies() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.visible)
}
