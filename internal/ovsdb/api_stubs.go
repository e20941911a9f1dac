package ovsdb

// TEMPORARY: signatures the data-model helper must implement (and then delete
// this file, moving each function to its proper file). Other packages code
// against these now.

// CompareAtoms orders two atoms of the same atomic type as ovsdb-server does
// (integers and reals numerically, false < true, strings bytewise, UUIDs by
// their text form). It returns -1, 0 or +1.
func CompareAtoms(a, b Atom) int { panic("unimplemented") }

// NewSet builds a canonical set datum (sorted, duplicates removed).
func NewSet(atoms ...Atom) Datum { panic("unimplemented") }

// NewMap builds a canonical map datum from parallel keys and values; later
// duplicates of a key are dropped.
func NewMap(keys, values []Atom) Datum { panic("unimplemented") }

// Len returns the number of elements.
func (d Datum) Len() int { return len(d.Keys) }

// Equal reports whether two canonical datums are equal.
func (d Datum) Equal(o Datum) bool { panic("unimplemented") }

// Compare orders two datums of one type as ovsdb_datum_compare_3way does.
func (d Datum) Compare(o Datum) int { panic("unimplemented") }

// ParseType parses a schema <type> (a string shorthand or an object).
func ParseType(v any) (Type, error) { panic("unimplemented") }

// JSON renders the type the way ovsdb-server's get_schema does.
func (t Type) JSON() any { panic("unimplemented") }

// ParseAtom parses the JSON notation of one atom of base type b, checking
// its type and constraints (enum, ranges, lengths) as ovsdb-server does,
// resolving "named-uuid" through sym.
func (b BaseType) ParseAtom(v any, sym Symbols) (Atom, error) { panic("unimplemented") }

// ParseDatum parses the JSON notation of a value of type t (atom shorthand,
// ["set",..], ["map",..], ["uuid",..], ["named-uuid",..]) and checks it
// against t, returning ovsdb-server's errors.
func ParseDatum(t Type, v any, sym Symbols) (Datum, error) { panic("unimplemented") }

// DatumJSON renders d in ovsdb-server's notation for type t (a lone atom for
// a one-element set, ["set",[...]] otherwise, ["map",[...]] for maps).
func DatumJSON(t Type, d Datum) any { panic("unimplemented") }

// AtomJSON renders one atom (["uuid","..."] for a UUID).
func AtomJSON(a Atom) any { panic("unimplemented") }

// DefaultDatum is the default value of type t (empty, or min=1 default atoms:
// 0, 0.0, false, "", all-zero UUID).
func DefaultDatum(t Type) Datum { panic("unimplemented") }

// CheckDatum checks d against t's size and atom constraints, as
// ovsdb-server does after a mutation, returning its error.
func (t Type) CheckDatum(d Datum) error { panic("unimplemented") }
