package txn

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// memberKind is a bit set of the JSON kinds an operation member may have,
// as ovsdb_parser_member's types argument.
type memberKind int

const (
	kNull memberKind = 1 << iota
	kBool
	kObject
	kArray
	kInteger
	kReal
	kString
	kID       // a string that is an identifier
	kOptional // the member may be absent
)

// opParser mirrors ovsdb-server's ovsdb_parser for one operation object:
// the first error raised wins, and members never asked for are an error at
// the end.
type opParser struct {
	obj  map[string]any // nil when the operation is not an object
	i, n int            // the operation's position, for error details
	// used are the distinct members asked for: a handful, so a slice
	// (in usedBuf) rather than a map per operation.
	used    []string
	usedBuf [6]string
	err     *ovsdb.Error
}

// reset makes p the parser of operation op, the i-th of n; Execute
// reuses one parser for all of a transaction's operations.
func (p *opParser) reset(op any, i, n int) {
	*p = opParser{i: i, n: n}
	p.used = p.usedBuf[:0]
	if m, ok := op.(map[string]any); ok {
		p.obj = m
	} else {
		p.raise("Object expected.")
	}
}

func (p *opParser) raise(format string, args ...any) {
	if p.err != nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	p.err = syntaxError(p.obj, p.obj != nil, "", "Parsing ovsdb operation %d of %d failed: %s", p.i, p.n, msg)
}

func isID(s string) bool {
	if s == "" {
		return false
	}
	if !isAlpha(s[0]) && s[0] != '_' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func kindOf(v any) memberKind {
	switch x := v.(type) {
	case nil:
		return kNull
	case bool:
		return kBool
	case map[string]any:
		return kObject
	case []any:
		return kArray
	case string:
		return kString
	case json.Number:
		if isIntegerNumber(x) {
			return kInteger
		}
		return kReal
	case int, int64:
		return kInteger
	case float64:
		return kReal
	}
	return 0
}

// isIntegerNumber reports whether ovsdb-server's JSON parser reads n as an
// integer.
func isIntegerNumber(n json.Number) bool {
	s := numberText(string(n))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' || c == 'e' || c == 'E' || c == 'n' || c == 'N' || c == 'I' {
			return false
		}
	}
	return true
}

// member returns the named member if present with an allowed kind.
func (p *opParser) member(name string, kinds memberKind) (any, bool) {
	if p.obj == nil {
		return nil, false
	}
	v, ok := p.obj[name]
	if !ok {
		if kinds&kOptional == 0 {
			p.raise("Required '%s' member is missing.", name)
		}
		return nil, false
	}
	k := kindOf(v)
	if k&kinds != 0 {
		p.use(name)
		return v, true
	}
	if kinds&kID != 0 {
		if s, ok := v.(string); ok && isID(s) {
			p.use(name)
			return v, true
		}
	}
	p.raise("Type mismatch for member '%s'.", name)
	return nil, false
}

func (p *opParser) use(name string) {
	if !slices.Contains(p.used, name) {
		p.used = append(p.used, name)
	}
}

// finish is ovsdb_parser_finish: the parser's error, or one for members
// that were never asked for.
func (p *opParser) finish() *ovsdb.Error {
	if p.err == nil && p.obj != nil && len(p.used) < len(p.obj) {
		var unused []string
		for _, k := range objectOrder(p.obj) {
			if !slices.Contains(p.used, k) {
				unused = append(unused, k)
			}
		}
		if len(unused) > 0 {
			if len(unused) > 1 {
				s := ""
				if len(unused) > 2 {
					s = "s"
				}
				p.raise("Member '%s' and %d other member%s are present but not allowed here.", unused[0], len(unused)-1, s)
			} else {
				p.raise("Member '%s' is present but not allowed here.", unused[0])
			}
		}
	}
	return p.err
}

// jsonInt returns the integer value of an integer member (one of kind
// kInteger, whose numberText is a valid int64), and 0 for anything else.
func jsonInt(v any) int64 {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(numberText(string(x)), 10, 64)
		if err != nil {
			return 0
		}
		return n
	case int:
		return int64(x)
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return 0
}

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
