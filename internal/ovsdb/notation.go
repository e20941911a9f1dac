package ovsdb

import (
	"encoding/json"
	"math"
	"strconv"
)

// RefSymbols is an optional extension of Symbols. When a Symbols also
// implements it, ParseAtom calls ResolveRef instead of Resolve and passes
// the reference type of the column being parsed, so that the caller can
// tell strong from weak uses of a "named-uuid" as ovsdb-server does
// (a plain uuid column counts as strong there).
type RefSymbols interface {
	ResolveRef(name string, ref RefType) (UUID, error)
}

// syntaxError returns ovsdb-server's syntax error for the JSON value v:
// details from format, and v's JSON text in "syntax".
func syntaxError(v any, format string, args ...any) *Error {
	e := NewError(TagSyntaxError, format, args...)
	e.Syntax = JSONString(v)
	return e
}

// ParseAtom parses the JSON notation of one atom of base type b, checking
// its type and constraints (enum, ranges, lengths) as ovsdb-server does,
// resolving "named-uuid" through sym.
func (b BaseType) ParseAtom(v any, sym Symbols) (Atom, error) {
	a, err := b.parseAtomNoCheck(v, sym)
	if err != nil {
		return nil, err
	}
	if err := b.CheckAtom(a); err != nil {
		return nil, err
	}
	return a, nil
}

// parseAtomNoCheck is ovsdb_atom_from_json__: the type check only.
func (b *BaseType) parseAtomNoCheck(v any, sym Symbols) (Atom, error) {
	switch b.Type {
	case TypeInteger:
		switch x := v.(type) {
		case json.Number:
			if i, _, isInt, ok := parseNumber(string(x)); ok && isInt {
				return i, nil
			}
		case int64:
			return x, nil
		case int:
			return int64(x), nil
		case float64:
			if x == math.Trunc(x) && x >= -(1<<63) && x < 1<<63 {
				return int64(x), nil
			}
		}
	case TypeReal:
		switch x := v.(type) {
		case json.Number:
			if i, f, isInt, ok := parseNumber(string(x)); ok {
				if isInt {
					return float64(i), nil
				}
				return f, nil
			}
		case float64:
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				return x, nil
			}
		case int64:
			return float64(x), nil
		case int:
			return float64(x), nil
		}
	case TypeBoolean:
		if x, ok := v.(bool); ok {
			return x, nil
		}
	case TypeString:
		if x, ok := v.(string); ok {
			return x, nil
		}
	case TypeUUID:
		return b.parseUUID(v, sym)
	}
	return nil, syntaxError(v, "expected %s", b.Type)
}

// unwrap returns the second element of a two-element JSON array [name, x]
// when x is a string (wantString) or an array (otherwise).
func unwrap(v any, name string, wantString bool) (any, bool) {
	arr, ok := v.([]any)
	if !ok || len(arr) != 2 {
		return nil, false
	}
	if s, isString := arr[0].(string); !isString || s != name {
		return nil, false
	}
	if wantString {
		_, ok = arr[1].(string)
	} else {
		_, ok = arr[1].([]any)
	}
	return arr[1], ok
}

// parseUUID is ovsdb_atom_parse_uuid.
func (b *BaseType) parseUUID(v any, sym Symbols) (Atom, error) {
	if s, ok := unwrap(v, "uuid", true); ok {
		u, err := ParseUUID(s.(string))
		if err != nil {
			return nil, syntaxError(v, "%q is not a valid UUID", s)
		}
		return u, nil
	}
	if sym != nil {
		if s, ok := unwrap(v, "named-uuid", true); ok {
			name := s.(string)
			if !IsID(name) {
				return nil, syntaxError(v, "named-uuid string is not a valid <id>")
			}
			if rs, ok := sym.(RefSymbols); ok {
				return rs.ResolveRef(name, b.RefType)
			}
			return sym.Resolve(name)
		}
	}
	return nil, syntaxError(v, `expected ["uuid", <string>]`)
}

// IsID reports whether s is an RFC 7047 <id>: a letter or '_' followed by
// letters, digits and '_'.
func IsID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// ParseDatum parses the JSON notation of a value of type t (atom shorthand,
// ["set",..], ["map",..], ["uuid",..], ["named-uuid",..]) and checks it
// against t, returning ovsdb-server's errors (ovsdb_datum_from_json): the
// set or map size is checked before the elements, each element's type and
// constraints in order, duplicates last.
func ParseDatum(t Type, v any, sym Symbols) (Datum, error) {
	isMap := t.IsMap()
	if !isMap {
		arr, ok := v.([]any)
		if !ok || len(arr) == 0 || arr[0] != any("set") {
			a, err := t.Key.ParseAtom(v, sym)
			if err != nil {
				return Datum{}, err
			}
			return Datum{Keys: []Atom{a}}, nil
		}
	}
	class := "set"
	if isMap {
		class = "map"
	}
	inner, ok := unwrap(v, class, false)
	if !ok {
		return Datum{}, syntaxError(v, `expected ["%s", <array>]`, class)
	}
	elems := inner.([]any)
	n := int64(len(elems))
	if n < t.Min || n > t.Max {
		if t.Min == 1 && t.Max == 1 {
			return Datum{}, syntaxError(v, "%s must have exactly one member but %d are present", class, n)
		}
		return Datum{}, syntaxError(v, "%s must have %d to %d members but %d are present", class, t.Min, t.Max, n)
	}
	d := Datum{Keys: make([]Atom, len(elems))}
	if isMap {
		d.Values = make([]Atom, len(elems))
	}
	for i, e := range elems {
		kj := e
		var vj any
		if isMap {
			pair, ok := e.([]any)
			if !ok || len(pair) != 2 {
				return Datum{}, syntaxError(e, "expected 2-element array")
			}
			kj, vj = pair[0], pair[1]
		}
		a, err := t.Key.ParseAtom(kj, sym)
		if err != nil {
			return Datum{}, err
		}
		d.Keys[i] = a
		if isMap {
			a, err := t.Value.ParseAtom(vj, sym)
			if err != nil {
				return Datum{}, err
			}
			d.Values[i] = a
		}
	}
	if err := d.sortCheck(); err != nil {
		return Datum{}, err
	}
	return d, nil
}

