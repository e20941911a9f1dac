// Package schema parses and validates OVSDB database schemas (RFC 7047
// section 3.2, ovsdb(7)) and renders them back as ovsdb-server's
// get_schema does, and owns the row codec: the etcd value of a row.
//
// Parse applies ovsdb-server's rules and messages (ovsdb/ovsdb.c,
// table.c, column.c): reserved and invalid names, refTable targets,
// indexes over existing non-ephemeral columns, version "x.y.z", and the
// rewrites ovsdb-server makes: with no isRoot table every table is a root;
// a strong reference to a non-root table is never ephemeral; a weak
// reference is always mutable. Each table gets implicit "_uuid" and
// "_version" columns. Errors name the table and column and wrap
// ovsdb-server's *ovsdb.Error.
//
// Row values (rowcodec.go) are JSON objects with every user column in
// OVSDB notation, in byte order of the names, then "_version"; they are
// written and read without reflection since every commit and watch event
// passes through them.
//
// Invariants: a *Database returned by Parse is valid and never mutated
// afterwards, so it is shared freely between goroutines. No I/O.
package schema
