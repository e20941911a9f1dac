package main

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// replicaGCPercent is the GC target (GOGC) of the frontend and monitorhub
// roles when the environment sets none. Each holds a replica of every
// row, as bytes, so its heap is mostly long-lived data: with Go's default
// of 100 the heap may grow to twice that before a collection. 50 keeps a
// frontend's peak RSS about a third lower for a little more GC CPU (issue
// 6's 100,000-row memory target). The txnengine keeps the default: it is
// the CPU-critical role.
const replicaGCPercent = 50

// tuneReplicaGC applies replicaGCPercent unless GOGC is set.
func tuneReplicaGC(log *slog.Logger) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	debug.SetGCPercent(replicaGCPercent)
	log.Debug("GC target for a row replica", "gogc", replicaGCPercent)
}
