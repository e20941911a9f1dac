package monitorhub

import (
	"strings"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
)

// rowKey tells whether key, under the database prefix dbPrefix of db,
// names a row, and returns its table and UUID and the key with the
// database prefix removed ("<table>/<uuid>", the hub's map key). Schema,
// comment, unknown and malformed keys are not rows; the hub skips them but
// still advances to their revision.
func rowKey(layout keys.Layout, db, dbPrefix, key string) (rest, table, uuid string, ok bool) {
	k, err := layout.ParseIn(db, key)
	if err != nil || k.Kind != keys.KindRow {
		return "", "", "", false
	}
	return strings.TrimPrefix(key, dbPrefix), k.Table, k.UUID.String(), true
}

// splitRest splits a row map key "<table>/<uuid>" (always well formed:
// only rowKey makes them).
func splitRest(rest string) (table, uuid string) {
	table, uuid, _ = strings.Cut(rest, "/")
	return table, uuid
}
