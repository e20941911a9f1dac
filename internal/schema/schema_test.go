package schema

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// badSchemas are rejected by ovsdb-tool; Parse must reject them with the
// same details, naming the table and column at fault.
var badSchemas = []struct {
	name   string
	schema string
	where  []string // substrings of Parse's error naming the place
}{
	{"reserved column", `{"name":"X","tables":{"T":{"columns":{"_a":{"type":"integer"}}}}}`, []string{`"T"`, `"_a"`}},
	{"column not id", `{"name":"X","tables":{"T":{"columns":{"1a":{"type":"integer"}}}}}`, []string{`"T"`, `"1a"`}},
	{"reserved table", `{"name":"X","tables":{"_T":{"columns":{"a":{"type":"integer"}}}}}`, []string{`"_T"`}},
	{"table not id", `{"name":"X","tables":{"1T":{"columns":{"a":{"type":"integer"}}}}}`, []string{`"1T"`}},
	{"undefined refTable", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"uuid","refTable":"Q"}}}}}}}`, []string{`"T"`, `"a"`}},
	{"undefined value refTable", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":"string","value":{"type":"uuid","refTable":"Q"}}}}}}}`, []string{`"T"`, `"a"`}},
	{"index unknown column", `{"name":"X","tables":{"T":{"columns":{"a":{"type":"integer"}},"indexes":[["b"]]}}}`, []string{`"T"`, `"b"`}},
	{"index ephemeral", `{"name":"X","tables":{"T":{"columns":{"a":{"type":"integer","ephemeral":true}},"indexes":[["a"]]}}}`, []string{`"T"`, `"a"`}},
	{"index _version", `{"name":"X","tables":{"T":{"columns":{"a":{"type":"integer"}},"indexes":[["_version"]]}}}`, []string{`"T"`, `"_version"`}},
	{"index empty", `{"name":"X","tables":{"T":{"columns":{"a":{"type":"integer"}},"indexes":[[]]}}}`, []string{`"T"`}},
	{"index duplicate", `{"name":"X","tables":{"T":{"columns":{"a":{"type":"integer"}},"indexes":[["a","a"]]}}}`, []string{`"T"`, `"a"`}},
	{"index not array", `{"name":"X","tables":{"T":{"columns":{"a":{"type":"integer"}},"indexes":["a"]}}}`, []string{`"T"`}},
	{"index not strings", `{"name":"X","tables":{"T":{"columns":{"a":{"type":"integer"}},"indexes":[[1]]}}}`, []string{`"T"`}},
	{"indexes not array", `{"name":"X","tables":{"T":{"columns":{"a":{"type":"integer"}},"indexes":{}}}}`, []string{`"T"`}},
	{"bad version", `{"name":"X","version":"1.2","tables":{"T":{"columns":{"a":{"type":"integer"}}}}}`, nil},
	{"bad version text", `{"name":"X","version":"1.2.x","tables":{"T":{"columns":{"a":{"type":"integer"}}}}}`, nil},
	{"version not string", `{"name":"X","version":1,"tables":{"T":{"columns":{"a":{"type":"integer"}}}}}`, nil},
	{"cksum not string", `{"name":"X","cksum":1,"tables":{"T":{"columns":{"a":{"type":"integer"}}}}}`, nil},
	{"min 2", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":"integer","min":2,"max":3}}}}}}`, []string{`"T"`, `"a"`}},
	{"max 0", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":"integer","min":1,"max":0}}}}}}`, []string{`"T"`, `"a"`}},
	{"min negative", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":"integer","min":-1}}}}}}`, []string{`"T"`, `"a"`}},
	{"max word", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":"integer","max":"lots"}}}}}}`, []string{`"T"`, `"a"`}},
	{"max real", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":"integer","max":1.5}}}}}}`, []string{`"T"`, `"a"`}},
	{"minInteger > maxInteger", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"integer","minInteger":3,"maxInteger":2}}}}}}}`, []string{`"T"`, `"a"`}},
	{"minReal > maxReal", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"real","minReal":3,"maxReal":2.5}}}}}}}`, []string{`"T"`, `"a"`}},
	{"minLength > maxLength", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"string","minLength":3,"maxLength":2}}}}}}}`, []string{`"T"`, `"a"`}},
	{"minLength negative", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"string","minLength":-1}}}}}}}`, []string{`"T"`, `"a"`}},
	{"minInteger real", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"integer","minInteger":1.5}}}}}}}`, []string{`"T"`, `"a"`}},
	{"enum with bound", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"integer","enum":1,"minInteger":3}}}}}}}`, []string{`"T"`, `"a"`}},
	{"enum null", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"string","enum":null}}}}}}}`, []string{`"T"`, `"a"`}},
	{"two unknown members", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"string","minInteger":1}},"min":0}}}}}`, []string{`"T"`, `"a"`}},
	{"enum empty", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"string","enum":["set",[]]}}}}}}}`, []string{`"T"`, `"a"`}},
	{"enum wrong type", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"string","enum":["set",[1]]}}}}}}}`, []string{`"T"`, `"a"`}},
	{"enum duplicate", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"string","enum":["set",["a","a"]]}}}}}}}`, []string{`"T"`, `"a"`}},
	{"unknown base member", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"integer","foo":1}}}}}}}`, []string{`"T"`, `"a"`}},
	{"constraint of other type", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"integer","maxLength":1}}}}}}}`, []string{`"T"`, `"a"`}},
	{"unknown type", `{"name":"X","tables":{"T":{"columns":{"a":{"type":"int"}}}}}`, []string{`"T"`, `"a"`}},
	{"void key", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":"void"}}}}}}`, []string{`"T"`, `"a"`}},
	{"void value", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":"string","value":"void"}}}}}}`, []string{`"T"`, `"a"`}},
	{"type number", `{"name":"X","tables":{"T":{"columns":{"a":{"type":1}}}}}`, []string{`"T"`, `"a"`}},
	{"type missing key", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"min":0}}}}}}`, []string{`"T"`, `"a"`}},
	{"type unknown member", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":"string","foo":0}}}}}}`, []string{`"T"`, `"a"`}},
	{"base type missing type", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"minInteger":1}}}}}}}`, []string{`"T"`, `"a"`}},
	{"bad refType", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"uuid","refTable":"T","refType":"soft"}}}}}}}`, []string{`"T"`, `"a"`}},
	{"refTable not id", `{"name":"X","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"uuid","refTable":"1T"}}}}}}}`, []string{`"T"`, `"a"`}},
	{"no columns", `{"name":"X","tables":{"T":{"columns":{}}}}`, []string{`"T"`}},
	{"columns missing", `{"name":"X","tables":{"T":{}}}`, []string{`"T"`}},
	{"maxRows 0", `{"name":"X","tables":{"T":{"columns":{"a":{"type":"integer"}},"maxRows":0}}}`, []string{`"T"`}},
	{"maxRows string", `{"name":"X","tables":{"T":{"columns":{"a":{"type":"integer"}},"maxRows":"1"}}}`, []string{`"T"`}},
	{"isRoot string", `{"name":"X","tables":{"T":{"columns":{"a":{"type":"integer"}},"isRoot":"yes"}}}`, []string{`"T"`}},
	{"table unknown member", `{"name":"X","tables":{"T":{"columns":{"a":{"type":"integer"}},"foo":1}}}`, []string{`"T"`}},
	{"table not object", `{"name":"X","tables":{"T":1}}`, []string{`"T"`}},
	{"column unknown member", `{"name":"X","tables":{"T":{"columns":{"a":{"type":"integer","foo":1}}}}}`, []string{`"T"`, `"a"`}},
	{"column missing type", `{"name":"X","tables":{"T":{"columns":{"a":{}}}}}`, []string{`"T"`, `"a"`}},
	{"column mutable string", `{"name":"X","tables":{"T":{"columns":{"a":{"type":"integer","mutable":"no"}}}}}`, []string{`"T"`, `"a"`}},
	{"column not object", `{"name":"X","tables":{"T":{"columns":{"a":"integer"}}}}`, []string{`"T"`, `"a"`}},
	{"name not id", `{"name":"1X","tables":{"T":{"columns":{"a":{"type":"integer"}}}}}`, nil},
	{"no tables", `{"name":"X"}`, nil},
	{"no name", `{"tables":{"T":{"columns":{"a":{"type":"integer"}}}}}`, nil},
	{"db unknown member", `{"name":"X","foo":1,"tables":{"T":{"columns":{"a":{"type":"integer"}}}}}`, nil},
	{"not object", `[1]`, nil},
}

