package schema

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// FuzzParse checks that Parse never panics, and that an accepted schema
// renders to JSON that parses back to the same rendering, with every
// table's default row surviving the row codec.
func FuzzParse(f *testing.F) {
	for _, path := range []string{"testdata/types.ovsschema", "testdata/roots.ovsschema", "testdata/legacy.ovsschema", "testdata/allroot.ovsschema"} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tc := range badSchemas {
		f.Add([]byte(tc.schema))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		db, err := Parse(data)
		if err != nil {
			return
		}
		rendered, err := json.Marshal(db.JSON())
		if err != nil {
			t.Fatalf("marshal rendered schema: %v", err)
		}
		again, err := Parse(rendered)
		if err != nil {
			t.Fatalf("rendered schema %s does not parse: %v", rendered, err)
		}
		if a, b := ovsdb.JSONString(db.JSON()), ovsdb.JSONString(again.JSON()); a != b {
			t.Fatalf("schema re-renders differently:\n%s\n%s", a, b)
		}
		for name, tbl := range db.Tables {
			if tbl.Columns[ColumnUUID] == nil || tbl.Columns[ColumnVersion] == nil {
				t.Fatalf("table %s lacks implicit columns", name)
			}
			row := ovsdb.Row{ColumnVersion: ovsdb.NewSet(ovsdb.UUID{1})}
			enc, err := tbl.EncodeRow(row)
			if err != nil {
				t.Fatalf("encode default %s row: %v", name, err)
			}
			dec, err := tbl.DecodeRow(enc)
			if err != nil {
				t.Fatalf("decode default %s row %s: %v", name, enc, err)
			}
			for _, c := range tbl.ColumnNames {
				if !dec[c].Equal(ovsdb.DefaultDatum(tbl.Columns[c].Type)) {
					t.Fatalf("%s.%s default decodes as %v", name, c, dec[c])
				}
			}
		}
	})
}

// FuzzDecodeRow checks that DecodeRow never panics on arbitrary bytes and
// that what it accepts re-encodes and decodes to the same row.
func FuzzDecodeRow(f *testing.F) {
	data, err := os.ReadFile("testdata/types.ovsschema")
	if err != nil {
		f.Fatal(err)
	}
	db, err := Parse(data)
	if err != nil {
		f.Fatal(err)
	}
	tbl := db.Tables["A"]
	seed, err := tbl.EncodeRow(ovsdb.Row{ColumnVersion: ovsdb.NewSet(ovsdb.UUID{1})})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"m":["map",[["b",2],["a",1]]],"sset":["set",["x","a"]],"_version":["uuid","01234567-89ab-cdef-0123-456789abcdef"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		row, err := tbl.DecodeRow(data)
		if err != nil {
			return
		}
		enc, err := tbl.EncodeRow(row)
		if err != nil {
			t.Fatalf("re-encode %v: %v", row, err)
		}
		again, err := tbl.DecodeRow(enc)
		if err != nil {
			t.Fatalf("decode re-encoded %s: %v", enc, err)
		}
		for c, d := range row {
			if !again[c].Equal(d) {
				t.Fatalf("column %s: %v became %v", c, d, again[c])
			}
		}
	})
}
