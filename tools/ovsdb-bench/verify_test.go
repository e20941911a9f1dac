package main

import (
	"strings"
	"testing"
	"time"
)

func TestRowName(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   txnKey
		wantK  int
		wantOK bool
	}{
		{name: "bench row", in: rowName(3, 41, 7), want: txnKey{3, 41}, wantK: 7, wantOK: true},
		{name: "zero", in: "b0-0-0", want: txnKey{0, 0}, wantOK: true},
		{name: "other row", in: "lsp1", wantOK: false},
		{name: "missing part", in: "b1-2", wantOK: false},
		{name: "negative", in: "b1--2-3", wantOK: false},
		{name: "not a number", in: "bx-1-2", wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, k, ok := parseRowName(tc.in)
			if ok != tc.wantOK || (ok && (key != tc.want || k != tc.wantK)) {
				t.Errorf("parseRowName(%q) = %v, %d, %v; want %v, %d, %v", tc.in, key, k, ok, tc.want, tc.wantK, tc.wantOK)
			}
		})
	}
}

func TestWatchLog(t *testing.T) {
	type update = map[txnKey]int
	tests := []struct {
		name       string
		rowsPerTxn int
		updates    []update
		acked      []int
		wantErrs   []string // substrings, in order; empty means none
		// wantBehind: caughtUp is false (an acknowledged one is unseen).
		wantBehind bool
	}{
		{
			name:       "every transaction once in order",
			rowsPerTxn: 1,
			updates:    []update{{{0, 0}: 1}, {{1, 0}: 1, {0, 1}: 1}, {{1, 1}: 1}},
			acked:      []int{2, 2},
		},
		{
			name:       "a batch of one writer's transactions in one update",
			rowsPerTxn: 2,
			updates:    []update{{{0, 0}: 2, {0, 1}: 2, {0, 2}: 2}},
			acked:      []int{3},
		},
		{
			name:       "duplicate",
			rowsPerTxn: 1,
			updates:    []update{{{0, 0}: 1}, {{0, 0}: 1}},
			acked:      []int{1},
			wantErrs:   []string{"seen again"},
		},
		{
			name:       "out of order",
			rowsPerTxn: 1,
			updates:    []update{{{0, 1}: 1}, {{0, 0}: 1}},
			acked:      []int{2},
			wantErrs:   []string{"seen before 0/0", "seen again"},
		},
		{
			name:       "missing",
			rowsPerTxn: 1,
			updates:    []update{{{0, 0}: 1}},
			acked:      []int{2},
			wantErrs:   []string{"writer 0: saw 1 transactions, 2 acknowledged"},
			wantBehind: true,
		},
		{
			name:       "split transaction",
			rowsPerTxn: 3,
			updates:    []update{{{0, 0}: 2}},
			acked:      []int{1},
			wantErrs:   []string{"2 of its 3 rows"},
		},
		{
			name:       "unacknowledged transaction seen",
			rowsPerTxn: 1,
			updates:    []update{{{0, 0}: 1}, {{0, 1}: 1}},
			acked:      []int{1},
			wantErrs:   []string{"writer 0: saw 2 transactions, 1 acknowledged"},
		},
		{
			name:       "unknown writer",
			rowsPerTxn: 1,
			updates:    []update{{{5, 0}: 1}},
			acked:      []int{0},
			wantErrs:   []string{"unknown writer 5"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWatchLog(tc.rowsPerTxn)
			for _, u := range tc.updates {
				w.observe(u)
			}
			errs := w.check(tc.acked)
			if len(errs) != len(tc.wantErrs) {
				t.Fatalf("check = %q, want %d errors like %q", errs, len(tc.wantErrs), tc.wantErrs)
			}
			for i, want := range tc.wantErrs {
				if !strings.Contains(errs[i], want) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i], want)
				}
			}
			if got := w.caughtUp(tc.acked); got == tc.wantBehind {
				t.Errorf("caughtUp = %v, want %v", got, !tc.wantBehind)
			}
		})
	}
}

func TestCheckRows(t *testing.T) {
	tests := []struct {
		name       string
		names      []string
		acked      []int
		rowsPerTxn int
		wantErrs   []string
	}{
		{
			name:       "exact",
			names:      []string{"b0-0-0", "b0-0-1", "b1-0-0", "b1-0-1", "b0-1-0", "b0-1-1"},
			acked:      []int{2, 1},
			rowsPerTxn: 2,
		},
		{
			name:       "missing row",
			names:      []string{"b0-0-0"},
			acked:      []int{1},
			rowsPerTxn: 2,
			wantErrs:   []string{"holds 1 of its 2 rows"},
		},
		{
			name:       "duplicate row",
			names:      []string{"b0-0-0", "b0-0-0"},
			acked:      []int{1},
			rowsPerTxn: 1,
			wantErrs:   []string{"twice"},
		},
		{
			name:       "unacknowledged row",
			names:      []string{"b0-0-0", "b0-1-0"},
			acked:      []int{1},
			rowsPerTxn: 1,
			wantErrs:   []string{"unacknowledged"},
		},
		{
			name:       "foreign row",
			names:      []string{"sw0-port"},
			acked:      []int{0},
			rowsPerTxn: 1,
			wantErrs:   []string{"unexpected row"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := checkRows(tc.names, tc.acked, tc.rowsPerTxn)
			if len(errs) != len(tc.wantErrs) {
				t.Fatalf("checkRows = %q, want %q", errs, tc.wantErrs)
			}
			for i, want := range tc.wantErrs {
				if !strings.Contains(errs[i], want) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i], want)
				}
			}
		})
	}
}

