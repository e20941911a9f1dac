package ovsdb

import (
	"bytes"
	"encoding/json"
	"testing"
)

// fuzzTypes are the column types FuzzParseDatum parses values as.
var fuzzTypes = []string{
	`"integer"`,
	`"real"`,
	`"boolean"`,
	`"string"`,
	`"uuid"`,
	`{"key":{"type":"integer","minInteger":-5,"maxInteger":100},"min":0,"max":3}`,
	`{"key":{"type":"real","minReal":-1.5,"maxReal":1e10},"min":0,"max":"unlimited"}`,
	`{"key":{"type":"string","minLength":1,"maxLength":4},"min":1,"max":"unlimited"}`,
	`{"key":{"type":"string","enum":["set",["a","b c",""]]},"min":0,"max":2}`,
	`{"key":"string","value":"integer","min":0,"max":"unlimited"}`,
	`{"key":"uuid","value":{"type":"uuid","refTable":"T","refType":"weak"},"min":1,"max":2}`,
	`{"key":{"type":"integer","enum":["set",[1,2,3]]},"value":"boolean","min":0,"max":"unlimited"}`,
}

type fixedSymbols struct{}

func (fixedSymbols) Resolve(name string) (UUID, error) {
	if name == "bad" {
		return UUID{}, NewError(TagSyntaxError, "unknown name")
	}
	return UUID{0: byte(len(name))}, nil
}

// FuzzParseDatum checks that ParseDatum never panics and never accepts a
// datum that is not canonical, fails CheckDatum, or does not survive a
// round trip through DatumJSON.
func FuzzParseDatum(f *testing.F) {
	for i, s := range []string{`1`, `1.5`, `true`, `"x"`, `["uuid","01234567-89ab-cdef-0123-456789abcdef"]`,
		`["set",[1,2,3]]`, `["set",[-1.5,2]]`, `["set",["ab","a"]]`, `["set",["a",""]]`, `["map",[["a",1]]]`,
		`["map",[[["named-uuid","x"],["uuid","01234567-89ab-cdef-0123-456789abcdef"]]]]`, `["map",[[1,true],[3,false]]]`} {
		f.Add(uint8(i), []byte(s))
	}
	types := make([]Type, len(fuzzTypes))
	for i, s := range fuzzTypes {
		types[i] = mustType(f, s)
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		typ := types[int(which)%len(types)]
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		d, err := ParseDatum(typ, v, fixedSymbols{})
		if err != nil {
			if AsError(err).Tag == "" {
				t.Fatalf("error without tag: %v", err)
			}
			return
		}
		if cerr := typ.CheckDatum(d); cerr != nil {
			t.Fatalf("accepted %s as %v, which fails CheckDatum: %v", data, d, cerr)
		}
		if !sortedStrict(d.Keys) {
			t.Fatalf("accepted %s as non-canonical %v", data, d)
		}
		if typ.IsMap() != d.IsMap() {
			t.Fatalf("accepted %s as %v: map-ness differs from type", data, d)
		}
		// Round trip with full precision (encoding/json writes the
		// shortest exact form of a float64).
		text, err := json.Marshal(DatumJSON(typ, d))
		if err != nil {
			t.Fatalf("marshal %v: %v", d, err)
		}
		again, err := ParseDatum(typ, decode(t, string(text)), nil)
		if err != nil {
			t.Fatalf("rendered %s (from %s) does not parse: %v", text, data, err)
		}
		if !again.Equal(d) || again.Compare(d) != 0 {
			t.Fatalf("round trip of %s: %v became %v", data, d, again)
		}
		// The direct writer and the generic one agree.
		if a, b := string(AppendDatum(nil, typ, d)), JSONString(DatumJSON(typ, d)); a != b {
			t.Fatalf("AppendDatum wrote %s, AppendJSON(DatumJSON) %s", a, b)
		}
	})
}

// FuzzParseType checks that ParseType never panics and that an accepted
// type renders to JSON that parses back to the same rendering.
func FuzzParseType(f *testing.F) {
	for _, s := range fuzzTypes {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		typ, err := ParseType(v)
		if err != nil {
			return
		}
		// Render exactly (ovsdb-server's "%.15g" can round a bound past
		// the largest double), then compare ovsdb-server's text.
		exact, err := json.Marshal(typ.JSON())
		if err != nil {
			t.Fatal(err)
		}
		want := JSONString(typ.JSON())
		again, err := ParseType(decode(t, string(exact)))
		if err != nil {
			t.Fatalf("rendered type %s does not parse: %v", exact, err)
		}
		if got := JSONString(again.JSON()); got != want {
			t.Fatalf("type %s re-renders as %s", want, got)
		}
		if err := typ.CheckDatum(DefaultDatum(typ)); err != nil && typ.Key.Enum == nil && !typ.Key.HasConstraints() {
			t.Fatalf("default of unconstrained %s fails CheckDatum: %v", want, err)
		}
	})
}
