package main

import (
	"strings"
	"testing"
)

// TestSmokeStandalone runs two tiny scenarios end to end, twice each
// (-runs 2), against a real ovsdb-server started by the tool: writers and
// watchers with the end-of-run checks, and the big-database path at 1,000
// rows.
func TestSmokeStandalone(t *testing.T) {
	var out, errOut strings.Builder
	code := benchMain(t.Context(), []string{
		"-systems", sysStandalone,
		"-scenarios", "w8r4,rows100k",
		"-scale", "0.01",
		"-duration", "300ms",
		"-runs", "2",
	}, &out, &errOut)
	if code != 0 {
		t.Fatalf("benchMain = %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{
		"| w8r4 | txn/s | ",
		"| w8r4 | visible p99 ms | ",
		"| w8r4 | server peak RSS MiB | ",
		"| w8r4 | monitor | standalone=monitor_cond_since |",
		"| rows100k | load s | ",
		"| rows100k | initial state s | ",
		"Every cell is the median of 2 runs",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), failText) {
		t.Errorf("output reports a failure:\n%s", out.String())
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{name: "defaults", args: nil},
		{name: "subset", args: []string{"-systems", "raft,etcd", "-scenarios", "w1", "-duration", "1s", "-scale", "0.5"}},
		{name: "unknown system", args: []string{"-systems", "mysql"}, wantErr: true},
		{name: "unknown scenario", args: []string{"-scenarios", "w2"}, wantErr: true},
		{name: "zero scale", args: []string{"-scale", "0"}, wantErr: true},
		{name: "runs", args: []string{"-runs", "3"}},
		{name: "zero runs", args: []string{"-runs", "0"}, wantErr: true},
		{name: "stray argument", args: []string{"x"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var errOut strings.Builder
			_, err := parseFlags(tc.args, &errOut)
			if (err != nil) != tc.wantErr {
				t.Errorf("parseFlags(%q) err = %v, wantErr %v", tc.args, err, tc.wantErr)
			}
		})
	}
}
