package monitorhub

import "strings"

// Key layout (DESIGN.md "Keys in etcd"). These helpers only read the
// layout; the hub never writes keys.

// servicePrefix is "<prefix>/<service>/".
func servicePrefix(prefix, service string) string {
	return prefix + "/" + service + "/"
}

// databasePrefix is "<prefix>/<service>/<db>/", the prefix of everything
// of one database and the range of its one watch.
func databasePrefix(prefix, service, db string) string {
	return servicePrefix(prefix, service) + db + "/"
}

// schemaKey is the key whose presence makes a database exist.
func schemaKey(prefix, service, db string) string {
	return databasePrefix(prefix, service, db) + "_schema"
}

// rowSuffix tells whether rest, a key with its database prefix removed,
// names a row ("<table>/<uuid>"). Table names never begin with "_"
// (RFC 7047 reserves those), so "_schema" and "_comments/..." are not rows.
func rowSuffix(rest string) (table, uuid string, ok bool) {
	table, uuid, found := strings.Cut(rest, "/")
	if !found || table == "" || uuid == "" || table[0] == '_' || strings.Contains(uuid, "/") {
		return "", "", false
	}
	return table, uuid, true
}
