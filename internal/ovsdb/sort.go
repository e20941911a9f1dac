package ovsdb

import (
	"slices"
	"sort"
	"strings"
)

// sortAtoms sorts a set's atoms, with fast paths for the common
// homogeneous cases.
func sortAtoms(keys []Atom) {
	switch keys[0].(type) {
	case string:
		slices.SortFunc(keys, func(a, b Atom) int {
			x, ok1 := a.(string)
			y, ok2 := b.(string)
			if ok1 && ok2 {
				return strings.Compare(x, y)
			}
			return CompareAtoms(a, b)
		})
	case UUID:
		slices.SortFunc(keys, func(a, b Atom) int {
			x, ok1 := a.(UUID)
			y, ok2 := b.(UUID)
			if ok1 && ok2 {
				return x.Compare(y)
			}
			return CompareAtoms(a, b)
		})
	default:
		slices.SortFunc(keys, CompareAtoms)
	}
}

// pairSorter sorts parallel key and value slices by key.
type pairSorter struct{ keys, values []Atom }

func (p pairSorter) Len() int           { return len(p.keys) }
func (p pairSorter) Less(i, j int) bool { return CompareAtoms(p.keys[i], p.keys[j]) < 0 }
func (p pairSorter) Swap(i, j int) {
	p.keys[i], p.keys[j] = p.keys[j], p.keys[i]
	p.values[i], p.values[j] = p.values[j], p.values[i]
}

// sortPairs sorts a map's pairs by key (stable, so the first of equal keys
// stays first).
func sortPairs(keys, values []Atom) {
	sort.Stable(pairSorter{keys, values})
}
