package ovsdb

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Parser checks the members of one JSON object the way ovsdb-server's
// ovsdb_parser does, producing its error messages ("Parsing <name>
// failed: Required 'x' member is missing." and so on). Use Member for
// each known member, then Finish, which also rejects unknown members.
type Parser struct {
	obj  map[string]any
	name string
	used map[string]bool
	err  error
}

// Member kinds for Parser.Member, combined with |.
const (
	PString   = 1 << iota // any string
	PID                   // a string that is an <id>
	PObject               // a JSON object
	PArray                // a JSON array
	PInteger              // a number ovsdb-server reads as an integer
	PNumber               // any number
	PBool                 // true or false
	PAny                  // anything
	POptional             // the member may be absent
)

// NewParser starts parsing v, an object described by name in messages.
func NewParser(v any, name string) (*Parser, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, syntaxError(v, "Parsing %s failed: Object expected.", name)
	}
	return &Parser{obj: obj, name: name, used: make(map[string]bool, len(obj))}, nil
}

// Member returns member name if it is present and of one of kinds. When
// it is missing (and not POptional) or of the wrong kind it records the
// error and returns nil; after the first error every call returns nil.
func (p *Parser) Member(name string, kinds int) any {
	v, _ := p.MemberPresent(name, kinds)
	return v
}

// MemberPresent is Member that also reports whether the member was
// present and accepted, which tells a JSON null apart from an absent
// member when kinds includes PAny.
func (p *Parser) MemberPresent(name string, kinds int) (any, bool) {
	if p.err != nil {
		return nil, false
	}
	v, ok := p.obj[name]
	if !ok {
		if kinds&POptional == 0 {
			p.Fail("Required '%s' member is missing.", name)
		}
		return nil, false
	}
	p.used[name] = true
	good := kinds&PAny != 0
	switch x := v.(type) {
	case string:
		good = good || kinds&PString != 0 || (kinds&PID != 0 && IsID(x))
	case map[string]any:
		good = good || kinds&PObject != 0
	case []any:
		good = good || kinds&PArray != 0
	case bool:
		good = good || kinds&PBool != 0
	case json.Number:
		_, _, isInt, ok := parseNumber(string(x))
		good = good || (ok && (kinds&PNumber != 0 || (isInt && kinds&PInteger != 0)))
	}
	if !good {
		p.Fail("Type mismatch for member '%s'.", name)
		return nil, false
	}
	return v, true
}

// Fail records a syntax error about the object unless one is recorded.
func (p *Parser) Fail(format string, args ...any) {
	if p.err == nil {
		p.err = syntaxError(p.obj, "Parsing %s failed: %s", p.name, fmt.Sprintf(format, args...))
	}
}

// Err returns the first recorded error.
func (p *Parser) Err() error { return p.err }

// Finish returns the first recorded error, or an error naming the first
// (in byte order) member that Member was never asked for.
func (p *Parser) Finish() error {
	if p.err != nil {
		return p.err
	}
	var unknown []string
	for k := range p.obj {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	switch n := len(unknown); {
	case n == 1:
		p.Fail("Member '%s' is present but not allowed here.", unknown[0])
	case n > 1:
		// ovsdb-server names the first in its hash order; byte order is
		// the closest deterministic choice.
		slices.Sort(unknown)
		plural := "s"
		if n == 2 {
			plural = ""
		}
		p.Fail("Member '%s' and %d other member%s are present but not allowed here.", unknown[0], n-1, plural)
	}
	return p.err
}

// Int returns the integer value of a member that Member accepted as
// PInteger.
func Int(v any) int64 {
	n, _ := v.(json.Number)
	i, _, _, _ := parseNumber(string(n))
	return i
}

// Real returns the value of a member that Member accepted as PNumber.
func Real(v any) float64 {
	n, _ := v.(json.Number)
	i, f, isInt, _ := parseNumber(string(n))
	if isInt {
		return float64(i)
	}
	return f
}

// ParseNumber classifies JSON number text as ovsdb-server does: an
// integer (isInt, value i) when the value is an exact int64 whatever its
// spelling, else a double f. ok is false for malformed or overflowing
// text.
func ParseNumber[T string | []byte](s T) (i int64, f float64, isInt, ok bool) {
	return parseNumber(s)
}
