package txnengine

import (
	"encoding/json"
	"unicode/utf8"
)

// decodeFast parses a JSON array into exactly the values encoding/json's
// Decoder with UseNumber gives ([]any, map[string]any with the last of
// duplicate keys, string, json.Number, bool, nil), about four times faster
// and with fewer allocations: decoding the operations was a tenth of the
// leader's CPU. It returns false for anything it does not take on:
// invalid JSON, trailing data, invalid UTF-8 and \u escapes of
// surrogates (which encoding/json replaces with U+FFFD), and nesting
// beyond encoding/json's limit; decodeOps then uses encoding/json, so
// errors and those corner cases keep its exact behaviour.
func decodeFast(data []byte) ([]any, bool) {
	r := jsonReader{data: data, stack: make([]any, 0, 64)}
	r.space()
	if r.pos >= len(data) || data[r.pos] != '[' {
		return nil, false
	}
	v, ok := r.value()
	if !ok {
		return nil, false
	}
	r.space()
	if r.pos != len(data) {
		return nil, false
	}
	return v.([]any), true
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

type jsonReader struct {
	data  []byte
	pos   int
	depth int
	// stack holds the elements of the arrays and objects being read
	// (an object's as key, value, ...), so that each gets one
	// allocation of its final size instead of growing.
	stack []any
}

// common are strings that recur in operations (members, operation and
// mutator names, notation tags): they are shared instead of allocated.
// Strings are immutable, so sharing them is invisible.
var common = func() map[string]any {
	m := map[string]any{}
	for _, s := range []string{
		"op", "table", "row", "rows", "where", "columns", "mutations", "uuid", "uuid-name", "until", "timeout",
		"sort", "durable", "comment", "lock",
		"insert", "select", "update", "mutate", "delete", "wait", "commit", "abort", "assert",
		"==", "!=", "<", "<=", ">", ">=", "includes", "excludes", "+=", "-=", "*=", "/=", "%=",
		"set", "map", "named-uuid", "_uuid", "_version", "name", "ports", "external_ids", "options", "addresses",
		"type", "up", "enabled", "true", "false", "",
	} {
		m[s] = s // boxed once: an any holding a string costs an allocation
	}
	return m
}()

// maxCommon is the length of the longest string in common.
const maxCommon = len("external_ids")

func (r *jsonReader) space() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

func (r *jsonReader) value() (any, bool) {
	if r.pos >= len(r.data) {
		return nil, false
	}
	switch c := r.data[r.pos]; {
	case c == '[':
		return r.array()
	case c == '{':
		return r.object()
	case c == '"':
		return r.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return r.number()
	case c == 't':
		return true, r.literal("true")
	case c == 'f':
		return false, r.literal("false")
	case c == 'n':
		return nil, r.literal("null")
	}
	return nil, false
}

func (r *jsonReader) literal(w string) bool {
	if len(r.data)-r.pos < len(w) || string(r.data[r.pos:r.pos+len(w)]) != w {
		return false
	}
	r.pos += len(w)
	return true
}

// open enters the array or object whose opening bracket is at pos;
// empty reports that its closing bracket, end, followed at once (and was
// consumed).
func (r *jsonReader) open(end byte) (empty, ok bool) {
	if r.depth++; r.depth > maxDepth {
		return false, false
	}
	r.pos++
	r.space()
	if r.pos < len(r.data) && r.data[r.pos] == end {
		r.pos++
		r.depth--
		return true, true
	}
	return false, true
}

func (r *jsonReader) array() (any, bool) {
	empty, ok := r.open(']')
	if !ok {
		return nil, false
	}
	if empty {
		return []any{}, true
	}
	base := len(r.stack)
	for {
		r.space()
		v, ok := r.value()
		if !ok {
			return nil, false
		}
		r.stack = append(r.stack, v)
		r.space()
		if r.pos >= len(r.data) {
			return nil, false
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
		case ']':
			r.pos++
			r.depth--
			a := make([]any, len(r.stack)-base)
			copy(a, r.stack[base:])
			r.pop(base)
			return a, true
		default:
			return nil, false
		}
	}
}

// pop drops the stack above base, clearing it for the collector.
func (r *jsonReader) pop(base int) {
	clear(r.stack[base:])
	r.stack = r.stack[:base]
}

func (r *jsonReader) object() (any, bool) {
	empty, ok := r.open('}')
	if !ok {
		return nil, false
	}
	if empty {
		return map[string]any{}, true
	}
	base := len(r.stack)
	for {
		r.space()
		if r.pos >= len(r.data) || r.data[r.pos] != '"' {
			return nil, false
		}
		k, ok := r.str()
		if !ok {
			return nil, false
		}
		r.space()
		if r.pos >= len(r.data) || r.data[r.pos] != ':' {
			return nil, false
		}
		r.pos++
		r.space()
		v, ok := r.value()
		if !ok {
			return nil, false
		}
		r.stack = append(r.stack, k, v)
		r.space()
		if r.pos >= len(r.data) {
			return nil, false
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
		case '}':
			r.pos++
			r.depth--
			kv := r.stack[base:]
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1] // the last of equal keys wins
			}
			r.pop(base)
			return m, true
		default:
			return nil, false
		}
	}
}

