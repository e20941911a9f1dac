package ovsdb

import (
	"encoding/binary"
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
	return string(u.AppendText(b[:0]))
}

// IsZero reports whether u is the all-zero UUID.
func (u UUID) IsZero() bool { return u == UUID{} }

// ParseUUID parses the canonical 36-character form (either case).
func ParseUUID(s string) (UUID, error) {
	u, ok := parseUUID(s)
	if !ok {
		return u, fmt.Errorf("%q is not a valid UUID", s)
	}
	return u, nil
}

// ParseUUIDBytes is ParseUUID for a byte slice; it does not allocate.
func ParseUUIDBytes(b []byte) (UUID, bool) { return parseUUID(b) }

// hexVal maps a hex digit to its value plus 1, anything else to 0.
var hexVal = func() (t [256]byte) {
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c-'0') + 1
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 11
		t[c-'a'+'A'] = byte(c-'a') + 11
	}
	return t
}()

func parseUUID[T string | []byte](s T) (UUID, bool) {
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, lo := hexVal[s[i]], hexVal[s[i+1]]
		if hi == 0 || lo == 0 {
			return UUID{}, false
		}
		u[j] = (hi-1)<<4 | (lo - 1)
		j++
		i += 2
	}
	return u, true
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

// Compare orders u and o as ovsdb-server's uuid_compare_3way does, which is
// their byte order and the order of their text forms.
func (u UUID) Compare(o UUID) int {
	a, b := binary.BigEndian.Uint64(u[:8]), binary.BigEndian.Uint64(o[:8])
	if a == b {
		a, b = binary.BigEndian.Uint64(u[8:]), binary.BigEndian.Uint64(o[8:])
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