// sortCheck sorts d in place (ovsdb_datum_sort) and fails on a duplicate
// key with ovsdb-server's error, whose tag is the generic "ovsdb error".
func (d *Datum) sortCheck() error {
	if len(d.Keys) < 2 || sortedStrict(d.Keys) {
		return nil
	}
	if d.Values == nil {
		sortAtoms(d.Keys)
	} else {
		sortPairs(d.Keys, d.Values)
	}
	for i := 1; i < len(d.Keys); i++ {
		if CompareAtoms(d.Keys[i-1], d.Keys[i]) == 0 {
			if d.Values != nil {
				return NewError(TagOVSDBError, "map contains duplicate key")
			}
			return NewError(TagOVSDBError, "set contains duplicate")
		}
	}
	return nil
}

// DatumJSON renders d in ovsdb-server's notation for type t (a lone atom for
// a one-element set, ["set",[...]] otherwise, ["map",[...]] for maps).
func DatumJSON(t Type, d Datum) any {
	if t.IsMap() {
		pairs := make([]any, len(d.Keys))
		for i := range d.Keys {
			var val any
			if i < len(d.Values) {
				val = AtomJSON(d.Values[i])
			}
			pairs[i] = []any{AtomJSON(d.Keys[i]), val}
		}
		return []any{"map", pairs}
	}
	if len(d.Keys) == 1 {
		return AtomJSON(d.Keys[0])
	}
	elems := make([]any, len(d.Keys))
	for i, a := range d.Keys {
		elems[i] = AtomJSON(a)
	}
	return []any{"set", elems}
}

// AtomJSON renders one atom (["uuid","..."] for a UUID). Integers stay
// int64 and reals float64; write reals with AppendReal to match
// ovsdb-server's text.
func AtomJSON(a Atom) any {
	if u, ok := a.(UUID); ok {
		return []any{"uuid", u.String()}
	}
	return a
}

// DefaultDatum is the default value of type t (empty, or min=1 default atoms:
// 0, 0.0, false, "", all-zero UUID). A map type's default has non-nil
// Values.
func DefaultDatum(t Type) Datum {
	var d Datum
	if t.IsMap() {
		d.Values = []Atom{}
	}
	if t.Min == 0 {
		d.Keys = []Atom{}
		return d
	}
	d.Keys = []Atom{defaultAtom(t.Key.Type)}
	if t.IsMap() {
		d.Values = []Atom{defaultAtom(t.Value.Type)}
	}
	return d
}

// defaultAtoms are shared: atoms are immutable.
var defaultAtoms = [...]Atom{
	TypeVoid:    nil,
	TypeInteger: int64(0),
	TypeReal:    float64(0),
	TypeBoolean: false,
	TypeString:  "",
	TypeUUID:    UUID{},
}

func defaultAtom(at AtomicType) Atom {
	if at < 0 || int(at) >= len(defaultAtoms) {
		return nil
	}
	return defaultAtoms[at]
}

