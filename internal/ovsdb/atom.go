package ovsdb

import (
	"encoding/hex"
	"fmt"
)

// AtomicType is one of the five RFC 7047 atomic types.
type AtomicType int

// The atomic types, in the order ovsdb-server declares them.
const (
	TypeVoid AtomicType = iota // only for the value of a set type
	TypeInteger
	TypeReal
	TypeBoolean
	TypeString
	TypeUUID
)

// String returns the type's name in the schema notation ("integer", ...).
func (t AtomicType) String() string {
	switch t {
	case TypeInteger:
		return "integer"
	case TypeReal:
		return "real"
	case TypeBoolean:
		return "boolean"
	case TypeString:
		return "string"
	case TypeUUID:
		return "uuid"
	default:
		return "void"
	}
}

// ParseAtomicType maps a schema type name to its AtomicType.
func ParseAtomicType(s string) (AtomicType, bool) {
	switch s {
	case "integer":
		return TypeInteger, true
	case "real":
		return TypeReal, true
	case "boolean":
		return TypeBoolean, true
	case "string":
		return TypeString, true
	case "uuid":
		return TypeUUID, true
	}
	return TypeVoid, false
}

// UUID is a row identifier. Byte order equals the order of the canonical
// lower-case text form, which is the order ovsdb-server sorts UUIDs in.
type UUID [16]byte

// String returns the canonical 8-4-4-4-12 form.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// IsZero reports whether u is the all-zero UUID.
func (u UUID) IsZero() bool { return u == UUID{} }

// ParseUUID parses the canonical 36-character form (either case).
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("%q is not a valid UUID", s)
	}
	src := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(u[:], []byte(src)); err != nil {
		return u, fmt.Errorf("%q is not a valid UUID", s)
	}
	return u, nil
}

// Atom is one atomic value. Its dynamic type is exactly one of int64,
// float64, bool, string or UUID, matching TypeInteger, TypeReal,
// TypeBoolean, TypeString and TypeUUID.
type Atom = any

// AppendText appends the canonical text form of u to dst.
func (u UUID) AppendText(dst []byte) []byte {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return append(dst, b[:]...)
}
