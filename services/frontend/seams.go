package frontend

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
	txnenginev1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/txnengine/v1"
)

// Transactor executes one OVSDB transaction. The txnengine client
// (services/txnengine) implements it. Resp.Revision is the etcd revision
// of the commit, 0 when nothing was written. The ctx carries the
// client's cancellation ("cancel" or disconnect) and the trace span.
type Transactor interface {
	Transact(ctx context.Context, req *txnenginev1.TransactRequest) (*txnenginev1.TransactResponse, error)
}

// Subscriber streams the changes of one database, the seam the monitorhub
// client fills. Subscribe delivers events to fn in revision order, from
// fromRev (0: a snapshot of the current state first; >0: the changes after
// fromRev, or a snapshot when they are no longer available), until ctx
// ends (it then returns ctx.Err()) or the stream fails for good. If fn
// returns an error Subscribe stops and returns it. The frontend calls
// Subscribe once per database and calls it again from the last revision
// it applied when it returns early.
type Subscriber interface {
	Subscribe(ctx context.Context, database string, fromRev int64, fn func(Event) error) error
}

// LiveSubscriber is a Subscriber that can also subscribe without the old
// row values of updates (RawChange.Old nil). The frontend's live
// subscription uses it when the Subscriber has it: it keeps the current
// rows and never reads Old there, which is about half of the stream of a
// busy database. The history backfill still needs Old.
type LiveSubscriber interface {
	SubscribeLive(ctx context.Context, database string, fromRev int64, fn func(Event) error) error
}

// EventKind says what an Event carries.
type EventKind int

// Event kinds, mirroring monitorhub.v1.WatchResponse.
const (
	// EventSnapshot carries (a chunk of) the whole state at Rev; the chunk
	// with Last set completes it. The state replaces whatever the frontend
	// held, and the difference reaches the monitors as one update.
	EventSnapshot EventKind = iota
	// EventUpdate carries the net changes of exactly one etcd revision.
	EventUpdate
	// EventProgress says that nothing changed up to Rev.
	EventProgress
)

// Event is one item of a database's change stream.
type Event struct {
	Kind    EventKind
	Rev     int64
	Rows    []RawRow    // EventSnapshot
	Last    bool        // EventSnapshot: the final chunk
	Changes []RawChange // EventUpdate
}

// RawRow is one row as stored in etcd (schema.Table.EncodeRow's JSON).
type RawRow struct {
	Table string
	UUID  string
	Value []byte
}

// RawChange is one row's change in one revision: Old empty for an insert,
// New empty for a delete.
type RawChange struct {
	Table    string
	UUID     string
	Old, New []byte
}

// Deps are the frontend's collaborators.
type Deps struct {
	// Transactor executes transactions. Required.
	Transactor Transactor
	// Subscriber streams database changes. Required.
	Subscriber Subscriber
	// Schemas are the served databases by name. If nil, LoadSchemas is
	// called by New.
	Schemas map[string]*schema.Database
	// LoadSchemas loads the schemas (for example from etcd's _schema
	// keys) when Schemas is nil.
	LoadSchemas func(ctx context.Context) (map[string]*schema.Database, error)
	// ServerID is the UUID answered to get_server_id and used as _Server's
	// sid; random when empty.
	ServerID string
	// ClusterID is the etcd cluster id. It goes into the transaction ids
	// of monitor_cond_since and update3, so that ids stay valid across
	// frontends of one cluster and never match another cluster's. When 0
	// and Etcd is set, New reads it from etcd.
	ClusterID uint64
	// Etcd, when set, makes OVSDB locks cluster-wide: they are kept under
	// Keys.Locks() with this frontend's lease (DESIGN.md "Locks"). When
	// nil, locks are local to this frontend.
	Etcd *clientv3.Client
	// Keys is the etcd key layout (prefix and service) for locks;
	// keys.Default() when zero.
	Keys keys.Layout
}
