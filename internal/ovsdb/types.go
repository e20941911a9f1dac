package ovsdb

import "math"

// RefType says what happens to a reference when its target row goes away.
type RefType int

// Reference types (ovsdb(7) "refType").
const (
	RefStrong RefType = iota
	RefWeak
)

// Limits that mean "no constraint", the values ovsdb-server uses.
const (
	// Unlimited is Type.Max for "max": "unlimited".
	Unlimited = math.MaxUint32
	// NoMaxLength is BaseType.MaxLength when no maxLength is given.
	NoMaxLength = math.MaxUint32
)

// BaseType is an atomic type plus its constraints (RFC 7047 <base-type>).
// Unconstrained bounds hold the extreme values (math.MinInt64, -math.MaxFloat64,
// 0, NoMaxLength ...), as in ovsdb-server, so checks need no presence flags.
type BaseType struct {
	Type AtomicType
	// Enum, when non-nil, is the set of allowed atoms.
	Enum *Datum

	MinInteger, MaxInteger int64
	MinReal, MaxReal       float64
	MinLength, MaxLength   int64

	// RefTable is the table a uuid refers to; empty for a plain uuid.
	RefTable string
	RefType  RefType
}

// Type is a column type (RFC 7047 <type>): a set of Key atoms, or a map
// from Key to Value when Value.Type is not TypeVoid, holding Min..Max
// elements.
type Type struct {
	Key   BaseType
	Value BaseType
	Min   int64
	Max   int64 // Unlimited for "unlimited"
}

// IsMap reports whether t is a map type.
func (t Type) IsMap() bool { return t.Value.Type != TypeVoid }

// IsScalar reports whether t holds exactly one atom (min = max = 1, not a map).
func (t Type) IsScalar() bool { return !t.IsMap() && t.Min == 1 && t.Max == 1 }

// IsOptional reports whether t is a set of 0 or 1 atoms.
func (t Type) IsOptional() bool { return !t.IsMap() && t.Min == 0 && t.Max == 1 }

// NewBaseType returns an unconstrained base type of the atomic type at.
func NewBaseType(at AtomicType) BaseType {
	return BaseType{
		Type:       at,
		MinInteger: math.MinInt64,
		MaxInteger: math.MaxInt64,
		MinReal:    -math.MaxFloat64,
		MaxReal:    math.MaxFloat64,
		MinLength:  0,
		MaxLength:  NoMaxLength,
	}
}

// ScalarType returns the type of a column holding exactly one atom of at.
func ScalarType(at AtomicType) Type {
	return Type{Key: NewBaseType(at), Value: NewBaseType(TypeVoid), Min: 1, Max: 1}
}
