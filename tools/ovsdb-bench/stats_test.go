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
