package monitorhub

import (
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// rowID names a row in the hub's row map. It holds the UUID as 16 bytes
// and the table name interned per database (database.internTable), so a
// row costs no key string: with 100,000 rows the etcd key strings alone
// would be about 8 MB, and a table name cut out of one would keep its
// whole key alive.
type rowID struct {
	table string
	uuid  ovsdb.UUID
}

// rowKey tells whether key, a key of database db, names a row, and
// returns its table (a substring of key: intern it before keeping it) and
// UUID. Schema, comment, unknown and malformed keys are not rows; the hub
// skips them but still advances to their revision.
func rowKey(layout keys.Layout, db, key string) (table string, u ovsdb.UUID, ok bool) {
	k, err := layout.ParseIn(db, key)
	if err != nil || k.Kind != keys.KindRow {
		return "", ovsdb.UUID{}, false
	}
	return k.Table, k.UUID, true
}
