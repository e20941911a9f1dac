package ovsdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func decode(t testing.TB, s string) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in    string
		isInt bool
		i     int64
		f     float64
		ok    bool
	}{
		{in: "0", isInt: true, ok: true},
		{in: "-0", isInt: true, ok: true},
		{in: "0.0", isInt: true, ok: true},
		{in: "1.0", isInt: true, i: 1, ok: true},
		{in: "1e3", isInt: true, i: 1000, ok: true},
		{in: "-1.5e1", isInt: true, i: -15, ok: true},
		{in: "1.5", f: 1.5, ok: true},
		{in: "9223372036854775807", isInt: true, i: math.MaxInt64, ok: true},
		{in: "-9223372036854775808", isInt: true, i: math.MinInt64, ok: true},
		{in: "9223372036854775808", f: 9223372036854775808, ok: true},
		{in: "1e400"},
		{in: "1e-400", ok: true, f: 0},
		{in: "01"},
		{in: "1."},
		{in: "-"},
		{in: "1e"},
		{in: "1x"},
		{in: ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			i, f, isInt, ok := ParseNumber(tc.in)
			if ok != tc.ok || (ok && (isInt != tc.isInt || i != tc.i || f != tc.f)) {
				t.Errorf("ParseNumber(%q) = %d, %g, %v, %v; want %d, %g, %v, %v", tc.in, i, f, isInt, ok, tc.i, tc.f, tc.isInt, tc.ok)
			}
		})
	}
}

