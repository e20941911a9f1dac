package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// The etcd value of a row (DESIGN.md) is a JSON object holding every user
// column of its table in OVSDB notation, in byte order of the column
// names, then "_version". It is written and read by hand, without
// reflection, because every commit and every watch event goes through it.
// Reals are written in Go's shortest round-trip form, so stored values do
// not lose precision (the wire's "%.15g" is the frontend's business).

// codecColumn is one column's precomputed encoding.
type codecColumn struct {
	name string
	key  string // `"name":`
	typ  ovsdb.Type
	def  []byte // the default value's text, for a column missing from a row
}

func (t *Table) buildCodec() {
	names := t.ColumnNames
	if len(names) == 0 { // a Table built by hand
		for name := range t.Columns {
			if name != ColumnUUID && name != ColumnVersion {
				names = append(names, name)
			}
		}
		slices.Sort(names)
	}
	t.codec = make([]codecColumn, 0, len(names)+1)
	for _, name := range names {
		typ := t.Columns[name].Type
		def, err := appendDatum(nil, &typ, ovsdb.DefaultDatum(typ))
		if err != nil {
			panic(fmt.Sprintf("schema: default of %s.%s: %v", t.Name, name, err)) // impossible: defaults are well typed
		}
		t.codec = append(t.codec, codecColumn{name: name, key: string(ovsdb.AppendJSON(nil, name)) + ":", typ: typ, def: def})
	}
	t.codec = append(t.codec, codecColumn{name: ColumnVersion, key: `"_version":`, typ: ovsdb.ScalarType(ovsdb.TypeUUID)})
}

// EncodeRow renders a stored row as the etcd value of DESIGN.md: a JSON
// object with every column of t in OVSDB notation plus "_version". A
// column missing from row is written with its default value; "_version"
// must be present.
func (t *Table) EncodeRow(row ovsdb.Row) ([]byte, error) {
	t.codecOnce.Do(t.buildCodec)
	return t.AppendRow(make([]byte, 0, 64+32*len(t.codec)), row)
}

// AppendRow appends EncodeRow's text to dst.
func (t *Table) AppendRow(dst []byte, row ovsdb.Row) ([]byte, error) {
	t.codecOnce.Do(t.buildCodec)
	if _, ok := row[ColumnVersion]; !ok {
		return nil, fmt.Errorf("encode %s row: no %s", t.Name, ColumnVersion)
	}
	dst = append(dst, '{')
	for i := range t.codec {
		c := &t.codec[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, c.key...)
		d, ok := row[c.name]
		if !ok {
			dst = append(dst, c.def...)
			continue
		}
		var err error
		if dst, err = appendDatum(dst, &c.typ, d); err != nil {
			return nil, fmt.Errorf("encode %s row column %s: %w", t.Name, c.name, err)
		}
	}
	return append(dst, '}'), nil
}

func appendDatum(dst []byte, t *ovsdb.Type, d ovsdb.Datum) ([]byte, error) {
	var err error
	if t.IsMap() {
		if len(d.Values) != len(d.Keys) {
			return nil, errors.New("map datum with unequal keys and values")
		}
		dst = append(dst, `["map",[`...)
		for i := range d.Keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '[')
			if dst, err = appendAtom(dst, t.Key.Type, d.Keys[i]); err != nil {
				return nil, err
			}
			dst = append(dst, ',')
			if dst, err = appendAtom(dst, t.Value.Type, d.Values[i]); err != nil {
				return nil, err
			}
			dst = append(dst, ']')
		}
		return append(dst, "]]"...), nil
	}
	if len(d.Keys) == 1 {
		return appendAtom(dst, t.Key.Type, d.Keys[0])
	}
	dst = append(dst, `["set",[`...)
	for i, a := range d.Keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = appendAtom(dst, t.Key.Type, a); err != nil {
			return nil, err
		}
	}
	return append(dst, "]]"...), nil
}

