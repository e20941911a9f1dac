package ovsdb

import (
	"encoding/json"
	"math"
)

// ParseBaseType parses a schema <base-type> (a type name or an object with
// constraints), as ovsdb_base_type_from_json does.
func ParseBaseType(v any) (BaseType, error) {
	if s, ok := v.(string); ok {
		at, ok := ParseAtomicType(s)
		if !ok {
			return BaseType{}, syntaxError(v, "%s is not an atomic-type", JSONString(v))
		}
		return NewBaseType(at), nil
	}
	p, err := NewParser(v, "ovsdb type")
	if err != nil {
		return BaseType{}, err
	}
	tv := p.Member("type", PString)
	if p.Err() != nil {
		return BaseType{}, p.Err()
	}
	at, ok := ParseAtomicType(tv.(string))
	if !ok {
		return BaseType{}, syntaxError(tv, "%s is not an atomic-type", JSONString(tv))
	}
	b := NewBaseType(at)
	if ev, ok := p.MemberPresent("enum", PAny|POptional); ok {
		et := Type{Key: NewBaseType(at), Value: NewBaseType(TypeVoid), Min: 1, Max: Unlimited}
		d, err := ParseDatum(et, ev, nil)
		if err != nil {
			return BaseType{}, err
		}
		b.Enum = &d
	} else {
		switch at {
		case TypeInteger:
			minv := p.Member("minInteger", PInteger|POptional)
			maxv := p.Member("maxInteger", PInteger|POptional)
			if minv != nil {
				b.MinInteger = Int(minv)
			}
			if maxv != nil {
				b.MaxInteger = Int(maxv)
			}
			if p.Err() == nil && b.MinInteger > b.MaxInteger {
				return BaseType{}, syntaxError(v, "minInteger exceeds maxInteger")
			}
		case TypeReal:
			minv := p.Member("minReal", PNumber|POptional)
			maxv := p.Member("maxReal", PNumber|POptional)
			if minv != nil {
				b.MinReal = Real(minv)
			}
			if maxv != nil {
				b.MaxReal = Real(maxv)
			}
			if p.Err() == nil && b.MinReal > b.MaxReal {
				return BaseType{}, syntaxError(v, "minReal exceeds maxReal")
			}
		case TypeString:
			for _, m := range []struct {
				name string
				dst  *int64
			}{{"minLength", &b.MinLength}, {"maxLength", &b.MaxLength}} {
				if mv := p.Member(m.name, PInteger|POptional); mv != nil {
					n := Int(mv)
					if n < 0 || n > math.MaxUint32 {
						return BaseType{}, syntaxError(mv, "%s out of valid range 0 to %d", m.name, uint64(math.MaxUint32))
					}
					*m.dst = n
				}
			}
			if p.Err() == nil && b.MinLength > b.MaxLength {
				return BaseType{}, syntaxError(v, "minLength exceeds maxLength")
			}
		case TypeUUID:
			if rt := p.Member("refTable", PID|POptional); rt != nil {
				b.RefTable = rt.(string)
				if ref := p.Member("refType", PID|POptional); ref != nil {
					switch ref.(string) {
					case "strong":
						b.RefType = RefStrong
					case "weak":
						b.RefType = RefWeak
					default:
						return BaseType{}, syntaxError(v, `refType must be "strong" or "weak" (not "%s")`, ref)
					}
				}
			}
		}
	}
	if err := p.Finish(); err != nil {
		return BaseType{}, err
	}
	return b, nil
}

// HasConstraints reports whether b has any constraint (enum, bounds,
// lengths, refTable), that is whether its schema form is an object.
func (b *BaseType) HasConstraints() bool {
	if b.Enum != nil {
		return true
	}
	switch b.Type {
	case TypeInteger:
		return b.MinInteger != math.MinInt64 || b.MaxInteger != math.MaxInt64
	case TypeReal:
		return b.MinReal != -math.MaxFloat64 || b.MaxReal != math.MaxFloat64
	case TypeString:
		return b.MinLength != 0 || b.MaxLength != NoMaxLength
	case TypeUUID:
		return b.RefTable != ""
	}
	return false
}

