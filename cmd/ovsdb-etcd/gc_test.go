package main

import (
	"log/slog"
	"os"
	"runtime/debug"
	"testing"
)

// TestTuneReplicaGC: the replica roles get replicaGCPercent unless the
// environment sets GOGC, which always wins.
func TestTuneReplicaGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	log := slog.New(slog.DiscardHandler)

	t.Setenv("GOGC", "100")
	tuneReplicaGC(log)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set: GC percent %d, want it left at 100", got)
	}

	if err := os.Unsetenv("GOGC"); err != nil { // t.Setenv restores it
		t.Fatal(err)
	}
	tuneReplicaGC(log)
	if got := debug.SetGCPercent(100); got != replicaGCPercent {
		t.Errorf("without GOGC: GC percent %d, want %d", got, replicaGCPercent)
	}
}