func appendAtom(dst []byte, at ovsdb.AtomicType, a ovsdb.Atom) ([]byte, error) {
	switch x := a.(type) {
	case int64:
		if at == ovsdb.TypeInteger {
			return strconv.AppendInt(dst, x, 10), nil
		}
	case float64:
		if at == ovsdb.TypeReal {
			return strconv.AppendFloat(dst, x, 'g', -1, 64), nil
		}
	case bool:
		if at == ovsdb.TypeBoolean {
			return strconv.AppendBool(dst, x), nil
		}
	case string:
		if at == ovsdb.TypeString {
			return ovsdb.AppendJSONString(dst, x), nil
		}
	case ovsdb.UUID:
		if at == ovsdb.TypeUUID {
			dst = append(dst, `["uuid","`...)
			dst = x.AppendText(dst)
			return append(dst, `"]`...), nil
		}
	}
	return nil, fmt.Errorf("atom %v (%T) is not of type %s", a, a, at)
}

// DecodeRow parses an etcd value written by EncodeRow. Columns missing
// from data get their default values and unknown members are ignored, so
// that rows written under an older schema still load.
func (t *Table) DecodeRow(data []byte) (ovsdb.Row, error) {
	t.codecOnce.Do(t.buildCodec)
	row := make(ovsdb.Row, len(t.codec))
	d := decoder{data: data}
	next := 0 // EncodeRow writes columns in codec order
	d.skipSpace()
	if !d.consume('{') {
		return nil, d.errorf("expected '{'")
	}
	d.skipSpace()
	if !d.consume('}') {
		for {
			d.skipSpace()
			c, err := t.readColumnName(&d, &next)
			if err != nil {
				return nil, err
			}
			d.skipSpace()
			if !d.consume(':') {
				return nil, d.errorf("expected ':'")
			}
			if c != nil {
				datum, err := d.datum(&c.typ)
				if err != nil {
					return nil, fmt.Errorf("decode %s row column %s: %w", t.Name, c.name, err)
				}
				row[c.name] = datum
			} else if _, err := d.value(0); err != nil {
				return nil, err
			}
			d.skipSpace()
			if d.consume(',') {
				continue
			}
			if d.consume('}') {
				break
			}
			return nil, d.errorf("expected ',' or '}'")
		}
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, d.errorf("trailing data")
	}
	for i := range t.codec {
		c := &t.codec[i]
		if _, ok := row[c.name]; !ok {
			if c.name == ColumnVersion {
				return nil, fmt.Errorf("decode %s row: no %s", t.Name, ColumnVersion)
			}
			row[c.name] = ovsdb.DefaultDatum(c.typ)
		}
	}
	return row, nil
}

// readColumnName reads a member name and returns its column, or nil for
// an unknown member. Names are matched in place without allocating;
// *next is the column expected next, since EncodeRow writes them in codec
// order.
func (t *Table) readColumnName(d *decoder, next *int) (*codecColumn, error) {
	save := d.pos
	name, ok := d.rawStr()
	if !ok { // escapes: not one of our names, but read it properly
		d.pos = save
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		name = []byte(s)
	}
	if i := *next; i < len(t.codec) && string(name) == t.codec[i].name {
		*next = i + 1
		return &t.codec[i], nil
	}
	for i := range t.codec {
		if string(name) == t.codec[i].name {
			*next = i + 1
			return &t.codec[i], nil
		}
	}
	return nil, nil
}

// decoder is a minimal JSON reader producing the values ParseDatum takes
// (json.Number for numbers).
type decoder struct {
	data []byte
	pos  int
	// slab backs the Keys of single-atom datums, one allocation per row.
	slab []ovsdb.Atom
}

// slabChunk is the number of atoms of one slab allocation. A stored row
// keeps each slab its datums point into alive, so slabs are small: one
// sized for every column (about 20 for a Logical_Switch_Port) kept about
// 250 unused bytes per row of a 100,000-row database alive.
const slabChunk = 4

