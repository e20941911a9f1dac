package txn

import (
	"math/bits"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// crow is a committed row in the compact form a Database keeps: a Go map
// per row (ovsdb.Row) costs about 3 KB for a Logical_Switch_Port, and a
// Datum per column still 48 bytes (plus its slice of atoms) even when the
// column holds its default, which most columns of most OVN rows do. So a
// crow holds only the columns whose datum differs from the default, in
// column order (see table.colIdx): mask tells which (bit i set: column i
// is stored). Of those, a datum of exactly one atom (a scalar, an
// optional or a one-element set; not a map) is kept as that atom in
// atoms, and single tells which; the others are whole datums in vals. A
// table with more than 64 columns ("_version" included) keeps every
// column in vals (table.dense). Datums and atoms are immutable and shared
// with the rows they came from.
type crow struct {
	mask, single uint64
	vals         []ovsdb.Datum
	atoms        []ovsdb.Atom
}

// maxSparseCols is the most columns ("_version" included) a table may have
// for its rows to be kept sparse.
const maxSparseCols = 64

// compact returns row in crow form; columns missing from row take their
// defaults, a missing "_version" the all-zero UUID.
func (t *table) compact(row ovsdb.Row) crow {
	n := len(t.cols) + 1
	if t.dense {
		vals := make([]ovsdb.Datum, n)
		for i, c := range t.cols {
			if d, ok := row[c.Name]; ok {
				vals[i] = d
			} else {
				vals[i] = t.defaultVals[i]
			}
		}
		vals[n-1] = t.version(row)
		return crow{vals: vals}
	}
	var r crow
	nVals, nAtoms := 0, 0
	for i, c := range t.cols {
		if d, ok := row[c.Name]; ok && !isDefault(d, t.defaultVals[i]) {
			r.mask |= 1 << i
			if isSingle(d) {
				r.single |= 1 << i
				nAtoms++
			} else {
				nVals++
			}
		}
	}
	ver := t.version(row)
	r.mask |= 1 << (n - 1)
	if isSingle(ver) {
		r.single |= 1 << (n - 1)
		nAtoms++
	} else {
		nVals++
	}
	if nVals > 0 {
		r.vals = make([]ovsdb.Datum, 0, nVals)
	}
	if nAtoms > 0 {
		r.atoms = make([]ovsdb.Atom, 0, nAtoms)
	}
	for i := 0; i < n; i++ {
		bit := uint64(1) << i
		if r.mask&bit == 0 {
			continue
		}
		d := ver
		if i < n-1 {
			d = row[t.cols[i].Name]
		}
		switch {
		case r.single&bit != 0:
			r.atoms = append(r.atoms, d.Keys[0])
		case d.Values != nil && t.strs != nil:
			r.vals = append(r.vals, t.strs.mapDatum(d))
		default:
			r.vals = append(r.vals, d)
		}
	}
	return r
}

// isSingle reports whether d is one atom and not a map.
func isSingle(d ovsdb.Datum) bool { return len(d.Keys) == 1 && d.Values == nil }

func (t *table) version(row ovsdb.Row) ovsdb.Datum {
	if v, ok := row["_version"]; ok {
		return v
	}
	return ovsdb.Datum{Keys: []ovsdb.Atom{ovsdb.UUID{}}}
}

// isDefault reports whether d equals the column's default def (cheaply
// for the common cases: empty sets and maps, empty strings, zero numbers).
func isDefault(d, def ovsdb.Datum) bool {
	if len(d.Keys) != len(def.Keys) || (d.Values == nil) != (def.Values == nil) {
		return false
	}
	if len(d.Keys) == 0 {
		return true
	}
	return d.Equal(def)
}

// at returns the datum of column i (len(t.cols) is "_version").
func (t *table) at(r crow, i int) ovsdb.Datum {
	if t.dense {
		return r.vals[i]
	}
	bit := uint64(1) << i
	if r.mask&bit == 0 {
		return t.defaultVals[i]
	}
	if r.single&bit != 0 {
		j := bits.OnesCount64(r.single & (bit - 1))
		return ovsdb.Datum{Keys: r.atoms[j : j+1 : j+1]}
	}
	return r.vals[bits.OnesCount64(r.mask&^r.single&(bit-1))]
}

// val returns the datum of a column other than "_uuid"; the zero Datum
// for an unknown column.
func (t *table) val(r crow, name string) ovsdb.Datum {
	if i, ok := t.colIdx[name]; ok {
		return t.at(r, i)
	}
	return ovsdb.Datum{}
}

// rowMap builds the ovsdb.Row of a committed row.
func (t *table) rowMap(r crow) ovsdb.Row {
	row := make(ovsdb.Row, len(t.cols)+1)
	for i, c := range t.cols {
		row[c.Name] = t.at(r, i)
	}
	row["_version"] = t.at(r, len(t.cols))
	return row
}

// interner shares the string atoms of maps among the rows of one
// Database: the keys of OVN's external_ids and options maps (and many of
// their values) repeat in every row, and each boxed string atom costs 32
// bytes or more. It is bounded: once full it shares what it holds and adds
// nothing, and it keeps what it holds alive (at most maxInterned strings
// of at most maxInternedLen bytes). Atoms are immutable, so sharing one
// is invisible.
type interner struct {
	m map[string]ovsdb.Atom
}

const (
	maxInterned    = 1 << 14
	maxInternedLen = 64
)

func newInterner() *interner { return &interner{m: map[string]ovsdb.Atom{}} }

// atom returns the shared atom equal to a, and whether it differs from a.
func (in *interner) atom(a ovsdb.Atom) (ovsdb.Atom, bool) {
	s, ok := a.(string)
	if !ok || len(s) > maxInternedLen {
		return a, false
	}
	if v, ok := in.m[s]; ok {
		return v, true
	}
	if len(in.m) < maxInterned {
		in.m[s] = a
	}
	return a, false
}

// mapDatum returns d with its string atoms shared; d's slices are copied
// before any change, never modified.
func (in *interner) mapDatum(d ovsdb.Datum) ovsdb.Datum {
	out := d
	for i, k := range d.Keys {
		if v, ok := in.atom(k); ok {
			if &out.Keys[0] == &d.Keys[0] {
				out.Keys = append([]ovsdb.Atom(nil), d.Keys...)
			}
			out.Keys[i] = v
		}
	}
	for i, k := range d.Values {
		if v, ok := in.atom(k); ok {
			if &out.Values[0] == &d.Values[0] {
				out.Values = append([]ovsdb.Atom(nil), d.Values...)
			}
			out.Values[i] = v
		}
	}
	return out
}
