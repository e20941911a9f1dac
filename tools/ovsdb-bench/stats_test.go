package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(100-i) * time.Millisecond // 100..1, unsorted
	}
	tests := []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{name: "empty", ds: nil, p: 50, want: 0},
		{name: "one", ds: ms(7), p: 99, want: 7 * time.Millisecond},
		{name: "median of odd", ds: ms(5, 1, 3), p: 50, want: 3 * time.Millisecond},
		{name: "median of even is the lower", ds: ms(4, 1, 3, 2), p: 50, want: 2 * time.Millisecond},
		{name: "p50 of 1..100", ds: hundred, p: 50, want: 50 * time.Millisecond},
		{name: "p99 of 1..100", ds: hundred, p: 99, want: 99 * time.Millisecond},
		{name: "p100 is the max", ds: ms(9, 2, 5), p: 100, want: 9 * time.Millisecond},
		{name: "tiny p is the min", ds: ms(9, 2, 5), p: 0.001, want: 2 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.ds, tc.p); got != tc.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tc.ds, tc.p, got, tc.want)
			}
		})
	}
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    time.Duration
		wantErr bool
	}{
		{
			name: "plain",
			line: "1234 (ovsdb-server) S 1 1234 1234 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 1 0 100 1000 200",
			want: 2 * time.Second,
		},
		{
			name: "command with spaces and parens",
			line: "1 (a (b) c) R 1 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1",
			want: 100 * time.Millisecond,
		},
		{name: "no command", line: "1 S 1", wantErr: true},
		{name: "short", line: "1 (x) S 1 2 3", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU(tc.line)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseStatCPU: err %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("parseStatCPU = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMedianResult(t *testing.T) {
	run := func(monitor string, errs []string, kv ...float64) *result {
		r := &result{monitor: monitor, errs: errs}
		for i := 0; i+1 < len(kv); i += 2 {
			r.set([]string{"a", "b", "c"}[int(kv[i])], kv[i+1])
		}
		return r
	}
	one := run("m", nil, 0, 5)
	if got := medianResult([]*result{one}); got != one {
		t.Fatalf("one run: got a new result")
	}
	// a: 3 runs -> middle; b: 2 runs have it -> mean of both; c: 1 run.
	got := medianResult([]*result{
		run("first", nil, 0, 9, 1, 10),
		run("second", []string{"lost txn"}, 0, 1, 1, 20, 2, 7),
		run("third", nil, 0, 4),
	})
	if got.metrics["a"] != 4 || got.metrics["b"] != 15 || got.metrics["c"] != 7 {
		t.Fatalf("medians = %v, want a=4 b=15 c=7", got.metrics)
	}
	if got.monitor != "first" {
		t.Fatalf("monitor = %q, want the first run's", got.monitor)
	}
	if !got.failed() || len(got.errs) != 1 || got.errs[0] != "run 2: lost txn" {
		t.Fatalf("errs = %q, want run 2's failure kept", got.errs)
	}
}