// IsStrongRef reports whether b is a strong reference to a table.
func (b *BaseType) IsStrongRef() bool {
	return b.Type == TypeUUID && b.RefTable != "" && b.RefType == RefStrong
}

// IsWeakRef reports whether b is a weak reference to a table.
func (b *BaseType) IsWeakRef() bool {
	return b.Type == TypeUUID && b.RefTable != "" && b.RefType == RefWeak
}

// JSON renders b as ovsdb_base_type_to_json does.
func (b BaseType) JSON() any {
	if !b.HasConstraints() {
		return b.Type.String()
	}
	m := map[string]any{"type": b.Type.String()}
	if b.Enum != nil {
		et := Type{Key: NewBaseType(b.Type), Value: NewBaseType(TypeVoid), Min: 1, Max: Unlimited}
		m["enum"] = DatumJSON(et, *b.Enum)
	}
	switch b.Type {
	case TypeInteger:
		if b.MinInteger != math.MinInt64 {
			m["minInteger"] = b.MinInteger
		}
		if b.MaxInteger != math.MaxInt64 {
			m["maxInteger"] = b.MaxInteger
		}
	case TypeReal:
		if b.MinReal != -math.MaxFloat64 {
			m["minReal"] = b.MinReal
		}
		if b.MaxReal != math.MaxFloat64 {
			m["maxReal"] = b.MaxReal
		}
	case TypeString:
		if b.MinLength != 0 {
			m["minLength"] = b.MinLength
		}
		if b.MaxLength != NoMaxLength {
			m["maxLength"] = b.MaxLength
		}
	case TypeUUID:
		if b.RefTable != "" {
			m["refTable"] = b.RefTable
			if b.RefType == RefWeak {
				m["refType"] = "weak"
			}
		}
	}
	return m
}

// ParseType parses a schema <type> (a string shorthand or an object), as
// ovsdb_type_from_json does.
func ParseType(v any) (Type, error) {
	t := Type{Value: NewBaseType(TypeVoid), Min: 1, Max: 1}
	switch v.(type) {
	case string:
		k, err := ParseBaseType(v)
		if err != nil {
			return Type{}, err
		}
		t.Key = k
		return t, nil
	case map[string]any:
	default:
		return Type{}, syntaxError(v, "ovsdb type expected")
	}
	p, _ := NewParser(v, "ovsdb type")
	kv := p.Member("key", PString|PObject)
	vv := p.Member("value", PString|PObject|POptional)
	minv := p.Member("min", PInteger|POptional)
	maxv := p.Member("max", PInteger|PString|POptional)
	if err := p.Finish(); err != nil {
		return Type{}, err
	}
	k, err := ParseBaseType(kv)
	if err != nil {
		return Type{}, err
	}
	t.Key = k
	if vv != nil {
		val, err := ParseBaseType(vv)
		if err != nil {
			return Type{}, err
		}
		t.Value = val
	}
	parseN := func(nv any, dst *int64) error {
		if nv == nil {
			return nil
		}
		if num, ok := nv.(json.Number); ok {
			if i, _, isInt, ok := parseNumber(string(num)); ok && isInt && i >= 0 && i < math.MaxUint32 {
				*dst = i
				return nil
			}
		}
		return syntaxError(nv, "bad min or max value")
	}
	if s, ok := maxv.(string); ok && s == "unlimited" {
		t.Max = Unlimited
	} else if err := parseN(maxv, &t.Max); err != nil {
		return Type{}, err
	}
	if err := parseN(minv, &t.Min); err != nil {
		return Type{}, err
	}
	if t.Min > 1 || t.Max < 1 {
		return Type{}, syntaxError(v, "ovsdb type fails constraint checks")
	}
	return t, nil
}

// JSON renders the type the way ovsdb-server's get_schema does.
func (t Type) JSON() any {
	if t.IsScalar() && !t.Key.HasConstraints() {
		return t.Key.JSON()
	}
	m := map[string]any{"key": t.Key.JSON()}
	if t.IsMap() {
		m["value"] = t.Value.JSON()
	}
	if t.Min != 1 {
		m["min"] = t.Min
	}
	if t.Max == Unlimited {
		m["max"] = "unlimited"
	} else if t.Max != 1 {
		m["max"] = t.Max
	}
	return m
}
