package ovsdb

import (
	"cmp"
	"slices"
	"strings"
)

// CompareAtoms orders two atoms of the same atomic type as ovsdb-server's
// ovsdb_atom_compare_3way does (integers and reals numerically, false <
// true, strings bytewise, UUIDs by their text form, which is their byte
// order). It returns -1, 0 or +1. Atoms of different Go types are ordered
// by AtomicType so that the function is total.
func CompareAtoms(a, b Atom) int {
	switch x := a.(type) {
	case int64:
		if y, ok := b.(int64); ok {
			return cmp.Compare(x, y)
		}
	case float64:
		if y, ok := b.(float64); ok {
			return cmp.Compare(x, y) // never NaN: JSON has none
		}
	case bool:
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	case UUID:
		if y, ok := b.(UUID); ok {
			return x.Compare(y)
		}
	}
	ta, tb := AtomType(a), AtomType(b)
	switch {
	case ta < tb:
		return -1
	case ta > tb:
		return 1
	}
	return 0
}

// AtomType returns the atomic type of a's Go type, TypeVoid for anything
// that is not an atom.
func AtomType(a Atom) AtomicType {
	switch a.(type) {
	case int64:
		return TypeInteger
	case float64:
		return TypeReal
	case bool:
		return TypeBoolean
	case string:
		return TypeString
	case UUID:
		return TypeUUID
	}
	return TypeVoid
}

// NewSet builds a canonical set datum (sorted, duplicates removed). It takes
// ownership of atoms' backing array only through the variadic copy, so the
// caller's slice is never modified.
func NewSet(atoms ...Atom) Datum {
	keys := slices.Clone(atoms)
	if len(keys) > 1 && !sortedStrict(keys) {
		slices.SortStableFunc(keys, CompareAtoms)
		keys = slices.CompactFunc(keys, func(a, b Atom) bool { return CompareAtoms(a, b) == 0 })
	}
	return Datum{Keys: keys}
}

// NewMap builds a canonical map datum from parallel keys and values; later
// duplicates of a key are dropped. Values of the result is never nil, even
// for an empty map, which is how a Datum says it is a map.
func NewMap(keys, values []Atom) Datum {
	n := min(len(keys), len(values))
	if sortedStrict(keys[:n]) {
		return Datum{Keys: slices.Clone(keys[:n]), Values: append(make([]Atom, 0, n), values[:n]...)}
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	// A stable sort keeps the first of equal keys first.
	slices.SortStableFunc(idx, func(i, j int) int { return CompareAtoms(keys[i], keys[j]) })
	d := Datum{Keys: make([]Atom, 0, n), Values: make([]Atom, 0, n)}
	for k, i := range idx {
		if k > 0 && CompareAtoms(keys[idx[k-1]], keys[i]) == 0 {
			continue
		}
		d.Keys = append(d.Keys, keys[i])
		d.Values = append(d.Values, values[i])
	}
	return d
}

// sortedStrict reports whether atoms are in strictly increasing order.
func sortedStrict(atoms []Atom) bool {
	for i := 1; i < len(atoms); i++ {
		if CompareAtoms(atoms[i-1], atoms[i]) >= 0 {
			return false
		}
	}
	return true
}

// IsMap reports whether d is a map datum (Values non-nil).
func (d Datum) IsMap() bool { return d.Values != nil }

// Len returns the number of elements.
func (d Datum) Len() int { return len(d.Keys) }

// Equal reports whether two canonical datums are equal: same keys and,
// for maps, same values. An empty set equals an empty map.
func (d Datum) Equal(o Datum) bool {
	if len(d.Keys) != len(o.Keys) || len(d.Values) != len(o.Values) {
		return false
	}
	for i := range d.Keys {
		if CompareAtoms(d.Keys[i], o.Keys[i]) != 0 {
			return false
		}
	}
	for i := range d.Values {
		if CompareAtoms(d.Values[i], o.Values[i]) != 0 {
			return false
		}
	}
	return true
}

// Compare orders two datums of one type as ovsdb_datum_compare_3way does:
// by size first, then the keys element by element, then (for maps) the
// values element by element.
func (d Datum) Compare(o Datum) int {
	if len(d.Keys) != len(o.Keys) {
		if len(d.Keys) < len(o.Keys) {
			return -1
		}
		return 1
	}
	for i := range d.Keys {
		if c := CompareAtoms(d.Keys[i], o.Keys[i]); c != 0 {
			return c
		}
	}
	n := min(len(d.Values), len(o.Values))
	for i := 0; i < n; i++ {
		if c := CompareAtoms(d.Values[i], o.Values[i]); c != 0 {
			return c
		}
	}
	return 0
}

// Find returns the index of key in d's keys and whether it is present,
// by binary search.
func (d Datum) Find(key Atom) (int, bool) {
	return slices.BinarySearchFunc(d.Keys, key, CompareAtoms)
}

// Contains reports whether d has key.
func (d Datum) Contains(key Atom) bool {
	_, ok := d.Find(key)
	return ok
}
