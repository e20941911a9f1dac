package ovsdb

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Number classification and JSON text as ovsdb-server's lib/json.c does
// it. ovsdb-server turns every number whose value is an exact integer in
// the int64 range into an integer, whatever its spelling ("1.0", "1e3"),
// and every other number into a double; it prints doubles with "%.15g".
// Matching this matters twice: for which values a column accepts, and for
// the "syntax" member of error objects and the wire text of reals.

// parseNumber classifies the JSON number text s as ovsdb-server's
// json_lex_number does. isInt reports an integer (in i), otherwise the
// value is the double f. ok is false for text that is not a JSON number
// or a double out of range.
func parseNumber[T string | []byte](s T) (i int64, f float64, isInt, ok bool) {
	p := 0
	negative := false
	if p < len(s) && s[p] == '-' {
		negative = true
		p++
	}
	var sig uint64
	pow10 := 0
	imprecise := false
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	switch {
	case p < len(s) && s[p] == '0':
		p++
		if p < len(s) && isDigit(s[p]) {
			return 0, 0, false, false
		}
	case p < len(s) && isDigit(s[p]):
		for ; p < len(s) && isDigit(s[p]); p++ {
			if sig <= math.MaxUint64/10 {
				sig = sig*10 + uint64(s[p]-'0') // wraps exactly as in C
			} else {
				pow10++
				if s[p] != '0' {
					imprecise = true
				}
			}
		}
	default:
		return 0, 0, false, false
	}
	if p < len(s) && s[p] == '.' {
		p++
		if p >= len(s) || !isDigit(s[p]) {
			return 0, 0, false, false
		}
		for ; p < len(s) && isDigit(s[p]); p++ {
			if sig <= math.MaxUint64/10 {
				sig = sig*10 + uint64(s[p]-'0')
				pow10--
			} else if s[p] != '0' {
				imprecise = true
			}
		}
	}
	if p < len(s) && (s[p] == 'e' || s[p] == 'E') {
		p++
		negExp := false
		if p < len(s) && (s[p] == '+' || s[p] == '-') {
			negExp = s[p] == '-'
			p++
		}
		if p >= len(s) || !isDigit(s[p]) {
			return 0, 0, false, false
		}
		exp := 0
		for ; p < len(s) && isDigit(s[p]); p++ {
			if exp >= math.MaxInt32/10 {
				return 0, 0, false, false
			}
			exp = exp*10 + int(s[p]-'0')
		}
		if negExp {
			pow10 -= exp
		} else {
			pow10 += exp
		}
		if pow10 > math.MaxInt32 || pow10 < math.MinInt32 {
			return 0, 0, false, false
		}
	}
	if p != len(s) {
		return 0, 0, false, false
	}
	if sig == 0 {
		return 0, 0, true, true
	}
	if !imprecise {
		for pow10 > 0 && sig < math.MaxUint64/10 {
			sig *= 10
			pow10--
		}
		for pow10 < 0 && sig%10 == 0 {
			sig /= 10
			pow10++
		}
		limit := uint64(math.MaxInt64)
		if negative {
			limit++
		}
		if pow10 == 0 && sig <= limit {
			if negative {
				return int64(-sig), 0, true, true //nolint:gosec // two's complement, as in C
			}
			return int64(sig), 0, true, true
		}
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil && (f != 0 || math.IsInf(f, 0)) {
		// Overflow: ovsdb-server's parser rejects the whole message with
		// "number outside valid range".
		return 0, 0, false, false
	}
	if f == 0 {
		f = 0 // no negative zero
	}
	return 0, f, false, true
}

// FormatReal formats f as ovsdb-server prints a JSON real ("%.15g").
func FormatReal(f float64) string {
	return string(AppendReal(nil, f))
}

// AppendReal appends f formatted as ovsdb-server prints a JSON real.
func AppendReal(dst []byte, f float64) []byte {
	return strconv.AppendFloat(dst, f, 'g', 15, 64)
}

// AppendJSON appends the JSON text of v (a value as decoded with UseNumber,
// or one built by this package: int, int64, float64, UUID-free atoms,
// []any, map[string]any, ...) exactly as ovsdb-server's json_to_string
// writes it with sorted object members: no spaces, numbers normalized as
// its parser does, reals with "%.15g", only '"', '\\' and control
// characters escaped. Values it does not know are written through
// encoding/json.
func AppendJSON(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		if x {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case json.Number:
		i, f, isInt, ok := parseNumber(string(x))
		switch {
		case !ok:
			return append(dst, x...)
		case isInt:
			return strconv.AppendInt(dst, i, 10)
		default:
			return AppendReal(dst, f)
		}
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case float64:
		return AppendReal(dst, x)
	case string:
		return appendJSONString(dst, x)
	case UUID:
		dst = append(dst, `["uuid",`...)
		dst = appendJSONString(dst, x.String())
		return append(dst, ']')
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSON(dst, e)
		}
		return append(dst, ']')
	case map[string]any:
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		slices.Sort(names)
		dst = append(dst, '{')
		for i, k := range names {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = AppendJSON(dst, x[k])
		}
		return append(dst, '}')
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return append(dst, "null"...)
		}
		return append(dst, b...)
	}
}

// JSONString returns AppendJSON's text of v.
func JSONString(v any) string { return string(AppendJSON(nil, v)) }

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as ovsdb-server's json_serialize_string does.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= ' ' && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		start = i + 1
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	return append(append(dst, s[start:]...), '"')
}

// utf8Len returns the number of characters in s, and false when s is not
// valid UTF-8.
func utf8Len(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			n++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return n, false
		}
		i += size
		n++
	}
	return n, true
}

// AppendJSONString appends s quoted as ovsdb-server writes JSON strings.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

// AppendDatum appends the JSON text of d in the notation of type t exactly
// as ovsdb-server writes it on the wire (DatumJSON's shape, reals with
// "%.15g"), without building intermediate values: for replies and
// updates, use it with json.RawMessage.
func AppendDatum(dst []byte, t Type, d Datum) []byte {
	if t.IsMap() {
		dst = append(dst, `["map",[`...)
		for i := range d.Keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '[')
			dst = AppendAtom(dst, d.Keys[i])
			dst = append(dst, ',')
			if i < len(d.Values) {
				dst = AppendAtom(dst, d.Values[i])
			} else {
				dst = append(dst, "null"...)
			}
			dst = append(dst, ']')
		}
		return append(dst, "]]"...)
	}
	if len(d.Keys) == 1 {
		return AppendAtom(dst, d.Keys[0])
	}
	dst = append(dst, `["set",[`...)
	for i, a := range d.Keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendAtom(dst, a)
	}
	return append(dst, "]]"...)
}

// AppendAtom appends the JSON text of one atom as ovsdb-server writes it.
func AppendAtom(dst []byte, a Atom) []byte {
	switch x := a.(type) {
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case float64:
		return AppendReal(dst, x)
	case bool:
		return strconv.AppendBool(dst, x)
	case string:
		return appendJSONString(dst, x)
	case UUID:
		dst = append(dst, `["uuid","`...)
		dst = x.AppendText(dst)
		return append(dst, `"]`...)
	}
	return append(dst, "null"...)
}
