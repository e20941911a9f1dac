package ovsdb

// Datum is the value of one column: a set of atoms, or a map when Values is
// non-nil (Values[i] is the value of Keys[i]). Keys are sorted by
// CompareAtoms without duplicates; a Datum is treated as immutable once
// built, so rows may share them.
type Datum struct {
	Keys   []Atom
	Values []Atom
}

// Symbols resolves "named-uuid" references while parsing a transaction.
// A nil Symbols makes "named-uuid" a syntax error.
type Symbols interface {
	// Resolve returns the UUID bound to name.
	Resolve(name string) (UUID, error)
}

// JSON values handed to and returned by this package are those of
// encoding/json decoded with UseNumber: nil, bool, json.Number, string,
// []any and map[string]any.

// Row is one row's columns by name. Stored rows carry every column of
// their table plus "_version"; "_uuid" lives in the row's key, not here.
type Row map[string]Datum