// toolDetails runs ovsdb-tool create on schema and returns the details of
// its error (the text after "as ovsdb schema: ").
func toolDetails(t *testing.T, schema string) string {
	t.Helper()
	if _, err := exec.LookPath("ovsdb-tool"); err != nil {
		t.Fatalf("ovsdb-tool not found (apt-get install -y openvswitch-common): %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "s.ovsschema")
	if err := os.WriteFile(path, []byte(schema), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), "ovsdb-tool", "create", filepath.Join(dir, "db"), path).CombinedOutput()
	if err == nil {
		t.Fatalf("ovsdb-tool accepted the schema")
	}
	const marker = "as ovsdb schema: "
	s := strings.TrimSpace(string(out))
	i := strings.Index(s, marker)
	if i < 0 {
		t.Fatalf("unexpected ovsdb-tool output: %s", s)
	}
	return s[i+len(marker):]
}

func TestParseRejectsLikeOVSDBTool(t *testing.T) {
	for _, tc := range badSchemas {
		t.Run(tc.name, func(t *testing.T) {
			want := toolDetails(t, tc.schema)
			_, err := Parse([]byte(tc.schema))
			if err == nil {
				t.Fatalf("Parse accepted a schema ovsdb-tool rejects with %q", want)
			}
			var oe *ovsdb.Error
			if !errors.As(err, &oe) {
				t.Fatalf("Parse error %v wraps no *ovsdb.Error", err)
			}
			if oe.Details != want {
				t.Errorf("details\n got: %s\nwant: %s", oe.Details, want)
			}
			for _, w := range tc.where {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

func TestParseSemantics(t *testing.T) {
	load := func(t *testing.T, path string) *Database {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		db, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	roots := load(t, "testdata/roots.ovsschema")
	legacy := load(t, "testdata/legacy.ovsschema")
	types := load(t, "testdata/types.ovsschema")
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"legacy tables are all roots", legacy.Tables["P"].IsRoot && legacy.Tables["Q"].IsRoot, true},
		{"non-root stays non-root", roots.Tables["U"].IsRoot, false},
		{"unset isRoot is false", roots.Tables["V"].IsRoot, false},
		{"strong ref to non-root is never ephemeral", roots.Tables["T"].Columns["s"].Ephemeral, false},
		{"strong ref to root may be ephemeral", roots.Tables["T"].Columns["s2"].Ephemeral, true},
		{"weak ref is always mutable", roots.Tables["T"].Columns["w"].Mutable, true},
		{"weak ref map value is always mutable", roots.Tables["T"].Columns["mv"].Mutable, true},
		{"immutable column", types.Tables["A"].Columns["imm"].Mutable, false},
		{"immutable table", roots.Tables["T"].Mutable, false},
		{"maxRows", types.Tables["A"].MaxRows, int64(100000)},
		{"no maxRows", types.Tables["B"].MaxRows, int64(0)},
		{"_uuid immutable", types.Tables["A"].Columns["_uuid"].Mutable, false},
		{"_version ephemeral", types.Tables["A"].Columns["_version"].Ephemeral, true},
		{"version", types.Version, "1.2.3"},
		{"cksum", types.Cksum, "12345 678"},
		{"index", strings.Join(roots.Tables["T"].Indexes[1], ","), "_uuid"},
		{"column names", strings.Join(types.Tables["B"].ColumnNames, ","), "name"},
		{"unlimited", types.Tables["A"].Columns["sset"].Type.Max, int64(ovsdb.Unlimited)},
		{"weak", types.Tables["A"].Columns["wref"].Type.Key.RefType, ovsdb.RefWeak},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestDatabaseMarshalJSON(t *testing.T) {
	for _, path := range append([]string{"testdata/types.ovsschema"}, realSchemas...) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		db, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		b1, err := db.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(b1)
		if err != nil {
			t.Fatalf("%s: marshalled schema does not parse: %v", path, err)
		}
		b2, err := again.MarshalJSON()
		if err != nil || string(b1) != string(b2) {
			t.Fatalf("%s: marshal is not stable (%v)", path, err)
		}
	}
}
