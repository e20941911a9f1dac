// Package txnengine is the transaction stage of the ovsdb-etcd pipeline
// (DESIGN.md): the one process that changes OVSDB data in etcd.
//
// What it owns: the leader election on <prefix>/<service>/_/_txnengine,
// the leader's authoritative in-memory copy of every database (txn.Database),
// the group-commit loop that executes OVSDB transactions against that copy
// and writes their net effect to etcd in one fenced Txn per batch, parked
// "wait" transactions, and periodic etcd compaction. It also provides the
// gRPC service of proto/ovsdbetcd/txnengine/v1 and a Client that follows
// the leader for the frontend.
//
// Invariants:
//   - Only the commit loop of the current term touches the in-memory
//     databases; everything else sends it work on a bounded channel with a
//     reply channel of capacity 1.
//   - Every write Txn carries CreateRevision(leaderKey) == leaderRev and
//     ModRevision(marker) == the marker's last known revision in its
//     If-clause, so a deposed leader can never write and a Txn whose outcome
//     is unknown can be resolved (see resolveUnknown).
//   - A request is answered only after etcd acknowledged its batch, and is
//     answered Unavailable (retryable) only when it provably did not commit.
//
// What it must not do: build etcd keys by hand (internal/keys does), speak
// the OVSDB wire protocol (the frontend does), or stream updates (the
// monitorhub does).
package txnengine
