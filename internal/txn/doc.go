// Package txn owns the OVSDB transaction semantics of RFC 7047 section 5.2
// and ovsdb-server(7): the executor of "transact" operations (insert,
// select, update, mutate, delete, wait, commit, abort, comment, assert),
// conditions, mutations, and the whole-transaction checks ovsdb-server runs
// at commit (referential integrity, garbage collection, maxRows, weak
// references, index uniqueness, _version), with its exact error tags and
// details. ovsdb-server 3.1 is the reference; its sources (ovsdb/
// execution.c, transaction.c, condition.c, mutation.c) were followed.
//
// Invariants: a Database is changed only by a successful Execute (or by
// Put, Delete and Revert while loading or undoing); a failed or blocked
// transaction leaves it exactly as it was. Execute is deterministic given
// Options.NewUUID and the sequence of calls that built the Database.
// Per-transaction cost is proportional to the rows the transaction reads
// and touches, never to the database size, except for condition scans
// (which ovsdb-server also does): indexes are hash maps, and the Database
// keeps per-row strong reference counts and weak-reference sources so that
// garbage collection and integrity checks visit touched rows only.
// Committed rows are stored compactly (crow.go: only non-default columns,
// one-atom columns as bare atoms, map strings interned), not as
// ovsdb.Row maps; Get, Range and a transaction's touched rows build maps
// on demand, and conditions read the compact form in place. A row a
// transaction inserts holds only the columns its insert gave (a missing
// column holds its default, table.rowVal), and so may RowChange.New.
// Datums are canonical (strictly ordered keys), which set mutations and
// reference bookkeeping rely on to merge instead of search.
//
// Where ovsdb-server's answer depends on the order of its hash maps (which
// of several errors it reports, the order of the two rows of a duplicate
// index error, the default row order of select), that order is reproduced:
// columns and JSON members (shash.go), a table's rows and a transaction's
// rows (rowhmap.go). Where it depends on random UUIDs (including random
// _version values) the answer is equally valid but may differ; the order
// of members inside one client JSON object is lost in decoding, so names
// that share a hash bucket are taken in byte order. Like ovsdb-server, a
// weak reference whose referrer was assessed before its target's deletion
// in the same transaction is kept (assess_weak_refs visits rows once).
//
// The package does no I/O and knows nothing of etcd, sessions or
// goroutines: a Database is owned by one caller (the txnengine's commit
// loop), which serializes every call.
package txn
