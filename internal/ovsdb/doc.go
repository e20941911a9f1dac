// Package ovsdb owns the OVSDB data model of RFC 7047 sections 3 and 5 and
// ovsdb(7): atomic types, base types with their constraints, column types,
// atoms and datums in canonical order, their JSON notation in both
// directions, and the RFC 7047 error objects.
//
// Everything here mirrors ovsdb-server 3.1 (lib/ovsdb-data.c,
// lib/ovsdb-types.c, lib/json.c) closely enough that a client sees the same
// bytes: a JSON number is an integer whenever its value is an exact int64,
// whatever its spelling ("1.0", "1e3"); reals print as "%.15g"; error
// objects carry ovsdb-server's tags, details and "syntax" text. The tests
// that prove it run against the real server (internal/schema).
//
// Files: atom.go (atomic types, UUID), types.go and typejson.go (base and
// column types, their schema JSON), datum.go, compare.go and sort.go
// (canonical datums and their order), notation.go (JSON notation of
// values, constraint checks, error texts), json.go (number classification
// and ovsdb-server's JSON text), parser.go (ovsdb_parser's member checks,
// shared with the schema and transaction parsers), errors.go.
//
// Invariants: a Datum built by this package is canonical (keys sorted by
// CompareAtoms, no duplicate keys), a map Datum has non-nil Values, and
// every atom holds one of the Go types named by AtomicType. Datums are
// immutable once built and may be shared. This package does no I/O and
// knows nothing of tables, etcd or sessions.
package ovsdb
