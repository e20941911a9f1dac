package txn

import (
	"encoding/json"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// This file renders values as ovsdb-server renders them inside error
// objects: json_to_string(JSON_SORT_KEYS) for the "syntax" member, and
// ovsdb_atom_to_string / ovsdb_datum_to_string / ovsdb_type_to_english for
// "details" texts.

// jsonText renders a decoded JSON value compactly with sorted object keys,
// numbers as ovsdb-server's parser would have read and printed them.
func jsonText(v any) string {
	var b strings.Builder
	writeJSON(&b, v)
	return b.String()
}

func writeJSON(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case json.Number:
		b.WriteString(numberText(string(x)))
	case string:
		writeJSONString(b, x)
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(realText(x))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			writeJSON(b, x[k])
		}
		b.WriteByte('}')
	default:
		data, err := json.Marshal(x)
		if err != nil {
			b.WriteString("null")
			return
		}
		var back any
		d := json.NewDecoder(strings.NewReader(string(data)))
		d.UseNumber()
		if d.Decode(&back) != nil {
			b.Write(data)
			return
		}
		writeJSON(b, back)
	}
}

// numberText prints a JSON number the way ovsdb-server's JSON library
// does: integral values that fit in 64 bits as integers, others as reals.
func numberText(s string) string {
	if !strings.ContainsAny(s, ".eE") {
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return s
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if ok && r.IsInt() {
		n := r.Num()
		if n.IsInt64() {
			return strconv.FormatInt(n.Int64(), 10)
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return realText(f)
}

// realText is C's "%.15g" (DBL_DIG).
func realText(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', 15, 64)
}

func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte("0123456789abcdef"[c>>4])
				b.WriteByte("0123456789abcdef"[c&15])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

// datumText is ovsdb_datum_to_string.
func datumText(t ovsdb.Type, d ovsdb.Datum) string {
	var b strings.Builder
	isMap := t.IsMap()
	brackets := t.Max > 1 || len(d.Keys) == 0
	if brackets {
		if isMap {
			b.WriteByte('{')
		} else {
			b.WriteByte('[')
		}
	}
	for i, k := range d.Keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ovsdb.AtomString(k))
		if isMap {
			b.WriteByte('=')
			b.WriteString(ovsdb.AtomString(d.Values[i]))
		}
	}
	if brackets {
		if isMap {
			b.WriteByte('}')
		} else {
			b.WriteByte(']')
		}
	}
	return b.String()
}

// typeEnglish is ovsdb_type_to_english.
func typeEnglish(t ovsdb.Type) string {
	key := t.Key.Type.String()
	if t.IsScalar() {
		return key
	}
	var b strings.Builder
	if t.IsMap() {
		b.WriteString("map of ")
	} else {
		b.WriteString("set of ")
	}
	switch {
	case t.Max == ovsdb.Unlimited:
		if t.Min > 0 {
			b.WriteString(strconv.FormatInt(t.Min, 10) + " or more ")
		}
	case t.Min > 0:
		b.WriteString(strconv.FormatInt(t.Min, 10) + " to " + strconv.FormatInt(t.Max, 10) + " ")
	default:
		b.WriteString("up to " + strconv.FormatInt(t.Max, 10) + " ")
	}
	if t.IsMap() {
		b.WriteString("(" + key + ", " + t.Value.Type.String() + ") pairs")
	} else {
		b.WriteString(key + "s")
	}
	return b.String()
}

// englishList joins items as "a", "a and b", "a, b, and c".
func englishList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	case 2:
		return items[0] + " and " + items[1]
	}
	return strings.Join(items[:len(items)-1], ", ") + ", and " + items[len(items)-1]
}

// syntaxError is ovsdb_syntax_error: tag defaults to "syntax error"; the
// offending JSON, when given, goes into "syntax".
func syntaxError(v any, hasJSON bool, tag, format string, args ...any) *ovsdb.Error {
	if tag == "" {
		tag = ovsdb.TagSyntaxError
	}
	e := ovsdb.NewError(tag, format, args...)
	if hasJSON {
		e.Syntax = jsonText(v)
	}
	return e
}
