package ovsdb

import (
	"math"
	"testing"
)

func TestCompareAtoms(t *testing.T) {
	tests := []struct {
		a, b Atom
		want int
	}{
		{int64(1), int64(2), -1},
		{int64(math.MaxInt64), int64(math.MinInt64), 1},
		{int64(3), int64(3), 0},
		{1.5, 1.25, 1},
		{math.Copysign(0, -1), 0.0, 0},
		{false, true, -1},
		{true, true, 0},
		{"B", "a", -1},
		{"a", "ab", -1},
		{"\u00e9", "z", 1},
		{UUID{0: 0x10}, UUID{0: 0x0f, 15: 0xff}, 1},
		{UUID{15: 1}, UUID{15: 1}, 0},
		{int64(1), "a", -1}, // mixed types order by type, never panic
	}
	for _, tc := range tests {
		if got := CompareAtoms(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareAtoms(%v, %v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := CompareAtoms(tc.b, tc.a); got != -tc.want {
			t.Errorf("CompareAtoms(%v, %v) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestUUIDOrderIsTextOrder(t *testing.T) {
	a, _ := ParseUUID("0000000a-0000-0000-0000-000000000000")
	b, _ := ParseUUID("000000a0-0000-0000-0000-000000000000")
	if CompareAtoms(a, b) >= 0 || a.String() >= b.String() {
		t.Fatalf("UUID order is not text order")
	}
}

func TestNewSetAndMap(t *testing.T) {
	in := []Atom{"c", "a", "b", "a"}
	s := NewSet(in...)
	if got := JSONString(DatumJSON(Type{Key: NewBaseType(TypeString), Value: NewBaseType(TypeVoid), Max: Unlimited}, s)); got != `["set",["a","b","c"]]` {
		t.Fatalf("NewSet = %s", got)
	}
	if in[0] != "c" {
		t.Fatal("NewSet modified its argument")
	}
	m := NewMap([]Atom{"b", "a", "b"}, []Atom{int64(1), int64(2), int64(3)})
	if !m.Equal(Datum{Keys: []Atom{"a", "b"}, Values: []Atom{int64(2), int64(1)}}) {
		t.Fatalf("NewMap = %v (the first of duplicate keys wins)", m)
	}
	if !NewMap(nil, nil).IsMap() {
		t.Fatal("empty NewMap is not a map")
	}
	if i, ok := m.Find("b"); !ok || i != 1 {
		t.Fatalf("Find = %d, %v", i, ok)
	}
	if m.Contains("c") {
		t.Fatal("Contains(c)")
	}
}

func TestDatumCompare(t *testing.T) {
	tests := []struct {
		a, b Datum
		want int
	}{
		{NewSet(int64(5)), NewSet(int64(1), int64(2)), -1}, // size first
		{NewSet(int64(1), int64(3)), NewSet(int64(1), int64(2)), 1},
		{NewSet(), NewSet(), 0},
		{NewMap([]Atom{"a"}, []Atom{int64(1)}), NewMap([]Atom{"a"}, []Atom{int64(2)}), -1},
		{NewMap([]Atom{"b"}, []Atom{int64(1)}), NewMap([]Atom{"a"}, []Atom{int64(2)}), 1},
	}
	for _, tc := range tests {
		if got := tc.a.Compare(tc.b); got != tc.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := tc.a.Equal(tc.b); got != (tc.want == 0) {
			t.Errorf("%v.Equal(%v) = %v", tc.a, tc.b, got)
		}
	}
}