func TestAppendJSON(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{in: decode(t, `{"b":[1,2.50,"x"],"a":null}`), want: `{"a":null,"b":[1,2.5,"x"]}`},
		{in: "a\x01\"\\/\u00e9\t\x7f", want: "\"a\\u0001\\\"\\\\/\u00e9\\t\x7f\""},
		{in: 0.1 + 0.2, want: "0.3"},
		{in: 2.0, want: "2"},
		{in: 1e300, want: "1e+300"},
		{in: json.Number("9223372036854775808"), want: "9.22337203685478e+18"},
		{in: int64(-5), want: "-5"},
		{in: UUID{15: 1}, want: `["uuid","00000000-0000-0000-0000-000000000001"]`},
		{in: true, want: "true"},
	}
	for _, tc := range tests {
		if got := JSONString(tc.in); got != tc.want {
			t.Errorf("JSONString(%#v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

type mapSymbols map[string]UUID

func (m mapSymbols) Resolve(name string) (UUID, error) {
	if u, ok := m[name]; ok {
		return u, nil
	}
	return UUID{}, errors.New("unknown")
}

type refSymbols struct{ got []RefType }

func (r *refSymbols) Resolve(string) (UUID, error) { return UUID{}, errors.New("Resolve called") }
func (r *refSymbols) ResolveRef(_ string, ref RefType) (UUID, error) {
	r.got = append(r.got, ref)
	return UUID{1}, nil
}

func mustType(t testing.TB, s string) Type {
	t.Helper()
	typ, err := ParseType(decode(t, s))
	if err != nil {
		t.Fatalf("ParseType(%s): %v", s, err)
	}
	return typ
}

func TestParseDatum(t *testing.T) {
	u1 := UUID{0: 1}
	sym := mapSymbols{"row": u1}
	tests := []struct {
		name    string
		typ     string
		value   string
		sym     Symbols
		want    Datum
		wantErr string // canonical error JSON
	}{
		{name: "integer", typ: `"integer"`, value: `5`, want: Datum{Keys: []Atom{int64(5)}}},
		{name: "integer as set", typ: `"integer"`, value: `["set",[5]]`, want: Datum{Keys: []Atom{int64(5)}}},
		{name: "real from integer", typ: `"real"`, value: `5`, want: Datum{Keys: []Atom{5.0}}},
		{name: "set sorted", typ: `{"key":"string","max":"unlimited"}`, value: `["set",["b","a"]]`, want: Datum{Keys: []Atom{"a", "b"}}},
		{name: "map sorted", typ: `{"key":"integer","value":"boolean","min":0,"max":"unlimited"}`, value: `["map",[[2,true],[1,false]]]`,
			want: Datum{Keys: []Atom{int64(1), int64(2)}, Values: []Atom{false, true}}},
		{name: "empty map", typ: `{"key":"integer","value":"boolean","min":0,"max":"unlimited"}`, value: `["map",[]]`,
			want: Datum{Keys: []Atom{}, Values: []Atom{}}},
		{name: "named-uuid", typ: `"uuid"`, value: `["named-uuid","row"]`, sym: sym, want: Datum{Keys: []Atom{u1}}},
		{name: "named-uuid without symbols", typ: `"uuid"`, value: `["named-uuid","row"]`,
			wantErr: `{"details":"expected [\"uuid\", <string>]","error":"syntax error","syntax":"[\"named-uuid\",\"row\"]"}`},
		{name: "unknown named-uuid", typ: `"uuid"`, value: `["named-uuid","nope"]`, sym: sym,
			wantErr: `{"details":"unknown","error":"internal error"}`},
		{name: "duplicate", typ: `{"key":"integer","max":3}`, value: `["set",[1,1]]`,
			wantErr: `{"details":"set contains duplicate","error":"ovsdb error"}`},
		{name: "enum", typ: `{"key":{"type":"string","enum":["set",["x","y z"]]}}`, value: `"a"`,
			wantErr: `{"details":"a is not one of the allowed values ([x, \"y z\"])","error":"constraint violation"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			typ := mustType(t, tc.typ)
			got, err := ParseDatum(typ, decode(t, tc.value), tc.sym)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("got %v, want error %s", got, tc.wantErr)
				}
				if g := JSONString(AsError(err).JSON()); g != tc.wantErr {
					t.Fatalf("error %s, want %s", g, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) || got.IsMap() != tc.want.IsMap() {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
			// Round trip through the notation.
			again, err := ParseDatum(typ, decode(t, JSONString(DatumJSON(typ, got))), nil)
			if err != nil || !again.Equal(got) {
				t.Fatalf("round trip: %v, %v", again, err)
			}
		})
	}
}

func TestParseAtomRefType(t *testing.T) {
	rs := &refSymbols{}
	for _, typ := range []string{`{"key":{"type":"uuid","refTable":"T","refType":"weak"}}`, `{"key":{"type":"uuid","refTable":"T"}}`, `"uuid"`} {
		if _, err := ParseDatum(mustType(t, typ), decode(t, `["named-uuid","a"]`), rs); err != nil {
			t.Fatal(err)
		}
	}
	want := []RefType{RefWeak, RefStrong, RefStrong}
	for i := range want {
		if rs.got[i] != want[i] {
			t.Fatalf("ResolveRef got %v, want %v", rs.got, want)
		}
	}
}

func TestDefaultDatum(t *testing.T) {
	tests := []struct {
		typ  string
		want string
	}{
		{`"integer"`, `0`},
		{`"real"`, `0`},
		{`"boolean"`, `false`},
		{`"string"`, `""`},
		{`"uuid"`, `["uuid","00000000-0000-0000-0000-000000000000"]`},
		{`{"key":"string","min":0}`, `["set",[]]`},
		{`{"key":"string","value":"integer"}`, `["map",[["",0]]]`},
		{`{"key":"string","value":"integer","min":0,"max":"unlimited"}`, `["map",[]]`},
	}
	for _, tc := range tests {
		typ := mustType(t, tc.typ)
		d := DefaultDatum(typ)
		if got := JSONString(DatumJSON(typ, d)); got != tc.want {
			t.Errorf("DefaultDatum(%s) = %s, want %s", tc.typ, got, tc.want)
		}
		if typ.IsMap() != d.IsMap() {
			t.Errorf("DefaultDatum(%s).IsMap() = %v", tc.typ, d.IsMap())
		}
		if err := typ.CheckDatum(d); err != nil {
			t.Errorf("DefaultDatum(%s) fails CheckDatum: %v", tc.typ, err)
		}
	}
}

func TestTypeJSONRoundTrip(t *testing.T) {
	for _, s := range []string{
		`"integer"`, `"uuid"`,
		`{"key":{"type":"integer","minInteger":1}}`,
		`{"key":{"type":"real","maxReal":2.5},"min":0,"max":3}`,
		`{"key":{"type":"string","enum":["set",["a","b"]]},"max":"unlimited"}`,
		`{"key":{"type":"string","enum":"a"}}`,
		`{"key":"string","value":{"type":"uuid","refTable":"T","refType":"weak"},"min":0,"max":"unlimited"}`,
		`{"key":{"maxLength":5,"minLength":1,"type":"string"},"min":0}`,
	} {
		typ := mustType(t, s)
		want := JSONString(decode(t, s))
		if got := JSONString(typ.JSON()); got != want {
			t.Errorf("JSON of %s = %s", want, got)
		}
	}
}

func TestTypeEnglish(t *testing.T) {
	tests := map[string]string{
		`"integer"`:                                               "integer",
		`{"key":"integer","min":0,"max":3}`:                       "set of up to 3 integers",
		`{"key":"string","min":1,"max":"unlimited"}`:              "set of 1 or more strings",
		`{"key":"string","min":0,"max":"unlimited"}`:              "set of strings",
		`{"key":"string","value":"integer","min":1,"max":2}`:      "map of 1 to 2 (string, integer) pairs",
		`{"key":"uuid","value":"real","min":0,"max":"unlimited"}`: "map of (uuid, real) pairs",
		`{"key":"boolean","value":"string","min":0,"max":1}`:      "map of up to 1 (boolean, string) pairs",
	}
	for s, want := range tests {
		if got := TypeEnglish(mustType(t, s)); got != want {
			t.Errorf("TypeEnglish(%s) = %q, want %q", s, got, want)
		}
	}
}

func TestAtomString(t *testing.T) {
	tests := []struct {
		a    Atom
		want string
	}{
		{"abc", "abc"}, {"a-b.c_d", "a-b.c_d"}, {"", `""`}, {"1a", `"1a"`}, {"a1", "a1"}, {"ls1", "ls1"},
		{"Ab9.z", "Ab9.z"}, {"_9", "_9"}, {"true", `"true"`},
		{"a b", `"a b"`}, {"01234567-89ab-cdef-0123-456789abcdef", `"01234567-89ab-cdef-0123-456789abcdef"`},
		{int64(-3), "-3"}, {0.1 + 0.2, "0.3"}, {true, "true"}, {UUID{}, "00000000-0000-0000-0000-000000000000"},
	}
	for _, tc := range tests {
		if got := AtomString(tc.a); got != tc.want {
			t.Errorf("AtomString(%#v) = %s, want %s", tc.a, got, tc.want)
		}
	}
}

func TestAppendDatum(t *testing.T) {
	tests := []struct{ typ, value, want string }{
		{`"real"`, `0.30000000000000004`, `0.3`},
		{`"real"`, `2`, `2`},
		{`{"key":"string","min":0,"max":"unlimited"}`, `["set",["b","a\n"]]`, `["set",["a\n","b"]]`},
		{`{"key":"string","min":0,"max":"unlimited"}`, `["set",[]]`, `["set",[]]`},
		{`{"key":"uuid","value":"boolean","min":0,"max":"unlimited"}`, `["map",[[["uuid","01234567-89ab-cdef-0123-456789abcdef"],true]]]`,
			`["map",[[["uuid","01234567-89ab-cdef-0123-456789abcdef"],true]]]`},
		{`{"key":"integer","value":"real","min":0,"max":"unlimited"}`, `["map",[]]`, `["map",[]]`},
	}
	for _, tc := range tests {
		typ := mustType(t, tc.typ)
		d, err := ParseDatum(typ, decode(t, tc.value), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(AppendDatum(nil, typ, d)); got != tc.want {
			t.Errorf("AppendDatum(%s) = %s, want %s", tc.value, got, tc.want)
		}
		if got := JSONString(DatumJSON(typ, d)); got != tc.want {
			t.Errorf("JSONString(DatumJSON(%s)) = %s, want %s", tc.value, got, tc.want)
		}
	}
}

func TestCheckDatumShape(t *testing.T) {
	mapType := mustType(t, `{"key":"string","value":"integer","min":0,"max":"unlimited"}`)
	setType := mustType(t, `{"key":"string","min":0,"max":"unlimited"}`)
	tests := []struct {
		name string
		typ  Type
		d    Datum
		ok   bool
	}{
		{"map", mapType, NewMap([]Atom{"a"}, []Atom{int64(1)}), true},
		{"empty set as map", mapType, NewSet(), true},
		{"map without values", mapType, Datum{Keys: []Atom{"a"}}, false},
		{"map with short values", mapType, Datum{Keys: []Atom{"a", "b"}, Values: []Atom{int64(1)}}, false},
		{"set with values", setType, NewMap([]Atom{"a"}, []Atom{int64(1)}), false},
		{"wrong atom type", setType, NewSet(int64(1)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.typ.CheckDatum(tc.d); (err == nil) != tc.ok {
				t.Fatalf("CheckDatum = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
