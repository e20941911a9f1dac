package txn

import (
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

// TEMPORARY: the executor API other packages code against; the executor
// helper implements it and moves each piece to its proper file.

// Database is the in-memory state of one database. It is not safe for
// concurrent use: its owner (the txnengine commit loop, or a test)
// serializes every call.
type Database struct {
	schema *schema.Database
}

// NewDatabase returns an empty database of schema s.
func NewDatabase(s *schema.Database) *Database { return &Database{schema: s} }

// Schema returns the database's schema.
func (db *Database) Schema() *schema.Database { return db.schema }

// Put stores a row as loaded from etcd (it carries "_version"), replacing
// any row with that UUID. Used when (re)loading; no checks are run.
func (db *Database) Put(table string, uuid ovsdb.UUID, row ovsdb.Row) error {
	panic("unimplemented")
}

// Get returns a stored row, or nil.
func (db *Database) Get(table string, uuid ovsdb.UUID) ovsdb.Row { panic("unimplemented") }

// Options are the caller's context for one transaction.
type Options struct {
	// HasLock reports whether the session holds the named lock ("assert").
	// nil means it holds none.
	HasLock func(name string) bool
	// NewUUID generates UUIDs for inserted rows and _version; nil: random.
	NewUUID func() ovsdb.UUID
	// WaitExpired makes an unsatisfied "wait" fail with "timed out" instead
	// of blocking (set when the wait's timeout has run out; timeout 0 always
	// fails at once).
	WaitExpired bool
}

// RowChange is one row's net change: Old nil for an insert, New nil for a
// delete. New carries the bumped "_version".
type RowChange struct {
	Table string
	UUID  ovsdb.UUID
	Old   ovsdb.Row
	New   ovsdb.Row
}

// Result is the outcome of Execute.
type Result struct {
	// Reply is the transact result array exactly as ovsdb-server returns it.
	Reply []any
	// Changes are the committed row changes, already applied to the
	// Database; empty when the transaction failed or changed nothing.
	Changes []RowChange
	// Comments are the "comment" operations' strings, in order.
	Comments []string
	// Durable is true when a "commit" operation asked for durability.
	Durable bool
	// Blocked is true when a "wait" is not satisfied yet and its timeout
	// has not run out: nothing was applied and Reply is nil; the caller
	// runs the transaction again after a later commit, or with WaitExpired
	// once BlockTimeoutMs has passed since it first arrived.
	Blocked        bool
	BlockTimeoutMs int64
}

// Execute runs the operations of one transact request (the params after
// the database name, decoded with json.Decoder.UseNumber) against db. On
// success it applies the changes to db and returns them; on failure db is
// unchanged.
func Execute(db *Database, ops []any, opts Options) Result { panic("unimplemented") }

// Condition is a parsed list of conditions on one table (RFC 7047 5.1),
// as used by select/update/delete/wait and by monitor_cond.
type Condition struct{}

// ParseCondition parses a JSON array of conditions on table t, with
// ovsdb-server's extensions (bare true/false).
func ParseCondition(t *schema.Table, v any) (*Condition, error) { panic("unimplemented") }

// Match reports whether row (with its "_uuid") satisfies every condition.
func (c *Condition) Match(uuid ovsdb.UUID, row ovsdb.Row) bool { panic("unimplemented") }
