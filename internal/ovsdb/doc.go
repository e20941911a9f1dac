// Package ovsdb owns the OVSDB data model of RFC 7047 sections 3 and 5 and
// ovsdb(7): atomic types, base types with their constraints, column types,
// atoms and datums in canonical order, their JSON notation in both
// directions, and the RFC 7047 error objects.
//
// Invariants: a Datum built by this package is canonical (keys sorted by
// CompareAtoms, no duplicate keys) and every atom holds one of the Go types
// named by AtomicType. This package does no I/O and knows nothing of tables,
// etcd or sessions.
package ovsdb