// str reads a string (as an any holding a string); one allocation when
// it has no escapes, none when it is a common one.
func (r *jsonReader) str() (any, bool) {
	r.pos++ // '"'
	start := r.pos
	for r.pos < len(r.data) {
		c := r.data[r.pos]
		switch {
		case c == '"':
			b := r.data[start:r.pos]
			r.pos++
			if len(b) <= maxCommon {
				if s, ok := common[string(b)]; ok {
					return s, true
				}
			}
			return any(string(b)), true
		case c == '\\':
			return r.escaped(start)
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			r.pos++
		default:
			ch, size := utf8.DecodeRune(r.data[r.pos:])
			if ch == utf8.RuneError && size == 1 {
				return "", false
			}
			r.pos += size
		}
	}
	return "", false
}

// escaped reads the rest of a string that has escapes from r.pos, the
// string's text starting at start.
func (r *jsonReader) escaped(start int) (any, bool) {
	buf := append([]byte(nil), r.data[start:r.pos]...)
	for r.pos < len(r.data) {
		c := r.data[r.pos]
		switch {
		case c == '"':
			r.pos++
			return any(string(buf)), true
		case c == '\\':
			if r.pos+1 >= len(r.data) {
				return "", false
			}
			e := r.data[r.pos+1]
			r.pos += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				ch, ok := r.hex4()
				if !ok || (ch >= 0xd800 && ch < 0xe000) {
					return "", false // surrogates: left to encoding/json
				}
				buf = utf8.AppendRune(buf, ch)
			default:
				return "", false
			}
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			r.pos++
		default:
			ch, size := utf8.DecodeRune(r.data[r.pos:])
			if ch == utf8.RuneError && size == 1 {
				return "", false
			}
			buf = append(buf, r.data[r.pos:r.pos+size]...)
			r.pos += size
		}
	}
	return "", false
}

func (r *jsonReader) hex4() (rune, bool) {
	if len(r.data)-r.pos < 4 {
		return 0, false
	}
	var ch rune
	for _, c := range r.data[r.pos : r.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		ch = ch<<4 | rune(c)
	}
	r.pos += 4
	return ch, true
}

// number reads a number of JSON's grammar as its text.
func (r *jsonReader) number() (any, bool) {
	start := r.pos
	digits := func() int {
		n := 0
		for r.pos < len(r.data) && r.data[r.pos] >= '0' && r.data[r.pos] <= '9' {
			r.pos++
			n++
		}
		return n
	}
	if r.data[r.pos] == '-' {
		r.pos++
	}
	if r.pos >= len(r.data) {
		return nil, false
	}
	if r.data[r.pos] == '0' {
		r.pos++
	} else if digits() == 0 {
		return nil, false
	}
	if r.pos < len(r.data) && r.data[r.pos] == '.' {
		r.pos++
		if digits() == 0 {
			return nil, false
		}
	}
	if r.pos < len(r.data) && (r.data[r.pos] == 'e' || r.data[r.pos] == 'E') {
		r.pos++
		if r.pos < len(r.data) && (r.data[r.pos] == '+' || r.data[r.pos] == '-') {
			r.pos++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	return json.Number(r.data[start:r.pos]), true
}