// CheckAtom checks a's Go type against b and b's constraints (enum, range,
// length) with ovsdb-server's errors (ovsdb_atom_check_constraints).
func (b *BaseType) CheckAtom(a Atom) error {
	if AtomType(a) != b.Type {
		return NewError(TagSyntaxError, "expected %s", b.Type)
	}
	if b.Enum != nil {
		if !b.Enum.Contains(a) {
			return NewError(TagConstraintViolation, "%s is not one of the allowed values (%s)",
				AtomString(a), enumString(b.Enum))
		}
		return nil
	}
	switch x := a.(type) {
	case int64:
		if x >= b.MinInteger && x <= b.MaxInteger {
			return nil
		}
		if b.MinInteger != math.MinInt64 {
			if b.MaxInteger != math.MaxInt64 {
				return NewError(TagConstraintViolation, "%d is not in the valid range %d to %d (inclusive)",
					x, b.MinInteger, b.MaxInteger)
			}
			return NewError(TagConstraintViolation, "%d is less than minimum allowed value %d", x, b.MinInteger)
		}
		return NewError(TagConstraintViolation, "%d is greater than maximum allowed value %d", x, b.MaxInteger)
	case float64:
		if x >= b.MinReal && x <= b.MaxReal {
			return nil
		}
		if b.MinReal != -math.MaxFloat64 {
			if b.MaxReal != math.MaxFloat64 {
				return NewError(TagConstraintViolation, "%s is not in the valid range %s to %s (inclusive)",
					FormatReal(x), FormatReal(b.MinReal), FormatReal(b.MaxReal))
			}
			return NewError(TagConstraintViolation, "%s is less than minimum allowed value %s",
				FormatReal(x), FormatReal(b.MinReal))
		}
		return NewError(TagConstraintViolation, "%s is greater than maximum allowed value %s",
			FormatReal(x), FormatReal(b.MaxReal))
	case string:
		n, ok := utf8Len(x)
		if !ok {
			return NewError(TagConstraintViolation, "not a valid UTF-8 string: invalid UTF-8 sequence")
		}
		if int64(n) < b.MinLength {
			return NewError(TagConstraintViolation, "%q length %d is less than minimum allowed length %d",
				x, n, b.MinLength)
		}
		if int64(n) > b.MaxLength {
			return NewError(TagConstraintViolation, "%q length %d is greater than maximum allowed length %d",
				x, n, b.MaxLength)
		}
	}
	return nil
}

// CheckDatum checks d against t's size and atom constraints, as
// ovsdb-server does after a mutation (ovsdb_datum_check_constraints plus
// the size check of ovsdb_mutation_set_execute), returning its error.
func (t Type) CheckDatum(d Datum) error {
	n := int64(len(d.Keys))
	if n < t.Min || n > t.Max {
		return NewError(TagConstraintViolation,
			"Attempted to store %d elements in %s.", n, TypeEnglish(t))
	}
	switch {
	case t.IsMap() && len(d.Values) != len(d.Keys):
		return NewError(TagSyntaxError, "datum is not a map")
	case !t.IsMap() && len(d.Values) != 0:
		return NewError(TagSyntaxError, "datum is not a set")
	}
	for i, a := range d.Keys {
		if err := t.Key.CheckAtom(a); err != nil {
			return err
		}
		if t.IsMap() {
			if err := t.Value.CheckAtom(d.Values[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// AtomString renders a as ovsdb_atom_to_string does (the text used in
// error details): strings unquoted when they look like identifiers.
func AtomString(a Atom) string {
	switch x := a.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return FormatReal(x)
	case bool:
		return strconv.FormatBool(x)
	case string:
		if stringNeedsQuotes(x) {
			return string(appendJSONString(nil, x))
		}
		return x
	case UUID:
		return x.String()
	}
	return ""
}

// stringNeedsQuotes mirrors ovsdb-data.c string_needs_quotes: a string
// is written bare when it starts with a letter or '_', continues with
// letters, digits, '_', '-' or '.', and is neither a boolean nor a UUID
// (ovsdb-server reports an index violation on "ls1" as "(ls1)" and one on
// "1a" as "(\"1a\")").
func stringNeedsQuotes(s string) bool {
	if s == "" {
		return true
	}
	isAlpha := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	if c := s[0]; !isAlpha(c) && c != '_' {
		return true
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && (c < '0' || c > '9') && c != '_' && c != '-' && c != '.' {
			return true
		}
	}
	if s == "true" || s == "false" {
		return true
	}
	if _, err := ParseUUID(s); err == nil {
		return true
	}
	return false
}

// enumString renders an enum as ovsdb_datum_to_string does for a set type
// with max > 1: "[a, b, c]".
func enumString(d *Datum) string {
	b := []byte{'['}
	for i, a := range d.Keys {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, AtomString(a)...)
	}
	return string(append(b, ']'))
}

// TypeEnglish renders t as ovsdb_type_to_english does, the words
// ovsdb-server's error messages use ("set of up to 3 integers", "map of 1
// or more (string, integer) pairs", ...).
func TypeEnglish(t Type) string {
	key := t.Key.Type.String()
	if t.IsScalar() {
		return key
	}
	b := make([]byte, 0, 48)
	if t.IsMap() {
		b = append(b, "map"...)
	} else {
		b = append(b, "set"...)
	}
	switch {
	case t.Max == Unlimited && t.Min != 0:
		b = append(b, " of "...)
		b = strconv.AppendInt(b, t.Min, 10)
		b = append(b, " or more"...)
	case t.Max == Unlimited:
		b = append(b, " of"...)
	case t.Min != 0:
		b = append(b, " of "...)
		b = strconv.AppendInt(b, t.Min, 10)
		b = append(b, " to "...)
		b = strconv.AppendInt(b, t.Max, 10)
	default:
		b = append(b, " of up to "...)
		b = strconv.AppendInt(b, t.Max, 10)
	}
	if t.IsMap() {
		b = append(b, " ("+key+", "+t.Value.Type.String()+") pairs"...)
	} else {
		b = append(b, " "+key+"s"...)
	}
	return string(b)
}
