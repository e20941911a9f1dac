package txn

import (
	"math"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

type mutator int

const (
	mAdd mutator = iota
	mSub
	mMul
	mDiv
	mMod
	mInsert
	mDelete
)

var mutatorNames = map[string]mutator{
	"+=": mAdd, "-=": mSub, "*=": mMul, "/=": mDiv, "%=": mMod,
	"insert": mInsert, "delete": mDelete,
}

type mutation struct {
	col  *schema.Column
	op   mutator
	name string
	arg  ovsdb.Datum
	// argIsMap is false for "delete" of keys from a map.
	argIsMap bool
}

// parseMutations is ovsdb_mutation_set_from_json.
func parseMutations(t *schema.Table, v []any, sym ovsdb.Symbols) ([]mutation, *ovsdb.Error) {
	ms := make([]mutation, 0, len(v))
	for _, mj := range v {
		m, err := parseMutation(t, mj, sym)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

func parseMutation(t *schema.Table, v any, sym ovsdb.Symbols) (mutation, *ovsdb.Error) {
	arr, ok := v.([]any)
	if !ok || len(arr) != 3 {
		return mutation{}, syntaxError(v, true, "", "Parse error in mutation.")
	}
	colName, ok1 := arr[0].(string)
	opName, ok2 := arr[1].(string)
	if !ok1 || !ok2 {
		return mutation{}, syntaxError(v, true, "", "Parse error in mutation.")
	}
	col := t.Columns[colName]
	if col == nil {
		return mutation{}, syntaxError(v, true, ovsdb.TagUnknownColumn, "No column %s in table %s.", colName, t.Name)
	}
	if !isMutable(col) {
		return mutation{}, syntaxError(v, true, ovsdb.TagConstraintViolation, "Cannot mutate immutable column %s in table %s.", colName, t.Name)
	}
	op, ok := mutatorNames[opName]
	if !ok {
		return mutation{}, syntaxError(nil, false, "unknown mutator", "No mutator named %s.", opName)
	}
	m := mutation{col: col, op: op, name: opName}
	typ := col.Type
	mismatch := func() *ovsdb.Error {
		return syntaxError(v, true, "", "Type mismatch: \"%s\" operator may not be applied to column %s of type %s.",
			opName, colName, typeEnglish(col.Type))
	}
	isSet := !typ.IsMap() && (typ.Min != 1 || typ.Max != 1)
	switch op {
	case mAdd, mSub, mMul, mDiv, mMod:
		if (!typ.IsScalar() && !isSet) ||
			(typ.Key.Type != ovsdb.TypeInteger && typ.Key.Type != ovsdb.TypeReal) ||
			(op == mMod && typ.Key.Type == ovsdb.TypeReal) {
			return mutation{}, mismatch()
		}
		at := ovsdb.ScalarType(typ.Key.Type)
		arg, err := ovsdb.ParseDatum(at, arr[2], sym)
		if err != nil {
			return mutation{}, ovsdb.AsError(err)
		}
		m.arg = arg
	case mInsert, mDelete:
		if !isSet && !typ.IsMap() {
			return mutation{}, mismatch()
		}
		typ.Min = 0
		if op == mDelete {
			typ.Max = ovsdb.Unlimited
		}
		arg, err := ovsdb.ParseDatum(typ, arr[2], sym)
		m.argIsMap = typ.IsMap()
		if err != nil && typ.IsMap() && op == mDelete {
			typ.Value = ovsdb.BaseType{Type: ovsdb.TypeVoid}
			arg, err = ovsdb.ParseDatum(typ, arr[2], sym)
			m.argIsMap = false
		}
		if err != nil {
			return mutation{}, ovsdb.AsError(err)
		}
		m.arg = arg
	}
	return m, nil
}

func isMutable(c *schema.Column) bool {
	return c.Mutable && c.Name != "_uuid" && c.Name != "_version"
}

// applyMutations is ovsdb_mutation_set_execute on one row, returning the
// mutated columns' new datums (the row itself is not modified). Only
// those columns are read, so a committed row is not built as a map.
func applyMutations(row *match, ms []mutation) (ovsdb.Row, *ovsdb.Error) {
	out := make(ovsdb.Row, len(ms))
	for i := range ms {
		m := &ms[i]
		dst, ok := out[m.col.Name]
		if !ok {
			dst = row.col(m.col.Name, m.col.Type)
		}
		var err *ovsdb.Error
		switch m.op {
		case mAdd, mSub, mMul, mDiv, mMod:
			dst, err = mutateScalar(m, dst)
		case mInsert:
			dst = union(dst, m.arg)
			err = checkCount(m.col.Type, dst)
		case mDelete:
			dst = subtract(dst, m.arg, m.argIsMap)
			err = checkCount(m.col.Type, dst)
		}
		if err != nil {
			return nil, err
		}
		out[m.col.Name] = dst
	}
	return out, nil
}

func checkCount(t ovsdb.Type, d ovsdb.Datum) *ovsdb.Error {
	n := int64(len(d.Keys))
	if n < t.Min || n > t.Max {
		return ovsdb.NewError(ovsdb.TagConstraintViolation, "Attempted to store %d elements in %s.", n, typeEnglish(t))
	}
	return nil
}

func rangeError(m *mutation) *ovsdb.Error {
	return ovsdb.NewError(ovsdb.TagRangeError, "Result of \"%s\" operation is out of range.", m.name)
}

func mutateScalar(m *mutation, dst ovsdb.Datum) (ovsdb.Datum, *ovsdb.Error) {
	base := m.col.Type.Key
	keys := make([]ovsdb.Atom, len(dst.Keys))
	switch base.Type {
	case ovsdb.TypeInteger:
		y, _ := m.arg.Keys[0].(int64)
		for i, a := range dst.Keys {
			x, _ := a.(int64)
			var r int64
			switch m.op {
			case mAdd:
				r = x + y
				if (x > 0 && y > 0 && r < 0) || (x < 0 && y < 0 && r >= 0) {
					return dst, rangeError(m)
				}
			case mSub:
				r = x - y
				if (x >= 0 && y < 0 && r < 0) || (x < 0 && y > 0 && r >= 0) {
					return dst, rangeError(m)
				}
			case mMul:
				if mulOverflows(x, y) {
					return dst, rangeError(m)
				}
				r = x * y
			case mDiv, mMod:
				if y == 0 {
					return dst, ovsdb.NewError(ovsdb.TagDomainError, "Division by zero.")
				}
				if x == math.MinInt64 && y == -1 {
					return dst, rangeError(m)
				}
				if m.op == mDiv {
					r = x / y
				} else {
					r = x % y
				}
			}
			keys[i] = r
		}
	case ovsdb.TypeReal:
		y, _ := m.arg.Keys[0].(float64)
		for i, a := range dst.Keys {
			x, _ := a.(float64)
			var r float64
			switch m.op {
			case mAdd:
				r = x + y
			case mSub:
				r = x - y
			case mMul:
				r = x * y
			case mDiv:
				if y == 0 {
					return dst, ovsdb.NewError(ovsdb.TagDomainError, "Division by zero.")
				}
				r = x / y
			}
			if !(r >= -math.MaxFloat64 && r <= math.MaxFloat64) {
				return dst, rangeError(m)
			}
			keys[i] = r
		}
	}
	for _, a := range keys {
		if err := checkAtom(base, a); err != nil {
			return dst, err
		}
	}
	out := ovsdb.NewSet(keys...)
	if out.Len() != len(keys) {
		return dst, ovsdb.NewError(ovsdb.TagConstraintViolation, "Result of \"%s\" operation contains duplicates.", m.name)
	}
	return out, nil
}

// mulOverflows mirrors ovsdb-server's mul_int check (Hacker's Delight),
// including its treatment of the boundary.
func mulOverflows(x, y int64) bool {
	if x > 0 {
		if y > 0 {
			return x >= math.MaxInt64/y
		}
		return y < math.MinInt64/x
	}
	if y > 0 {
		return x < math.MinInt64/y
	}
	return x != 0 && y < math.MaxInt64/y
}

// checkAtom is ovsdb_atom_check_constraints for the numeric types that
// arithmetic mutators produce.
func checkAtom(b ovsdb.BaseType, a ovsdb.Atom) *ovsdb.Error {
	if b.Enum != nil && findAtom(b.Enum.Keys, a) < 0 {
		et := ovsdb.Type{Key: ovsdb.NewBaseType(b.Type), Value: ovsdb.BaseType{Type: ovsdb.TypeVoid}, Min: 0, Max: ovsdb.Unlimited}
		return ovsdb.NewError(ovsdb.TagConstraintViolation, "%s is not one of the allowed values (%s)", ovsdb.AtomString(a), datumText(et, *b.Enum))
	}
	switch x := a.(type) {
	case int64:
		if x >= b.MinInteger && x <= b.MaxInteger {
			return nil
		}
		if b.MinInteger != math.MinInt64 {
			if b.MaxInteger != math.MaxInt64 {
				return ovsdb.NewError(ovsdb.TagConstraintViolation, "%d is not in the valid range %d to %d (inclusive)", x, b.MinInteger, b.MaxInteger)
			}
			return ovsdb.NewError(ovsdb.TagConstraintViolation, "%d is less than minimum allowed value %d", x, b.MinInteger)
		}
		return ovsdb.NewError(ovsdb.TagConstraintViolation, "%d is greater than maximum allowed value %d", x, b.MaxInteger)
	case float64:
		if x >= b.MinReal && x <= b.MaxReal {
			return nil
		}
		if b.MinReal != -math.MaxFloat64 {
			if b.MaxReal != math.MaxFloat64 {
				return ovsdb.NewError(ovsdb.TagConstraintViolation, "%s is not in the valid range %s to %s (inclusive)", realText(x), realText(b.MinReal), realText(b.MaxReal))
			}
			return ovsdb.NewError(ovsdb.TagConstraintViolation, "%s is less than minimum allowed value %s", realText(x), realText(b.MinReal))
		}
		return ovsdb.NewError(ovsdb.TagConstraintViolation, "%s is greater than maximum allowed value %s", realText(x), realText(b.MaxReal))
	}
	return nil
}

// union adds arg's elements to dst; for maps, keys already in dst keep
// their values (ovsdb_datum_union without replace). Both are canonical
// (strictly ordered keys, as every stored and parsed datum is), so one
// merge replaces concatenating and sorting: a switch's ports set grows by
// one port per transaction, and sorting it every time was a tenth of the
// executor's time.
func union(dst, arg ovsdb.Datum) ovsdb.Datum {
	if len(arg.Keys) == 0 {
		return dst
	}
	isMap := dst.Values != nil || arg.Values != nil
	if isMap && (len(dst.Values) != len(dst.Keys) || len(arg.Values) != len(arg.Keys)) {
		return unionUnsorted(dst, arg) // not a well-formed map: keep NewMap's answer
	}
	n := len(dst.Keys) + len(arg.Keys)
	out := ovsdb.Datum{Keys: make([]ovsdb.Atom, 0, n)}
	if isMap {
		out.Values = make([]ovsdb.Atom, 0, n)
	}
	take := func(d ovsdb.Datum, i int) {
		out.Keys = append(out.Keys, d.Keys[i])
		if isMap {
			out.Values = append(out.Values, d.Values[i])
		}
	}
	i, j := 0, 0
	for i < len(dst.Keys) && j < len(arg.Keys) {
		switch c := ovsdb.CompareAtoms(dst.Keys[i], arg.Keys[j]); {
		case c < 0:
			take(dst, i)
			i++
		case c > 0:
			take(arg, j)
			j++
		default:
			take(dst, i)
			i++
			j++
		}
	}
	for ; i < len(dst.Keys); i++ {
		take(dst, i)
	}
	for ; j < len(arg.Keys); j++ {
		take(arg, j)
	}
	return out
}

// unionUnsorted is union by concatenating and canonicalizing.
func unionUnsorted(dst, arg ovsdb.Datum) ovsdb.Datum {
	keys := make([]ovsdb.Atom, 0, len(dst.Keys)+len(arg.Keys))
	keys = append(keys, dst.Keys...)
	keys = append(keys, arg.Keys...)
	if dst.Values == nil && arg.Values == nil {
		return ovsdb.NewSet(keys...)
	}
	vals := make([]ovsdb.Atom, 0, len(keys))
	vals = append(vals, dst.Values...)
	vals = append(vals, arg.Values...)
	return ovsdb.NewMap(keys, vals)
}

// subtract removes arg's elements from dst: for a map, pairs matching key
// and value when argIsMap, else keys. Both are canonical, so it walks
// them together (one comparison per element, not a binary search per
// element of dst).
func subtract(dst, arg ovsdb.Datum, argIsMap bool) ovsdb.Datum {
	if len(arg.Keys) == 0 || len(dst.Keys) == 0 {
		return dst
	}
	out := ovsdb.Datum{Keys: make([]ovsdb.Atom, 0, len(dst.Keys))}
	if dst.Values != nil {
		out.Values = make([]ovsdb.Atom, 0, len(dst.Keys))
	}
	j := 0
	for i, k := range dst.Keys {
		c := -1
		for j < len(arg.Keys) {
			if c = ovsdb.CompareAtoms(arg.Keys[j], k); c >= 0 {
				break
			}
			j++
		}
		remove := j < len(arg.Keys) && c == 0
		if remove && argIsMap && dst.Values != nil {
			remove = ovsdb.CompareAtoms(arg.Values[j], dst.Values[i]) == 0
		}
		if remove {
			continue
		}
		out.Keys = append(out.Keys, k)
		if dst.Values != nil {
			out.Values = append(out.Values, dst.Values[i])
		}
	}
	return out
}