func TestTrackerVisibleOnceEveryWatcherSaw(t *testing.T) {
	tr := newTracker(2)
	t0 := time.Unix(100, 0)
	k := txnKey{0, 0}
	tr.send(k, t0)
	tr.saw([]txnKey{k}, t0.Add(time.Millisecond))
	if got := tr.visibleLatencies(); len(got) != 0 {
		t.Fatalf("visible after one of two watchers = %v, want none", got)
	}
	tr.saw([]txnKey{k}, t0.Add(3*time.Millisecond))
	got := tr.visibleLatencies()
	if len(got) != 1 || got[0] != 3*time.Millisecond {
		t.Fatalf("visible = %v, want [3ms]", got)
	}
}

func TestBenchRows(t *testing.T) {
	name := func(s string) *struct {
		Name *string `json:"name"`
	} {
		return &struct {
			Name *string `json:"name"`
		}{Name: &s}
	}
	tests := []struct {
		name      string
		u         tableUpdates2
		wantRows  map[txnKey]int
		wantOther int
		wantErr   bool
	}{
		{
			name: "inserts and initial rows",
			u: tableUpdates2{lspTable: {
				"u1": {"insert": name("b0-1-0")},
				"u2": {"insert": name("b0-1-1")},
				"u3": {"initial": name("pre")},
			}, "Logical_Switch": {"u4": {"insert": name("b9-9-9")}}},
			wantRows:  map[txnKey]int{{0, 1}: 2},
			wantOther: 1,
		},
		{
			name:     "modify is ignored",
			u:        tableUpdates2{lspTable: {"u1": {"modify": name("b0-1-0")}}},
			wantRows: map[txnKey]int{},
		},
		{
			name:    "delete is an error",
			u:       tableUpdates2{lspTable: {"u1": {"delete": nil}}},
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, other, err := benchRows(tc.u)
			if (err != nil) != tc.wantErr {
				t.Fatalf("benchRows err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if other != tc.wantOther || len(rows) != len(tc.wantRows) {
				t.Fatalf("benchRows = %v, %d; want %v, %d", rows, other, tc.wantRows, tc.wantOther)
			}
			for k, v := range tc.wantRows {
				if rows[k] != v {
					t.Errorf("rows[%v] = %d, want %d", k, rows[k], v)
				}
			}
		})
	}
}

func TestSameOrder(t *testing.T) {
	type update = map[txnKey]int
	a, b, c := txnKey{0, 0}, txnKey{1, 0}, txnKey{2, 0}
	tests := []struct {
		name    string
		ref, w  []update
		wantErr bool
	}{
		{name: "same updates", ref: []update{{a: 1}, {b: 1}, {c: 1}}, w: []update{{a: 1}, {b: 1}, {c: 1}}},
		{name: "merged in one update", ref: []update{{a: 1}, {b: 1}, {c: 1}}, w: []update{{a: 1, b: 1}, {c: 1}}},
		{name: "merged in the reference", ref: []update{{a: 1, b: 1}, {c: 1}}, w: []update{{b: 1}, {a: 1}, {c: 1}}},
		{name: "swapped", ref: []update{{a: 1}, {b: 1}, {c: 1}}, w: []update{{a: 1}, {c: 1}, {b: 1}}, wantErr: true},
		{name: "one missing is not an order error", ref: []update{{a: 1}, {b: 1}}, w: []update{{b: 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref, w := newWatchLog(1), newWatchLog(1)
			for _, u := range tc.ref {
				ref.observe(u)
			}
			for _, u := range tc.w {
				w.observe(u)
			}
			if errs := sameOrder(ref, w); (len(errs) > 0) != tc.wantErr {
				t.Errorf("sameOrder = %q, wantErr %v", errs, tc.wantErr)
			}
		})
	}
}

// An update handed over before the monitor reply is applied follows the
// reply's initial state.
func TestWatcherHoldsUpdatesUntilInitialState(t *testing.T) {
	w := newWatcher(1, newTracker(1))
	w.hold()
	w.update(map[txnKey]int{{0, 1}: 1}, time.Now())
	w.start(map[txnKey]int{{0, 0}: 1}, time.Now())
	w.update(map[txnKey]int{{0, 2}: 1}, time.Now())
	if errs := w.check([]int{3}); len(errs) != 0 {
		t.Errorf("check = %q, want none", errs)
	}
}
