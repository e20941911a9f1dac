package txn

import (
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

// function is a condition function (RFC 7047 5.1), plus ovsdb-server's
// boolean constants.
type function int

const (
	fnFalse function = iota
	fnTrue
	fnEQ
	fnIncludes
	fnLE
	fnLT
	fnGE
	fnGT
	fnExcludes
	fnNE
)

var functionNames = map[string]function{
	"==": fnEQ, "includes": fnIncludes, "<=": fnLE, "<": fnLT,
	">=": fnGE, ">": fnGT, "excludes": fnExcludes, "!=": fnNE,
}

// Condition is a parsed list of conditions on one table (RFC 7047 5.1),
// as used by select/update/delete/wait and by monitor_cond. A row matches
// when it satisfies every clause; no clauses match every row.
type Condition struct {
	clauses []clause
}

type clause struct {
	fn     function
	column string
	typ    ovsdb.Type // the column's type
	arg    ovsdb.Datum
}

// ParseCondition parses a JSON array of conditions on table t, with
// ovsdb-server's extensions (bare true/false). Errors are *ovsdb.Error
// with ovsdb-server's tags and details. A "named-uuid" is a syntax error.
func ParseCondition(t *schema.Table, v any) (*Condition, error) {
	c, err := parseCondition(t, v, nil)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func parseCondition(t *schema.Table, v any, sym ovsdb.Symbols) (*Condition, *ovsdb.Error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, syntaxError(v, true, "", "array expected")
	}
	c := &Condition{clauses: make([]clause, 0, len(arr))}
	for _, cj := range arr {
		cl, err := parseClause(t, cj, sym)
		if err != nil {
			return nil, err
		}
		c.clauses = append(c.clauses, cl)
	}
	return c, nil
}

func parseClause(t *schema.Table, v any, sym ovsdb.Symbols) (clause, *ovsdb.Error) {
	if b, ok := v.(bool); ok {
		if b {
			return clause{fn: fnTrue}, nil
		}
		return clause{fn: fnFalse}, nil
	}
	arr, ok := v.([]any)
	if !ok || len(arr) != 3 {
		return clause{}, syntaxError(v, true, "", "Parse error in condition.")
	}
	colName, ok1 := arr[0].(string)
	fnName, ok2 := arr[1].(string)
	if !ok1 || !ok2 {
		return clause{}, syntaxError(v, true, "", "Parse error in condition.")
	}
	col := t.Columns[colName]
	if col == nil {
		return clause{}, syntaxError(v, true, ovsdb.TagUnknownColumn, "No column %s in table %s.", colName, t.Name)
	}
	fn, ok := functionNames[fnName]
	if !ok {
		return clause{}, syntaxError(nil, false, "unknown function", "No function named %s.", fnName)
	}
	typ := col.Type
	switch fn {
	case fnLT, fnLE, fnGT, fnGE:
		if (!typ.IsScalar() && !typ.IsOptional()) ||
			(typ.Key.Type != ovsdb.TypeInteger && typ.Key.Type != ovsdb.TypeReal) {
			return clause{}, syntaxError(v, true, "", "Type mismatch: \"%s\" operator may not be applied to column %s of type %s.",
				fnName, colName, typeEnglish(typ))
		}
		typ.Min, typ.Max = 1, 1
	case fnExcludes:
		if !typ.IsScalar() {
			typ.Min, typ.Max = 0, ovsdb.Unlimited
		}
	case fnIncludes:
		if !typ.IsScalar() {
			typ.Min = 0
		}
	}
	arg, err := ovsdb.ParseDatum(typ, arr[2], sym)
	if err != nil {
		return clause{}, ovsdb.AsError(err)
	}
	return clause{fn: fn, column: colName, typ: col.Type, arg: arg}, nil
}

// Match reports whether row (with its "_uuid") satisfies every condition.
func (c *Condition) Match(uuid ovsdb.UUID, row ovsdb.Row) bool {
	if c == nil {
		return true
	}
	for i := range c.clauses {
		if !c.clauses[i].eval(uuid, row) {
			return false
		}
	}
	return true
}

// MatchAny reports whether row satisfies at least one clause, or whether
// the condition has none: ovsdb-server's ovsdb_condition_empty_or_match_any,
// the semantics of a monitor_cond "where" (the OVS IDLs send one clause
// per wanted value and expect their union). Match is the semantics of a
// transaction's "where".
func (c *Condition) MatchAny(uuid ovsdb.UUID, row ovsdb.Row) bool {
	if c == nil || len(c.clauses) == 0 {
		return true
	}
	for i := range c.clauses {
		if c.clauses[i].eval(uuid, row) {
			return true
		}
	}
	return false
}

// uuidEquality returns the UUID of a `_uuid == <uuid>` clause, which lets
// a query look the row up instead of scanning.
func (c *Condition) uuidEquality() (ovsdb.UUID, bool) {
	if c == nil {
		return ovsdb.UUID{}, false
	}
	for _, cl := range c.clauses {
		if cl.fn == fnEQ && cl.column == "_uuid" && len(cl.arg.Keys) == 1 {
			if u, ok := cl.arg.Keys[0].(ovsdb.UUID); ok {
				return u, true
			}
		}
	}
	return ovsdb.UUID{}, false
}

// alwaysFalse reports whether a clause is the constant false.
func (c *Condition) alwaysFalse() bool {
	if c == nil {
		return false
	}
	for _, cl := range c.clauses {
		if cl.fn == fnFalse {
			return true
		}
	}
	return false
}

func columnDatum(uuid ovsdb.UUID, row ovsdb.Row, name string, typ ovsdb.Type) ovsdb.Datum {
	if name == "_uuid" {
		return ovsdb.Datum{Keys: []ovsdb.Atom{uuid}}
	}
	if d, ok := row[name]; ok {
		return d
	}
	return ovsdb.DefaultDatum(typ)
}

// matchVals is Match on a committed row of t.
func (c *Condition) matchVals(t *table, uuid ovsdb.UUID, r crow) bool {
	if c == nil {
		return true
	}
	for i := range c.clauses {
		cl := &c.clauses[i]
		switch cl.fn {
		case fnTrue:
			continue
		case fnFalse:
			return false
		}
		var field ovsdb.Datum
		if cl.column == "_uuid" {
			field = ovsdb.Datum{Keys: []ovsdb.Atom{uuid}}
		} else if j, ok := t.colIdx[cl.column]; ok {
			field = t.at(r, j)
		} else {
			field = ovsdb.DefaultDatum(cl.typ)
		}
		if !cl.evalField(field) {
			return false
		}
	}
	return true
}

// eval is ovsdb_clause_evaluate.
func (cl *clause) eval(uuid ovsdb.UUID, row ovsdb.Row) bool {
	switch cl.fn {
	case fnTrue:
		return true
	case fnFalse:
		return false
	}
	return cl.evalField(columnDatum(uuid, row, cl.column, cl.typ))
}

// evalField is ovsdb_clause_evaluate on the clause's column's datum.
func (cl *clause) evalField(field ovsdb.Datum) bool {
	typ := cl.typ
	ordering := cl.fn == fnLT || cl.fn == fnLE || cl.fn == fnGT || cl.fn == fnGE
	if typ.IsOptional() && len(field.Keys) == 0 && ordering {
		return false
	}
	if (typ.IsScalar() || typ.IsOptional()) && len(field.Keys) == 1 && len(cl.arg.Keys) == 1 {
		cmp := ovsdb.CompareAtoms(field.Keys[0], cl.arg.Keys[0])
		switch cl.fn {
		case fnLT:
			return cmp < 0
		case fnLE:
			return cmp <= 0
		case fnEQ, fnIncludes:
			return cmp == 0
		case fnNE, fnExcludes:
			return cmp != 0
		case fnGE:
			return cmp >= 0
		case fnGT:
			return cmp > 0
		}
	}
	switch cl.fn {
	case fnEQ:
		return field.Equal(cl.arg)
	case fnNE:
		return !field.Equal(cl.arg)
	case fnIncludes:
		return includesAll(field, cl.arg)
	case fnExcludes:
		return excludesAll(field, cl.arg)
	}
	return false
}

// findAtom returns the index of a in the sorted keys, or -1.
func findAtom(keys []ovsdb.Atom, a ovsdb.Atom) int {
	lo, hi := 0, len(keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		c := ovsdb.CompareAtoms(keys[m], a)
		if c == 0 {
			return m
		}
		if c < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return -1
}

// hasElement reports whether d holds key k (and value v, for a map
// element).
func hasElement(d ovsdb.Datum, k ovsdb.Atom, v ovsdb.Atom, withValue bool) bool {
	i := findAtom(d.Keys, k)
	if i < 0 {
		return false
	}
	if withValue && d.Values != nil {
		return ovsdb.CompareAtoms(d.Values[i], v) == 0
	}
	return true
}

// includesAll reports whether every element of arg is in field.
func includesAll(field, arg ovsdb.Datum) bool {
	for i, k := range arg.Keys {
		var v ovsdb.Atom
		if arg.Values != nil {
			v = arg.Values[i]
		}
		if !hasElement(field, k, v, arg.Values != nil) {
			return false
		}
	}
	return true
}

// excludesAll reports whether no element of arg is in field.
func excludesAll(field, arg ovsdb.Datum) bool {
	for i, k := range arg.Keys {
		var v ovsdb.Atom
		if arg.Values != nil {
			v = arg.Values[i]
		}
		if hasElement(field, k, v, arg.Values != nil) {
			return false
		}
	}
	return true
}