// one returns a one-element slice holding a, carved from the slab.
func (d *decoder) one(a ovsdb.Atom) []ovsdb.Atom {
	if len(d.slab) == cap(d.slab) {
		d.slab = make([]ovsdb.Atom, 0, slabChunk)
	}
	d.slab = append(d.slab, a)
	n := len(d.slab)
	return d.slab[n-1 : n : n]
}

const maxDepth = 16

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("decode row at byte %d: %s", d.pos, fmt.Sprintf(format, args...))
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) consume(c byte) bool {
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

func (d *decoder) consumeWord(w string) bool {
	if len(d.data)-d.pos >= len(w) && string(d.data[d.pos:d.pos+len(w)]) == w {
		d.pos += len(w)
		return true
	}
	return false
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errorf("nested too deeply")
	}
	d.skipSpace()
	if d.pos >= len(d.data) {
		return nil, d.errorf("unexpected end")
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		return d.str()
	case c == '[':
		d.pos++
		arr := make([]any, 0, 2)
		d.skipSpace()
		if d.consume(']') {
			return arr, nil
		}
		for {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
			d.skipSpace()
			if d.consume(',') {
				continue
			}
			if d.consume(']') {
				return arr, nil
			}
			return nil, d.errorf("expected ',' or ']'")
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return json.Number(d.number()), nil
	case c == '{':
		d.pos++
		obj := map[string]any{}
		d.skipSpace()
		if d.consume('}') {
			return obj, nil
		}
		for {
			d.skipSpace()
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			if !d.tok(':') {
				return nil, d.errorf("expected ':'")
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			obj[k] = v
			if d.tok(',') {
				continue
			}
			if d.tok('}') {
				return obj, nil
			}
			return nil, d.errorf("expected ',' or '}'")
		}
	case d.consumeWord("true"):
		return true, nil
	case d.consumeWord("false"):
		return false, nil
	case d.consumeWord("null"):
		return nil, nil
	}
	return nil, d.errorf("unexpected character %q", d.data[d.pos])
}

// str reads a JSON string; the common case without escapes costs one
// allocation.
func (d *decoder) str() (string, error) {
	if !d.consume('"') {
		return "", d.errorf("expected string")
	}
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := string(d.data[start:d.pos])
			d.pos++
			return s, nil
		}
		if c == '\\' || c < ' ' {
			break
		}
		d.pos++
	}
	// Slow path: find the end, then let encoding/json unescape.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '\\' {
			d.pos += 2
			continue
		}
		d.pos++
		if c == '"' {
			var s string
			if err := json.Unmarshal(d.data[start-1:d.pos], &s); err != nil {
				return "", d.errorf("bad string: %v", err)
			}
			return s, nil
		}
	}
	return "", d.errorf("unterminated string")
}

// tok skips white space and consumes c if it is next.
func (d *decoder) tok(c byte) bool {
	d.skipSpace()
	return d.consume(c)
}

// rawStr reads a string without escapes and returns its bytes, aliasing
// the input.
func (d *decoder) rawStr() ([]byte, bool) {
	d.skipSpace()
	if !d.consume('"') {
		return nil, false
	}
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			d.pos++
			return d.data[start : d.pos-1], true
		}
		if c == '\\' || c < ' ' {
			return nil, false
		}
		d.pos++
	}
	return nil, false
}

