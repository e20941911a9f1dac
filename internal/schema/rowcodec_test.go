package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

func loadSchema(tb testing.TB, path string) *Database {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	db, err := Parse(data)
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

func mustDatum(tb testing.TB, typ ovsdb.Type, s string) ovsdb.Datum {
	tb.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		tb.Fatal(err)
	}
	d, err := ovsdb.ParseDatum(typ, v, nil)
	if err != nil {
		tb.Fatalf("ParseDatum(%s): %v", s, err)
	}
	return d
}

var version1 = ovsdb.UUID{0: 0xab, 15: 0xcd}

func TestRowCodecRoundTrip(t *testing.T) {
	db := loadSchema(t, "testdata/types.ovsschema")
	tbl := db.Tables["A"]
	values := map[string]string{
		"i":    `-9223372036854775808`,
		"r":    `0.30000000000000004`,
		"rr":   `["set",[5.000000000000001]]`,
		"b":    `true`,
		"s":    `"a\"\\\u0001\u00e9\u2028"`,
		"e":    `"a b"`,
		"u":    `["uuid","01234567-89ab-cdef-0123-456789abcdef"]`,
		"sset": `["set",["x","y","z"]]`,
		"m":    `["map",[["a",1],["b",-2]]]`,
		"mu":   `["map",[[["uuid","01234567-89ab-cdef-0123-456789abcdef"],1e300]]]`,
		"rset": `["set",[1e-300,2.5]]`,
	}
	row := ovsdb.Row{ColumnVersion: ovsdb.NewSet(version1)}
	for col, v := range values {
		row[col] = mustDatum(t, tbl.Columns[col].Type, v)
	}
	data, err := tbl.EncodeRow(row)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatalf("EncodeRow wrote invalid JSON: %s", data)
	}
	got, err := tbl.DecodeRow(data)
	if err != nil {
		t.Fatalf("DecodeRow(%s): %v", data, err)
	}
	if len(got) != len(tbl.ColumnNames)+1 {
		t.Errorf("decoded %d columns, want %d", len(got), len(tbl.ColumnNames)+1)
	}
	for _, col := range append(append([]string(nil), tbl.ColumnNames...), ColumnVersion) {
		want, ok := row[col]
		if !ok {
			want = ovsdb.DefaultDatum(tbl.Columns[col].Type)
		}
		if !got[col].Equal(want) || got[col].IsMap() != want.IsMap() {
			t.Errorf("column %s: got %v, want %v", col, got[col], want)
		}
	}
	// Encoding is deterministic.
	again, err := tbl.EncodeRow(got)
	if err != nil || !bytes.Equal(again, data) {
		t.Errorf("re-encoding differs:\n%s\n%s (%v)", again, data, err)
	}
	// The stored text is plain OVSDB notation.
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	if obj["_version"].([]any)[0] != "uuid" || obj["b"] != true {
		t.Errorf("unexpected stored form %s", data)
	}
}

func TestDecodeRowErrors(t *testing.T) {
	tbl := loadSchema(t, "testdata/types.ovsschema").Tables["B"]
	v := `"_version":["uuid","01234567-89ab-cdef-0123-456789abcdef"]`
	tests := []struct {
		name, data string
		ok         bool
	}{
		{"good", `{"name":"x",` + v + `}`, true},
		{"missing column gets default", `{` + v + `}`, true},
		{"unknown column ignored", `{"gone":[1,{"a":2}],` + v + `}`, true},
		{"escaped string", `{"name":"\u00e9\n",` + v + "}", true},
		{"spaces", " { \"name\" : \"x\" , " + v + " } ", true},
		{"no version", `{"name":"x"}`, false},
		{"wrong type", `{"name":1,` + v + `}`, false},
		{"trailing", `{"name":"x",` + v + `}x`, false},
		{"truncated", `{"name":"x",` + v, false},
		{"not object", `[]`, false},
		{"bad literal", `{"name":nul,` + v + `}`, false},
		{"unterminated string", `{"name":"x`, false},
		{"deep", `{"gone":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `,` + v + `}`, false},
		{"empty", ``, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			row, err := tbl.DecodeRow([]byte(tc.data))
			if (err == nil) != tc.ok {
				t.Fatalf("DecodeRow(%s) = %v, %v; want ok=%v", tc.data, row, err, tc.ok)
			}
		})
	}
}

func TestEncodeRowErrors(t *testing.T) {
	tbl := loadSchema(t, "testdata/types.ovsschema").Tables["B"]
	if _, err := tbl.EncodeRow(ovsdb.Row{"name": ovsdb.NewSet("x")}); err == nil {
		t.Error("EncodeRow without _version succeeded")
	}
	if _, err := tbl.EncodeRow(ovsdb.Row{"name": ovsdb.NewSet(int64(1)), ColumnVersion: ovsdb.NewSet(version1)}); err == nil {
		t.Error("EncodeRow with a wrongly typed atom succeeded")
	}
}

// nbSwitchRow is a Logical_Switch row with n ports and a few other columns.
func nbSwitchRow(tb testing.TB, tbl *Table, n int) ovsdb.Row {
	tb.Helper()
	ports := make([]ovsdb.Atom, n)
	for i := range ports {
		ports[i] = ovsdb.UUID{0: byte(i), 1: byte(i >> 8), 15: 7}
	}
	return ovsdb.Row{
		"name":         ovsdb.NewSet("sw0"),
		"ports":        ovsdb.NewSet(ports...),
		"external_ids": mustDatum(tb, tbl.Columns["external_ids"].Type, `["map",[["k8s.ovn.org/network","default"],["owner","node-1"]]]`),
		"other_config": mustDatum(tb, tbl.Columns["other_config"].Type, `["map",[["subnet","10.0.0.0/24"],["mcast_snoop","true"]]]`),
		ColumnVersion:  ovsdb.NewSet(version1),
	}
}

func BenchmarkEncodeRow(b *testing.B) {
	tbl := loadSchema(b, "/usr/share/ovn/ovn-nb.ovsschema").Tables["Logical_Switch"]
	for _, n := range []int{1, 100} {
		row := nbSwitchRow(b, tbl, n)
		b.Run(fmt.Sprintf("ports=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 8192)
			for b.Loop() {
				var err error
				if buf, err = tbl.AppendRow(buf[:0], row); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

func BenchmarkDecodeRow(b *testing.B) {
	tbl := loadSchema(b, "/usr/share/ovn/ovn-nb.ovsschema").Tables["Logical_Switch"]
	for _, n := range []int{1, 100} {
		data, err := tbl.EncodeRow(nbSwitchRow(b, tbl, n))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("ports=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := tbl.DecodeRow(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestRowCodecHandBuiltTable(t *testing.T) {
	tbl := &Table{Name: "H", Columns: map[string]*Column{
		"b": {Name: "b", Type: ovsdb.ScalarType(ovsdb.TypeInteger)},
		"a": {Name: "a", Type: ovsdb.ScalarType(ovsdb.TypeString)},
	}}
	data, err := tbl.EncodeRow(ovsdb.Row{"a": ovsdb.NewSet("x"), ColumnVersion: ovsdb.NewSet(version1)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"x","b":0,"_version":["uuid","ab000000-0000-0000-0000-0000000000cd"]}`; string(data) != want {
		t.Fatalf("EncodeRow = %s, want %s", data, want)
	}
}
