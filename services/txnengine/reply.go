package txnengine

import (
	"encoding/json"
	"slices"
	"strconv"
)

// appendJSON appends exactly json.Marshal's text of v, for the values a
// transaction's result holds (nil, bool, string, int64, int, json.Number,
// []any, map[string]any), without reflection: json.Marshal of the
// results was a twentieth of the leader's CPU. Strings with characters
// json.Marshal escapes (HTML ones included), and any other type, are
// written by json.Marshal itself, so the bytes never differ.
func appendJSON(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case string:
		return appendJSONString(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case json.Number:
		if isJSONNumber(string(x)) {
			return append(dst, x...), nil
		}
	case []any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		if len(x) == 1 { // most result objects: no key slice, no sort
			for k, e := range x {
				return appendMember(append(dst, '{'), k, e, '}')
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys) // json.Marshal's order: bytes
		if len(keys) == 0 {
			return append(dst, "{}"...), nil
		}
		dst = append(dst, '{')
		for i, k := range keys {
			end := byte(',')
			if i == len(keys)-1 {
				end = '}'
			}
			var err error
			if dst, err = appendMember(dst, k, x[k], end); err != nil {
				return nil, err
			}
		}
		return dst, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// appendMember appends an object member and the byte after it.
func appendMember(dst []byte, k string, v any, end byte) ([]byte, error) {
	dst, err := appendJSONString(dst, k)
	if err != nil {
		return nil, err
	}
	if dst, err = appendJSON(append(dst, ':'), v); err != nil {
		return nil, err
	}
	return append(dst, end), nil
}

// appendJSONString writes s quoted when json.Marshal would write it
// unchanged (printable ASCII without '"', '\\', '<', '>' and '&'), and
// leaves any other string to json.Marshal.
func appendJSONString(dst []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, err := json.Marshal(s)
			if err != nil {
				return nil, err
			}
			return append(dst, b...), nil
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"'), nil
}

// isJSONNumber reports whether s is a number of JSON's grammar, which
// json.Marshal writes as is.
func isJSONNumber(s string) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
