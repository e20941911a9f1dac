// Package txnengine is the transaction stage of the ovsdb-etcd pipeline
// (DESIGN.md): the one process that changes OVSDB data in etcd.
//
// What it owns: the leader election on <prefix>/<service>/_/_txnengine/
// (concurrency.Session + Election; the value is the leader's advertised
// gRPC address), the leader's authoritative in-memory copy of every
// database (txn.Database, loaded at one revision when a term starts), the
// group-commit loop that executes OVSDB transactions against that copy and
// writes their net effect to etcd in one fenced Txn per batch, parked
// "wait" transactions, and periodic etcd compaction. It also provides the
// gRPC service of proto/ovsdbetcd/txnengine/v1 (Register, Run) and a
// Client that follows the leader for the frontend.
//
// Invariants:
//   - Only the commit loop of the current term (term.run) touches the
//     in-memory databases; callers send it work on a bounded channel with
//     a reply channel of capacity 1, and every request taken is answered
//     exactly once before the term's done channel closes.
//   - Every batch Txn has If(CreateRevision(leaderKey) == leaderRev,
//     ModRevision(marker) == markerRev) and puts the batch id to marker, a
//     key only this term writes (keys.Marker). The first compare fences a
//     deposed leader; the second makes each batch apply at most once and
//     lets resolveUnknown decide a Txn whose answer was lost.
//   - A request is answered only after etcd acknowledged its batch. It is
//     answered Unavailable with an ErrorInfo reason (NOT_LEADER,
//     LEADERSHIP_LOST, NOT_COMMITTED) only when it provably did not commit;
//     Client retries exactly those, and dial failures.
//   - One etcd op per key per Txn: a batch is coalesced to its net effect.
//   - Commits are pipelined one deep (pipeline.go): at most one batch Txn
//     is in flight; the commit loop executes arrivals on top of it (the
//     next stage) and sends them when it is acknowledged. A stage is
//     answered only after its own Txn; if the Txn in flight did not
//     apply, the next stage is reverted first and executed again. While
//     a Txn is in flight its goroutine owns rev, markerRev and batchSeq.
//   - Locks (DESIGN.md "Locks"): "assert" holds only if the frontend
//     lists the lock in held_locks and the owner key keys.Lock(name)
//     names the request's session in the leader's view (lockView, loaded
//     at the term's load revision and watched from there; a disagreement
//     is settled by reading the key). A writing transaction's asserted
//     locks become compares ModRevision(key) == observed in its batch Txn;
//     when only those fail, the batch is undone and executed again with
//     the view refreshed from the Txn's Else reads, so the offender alone
//     gets "not owner". A request without a session id is trusted on
//     held_locks alone.
//   - The hot path's hand-written codecs are exact stand-ins: decodeFast
//     gives encoding/json's values and leaves anything unusual (errors
//     included) to it; appendJSON writes json.Marshal's bytes and leaves
//     strings it would escape to it. Fuzz targets compare each with the
//     standard library.
//
// What it must not do: build etcd keys by hand (internal/keys does), speak
// the OVSDB wire protocol (the frontend does), or stream updates (the
// monitorhub does).
package txnengine
