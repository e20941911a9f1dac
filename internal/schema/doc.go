// Package schema parses and validates OVSDB database schemas (RFC 7047
// section 3.2, ovsdb(7)) and renders them back as ovsdb-server's
// get_schema does.
//
// Invariants: a *Database returned by Parse is valid and never mutated
// afterwards, so it is shared freely between goroutines. No I/O.
package schema
