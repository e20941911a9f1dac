// Package txn owns the OVSDB transaction semantics of RFC 7047 section 5.2
// and ovsdb-server(7): the executor of "transact" operations (insert,
// select, update, mutate, delete, wait, commit, abort, comment, assert),
// conditions, mutations, and the whole-transaction checks ovsdb-server runs
// at commit (referential integrity, garbage collection, maxRows, weak
// references, index uniqueness, _version), with its exact error tags and
// details.
//
// Invariants: a Database is changed only by a successful Execute (or by
// Put while loading); a failed or blocked transaction leaves it exactly as
// it was. Execute is deterministic given Options.NewUUID and the sequence
// of calls that built the Database. Per-transaction cost is proportional to
// the rows the transaction reads and touches, never to the database size,
// except for condition scans (which ovsdb-server also does).
//
// The package does no I/O and knows nothing of etcd, sessions or
// goroutines: a Database is owned by one caller (the txnengine's commit
// loop), which serializes every call.
package txn