// datum reads one column value of type t in the notation EncodeRow
// writes, straight into atoms: this is the hot path of loading and
// watching, so it builds no intermediate JSON values. Values are trusted
// to satisfy t's constraints (the leader checked them before writing);
// atom types, sizes and order are still checked.
func (d *decoder) datum(t *ovsdb.Type) (ovsdb.Datum, error) {
	var out ovsdb.Datum
	d.skipSpace()
	switch {
	case t.IsMap():
		if !d.tok('[') || !d.word("map") || !d.tok(',') || !d.tok('[') {
			return out, d.errorf(`expected ["map", [...]]`)
		}
		out.Keys, out.Values = []ovsdb.Atom{}, []ovsdb.Atom{}
		if !d.tok(']') {
			for {
				if !d.tok('[') {
					return out, d.errorf("expected a map pair")
				}
				k, err := d.atom(t.Key.Type)
				if err != nil {
					return out, err
				}
				if !d.tok(',') {
					return out, d.errorf("expected ','")
				}
				v, err := d.atom(t.Value.Type)
				if err != nil {
					return out, err
				}
				if !d.tok(']') {
					return out, d.errorf("expected ']'")
				}
				out.Keys, out.Values = append(out.Keys, k), append(out.Values, v)
				if d.tok(',') {
					continue
				}
				if d.tok(']') {
					break
				}
				return out, d.errorf("expected ',' or ']'")
			}
		}
		if !d.tok(']') {
			return out, d.errorf("expected ']'")
		}
	case d.pos < len(d.data) && d.data[d.pos] == '[' && d.isSet():
		if !d.tok('[') || !d.word("set") || !d.tok(',') || !d.tok('[') {
			return out, d.errorf(`expected ["set", [...]]`)
		}
		out.Keys = []ovsdb.Atom{}
		if !d.tok(']') {
			for {
				k, err := d.atom(t.Key.Type)
				if err != nil {
					return out, err
				}
				out.Keys = append(out.Keys, k)
				if d.tok(',') {
					continue
				}
				if d.tok(']') {
					break
				}
				return out, d.errorf("expected ',' or ']'")
			}
		}
		if !d.tok(']') {
			return out, d.errorf("expected ']'")
		}
	default:
		a, err := d.atom(t.Key.Type)
		if err != nil {
			return out, err
		}
		out.Keys = d.one(a)
	}
	if n := int64(len(out.Keys)); n < t.Min || n > t.Max {
		return out, fmt.Errorf("%d elements in a %s", n, ovsdb.TypeEnglish(*t))
	}
	for i := 1; i < len(out.Keys); i++ {
		if ovsdb.CompareAtoms(out.Keys[i-1], out.Keys[i]) >= 0 {
			// Not canonical: written by something else. Sort it, and
			// refuse duplicates.
			n := len(out.Keys)
			if t.IsMap() {
				out = ovsdb.NewMap(out.Keys, out.Values)
			} else {
				out = ovsdb.NewSet(out.Keys...)
			}
			if len(out.Keys) != n {
				return out, errors.New("duplicate elements")
			}
			break
		}
	}
	return out, nil
}

// isSet reports whether the array at d.pos starts with "set".
func (d *decoder) isSet() bool {
	save := d.pos
	defer func() { d.pos = save }()
	return d.tok('[') && d.word("set")
}

// word reads a string that must equal w.
func (d *decoder) word(w string) bool {
	s, ok := d.rawStr()
	return ok && string(s) == w
}

// number returns the bytes of a number token.
func (d *decoder) number() []byte {
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			d.pos++
			continue
		}
		break
	}
	return d.data[start:d.pos]
}

// atom reads one atom of type at.
func (d *decoder) atom(at ovsdb.AtomicType) (ovsdb.Atom, error) {
	d.skipSpace()
	switch at {
	case ovsdb.TypeInteger:
		if i, _, isInt, ok := ovsdb.ParseNumber(d.number()); ok && isInt {
			return i, nil
		}
	case ovsdb.TypeReal:
		if i, f, isInt, ok := ovsdb.ParseNumber(d.number()); ok {
			if isInt {
				return float64(i), nil
			}
			return f, nil
		}
	case ovsdb.TypeBoolean:
		switch {
		case d.consumeWord("true"):
			return true, nil
		case d.consumeWord("false"):
			return false, nil
		}
	case ovsdb.TypeString:
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return s, nil
	case ovsdb.TypeUUID:
		if d.tok('[') && d.word("uuid") && d.tok(',') {
			if s, ok := d.rawStr(); ok {
				if u, ok := ovsdb.ParseUUIDBytes(s); ok && d.tok(']') {
					return u, nil
				}
			}
		}
	}
	return nil, d.errorf("expected %s", at)
}
