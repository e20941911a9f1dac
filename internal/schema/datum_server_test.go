package schema

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

// anySymbols binds every name to one UUID, as ovsdb-server's symbol table
// accepts a name it has not seen yet.
type anySymbols struct{}

func (anySymbols) Resolve(string) (ovsdb.UUID, error) {
	return ovsdb.UUID{0: 0x12, 15: 0x34}, nil
}

// valueCases are values for columns of types.ovsschema's table A. Each is
// inserted into the real ovsdb-server and parsed by ParseDatum; the error
// objects, or the stored values, must be identical.
var valueCases = []struct{ col, value string }{
	// integer
	{"i", `1`}, {"i", `-7`}, {"i", `"x"`}, {"i", `1.0`}, {"i", `1e3`}, {"i", `1.5e1`}, {"i", `1.5`},
	{"i", `0.00001e5`}, {"i", `-0`}, {"i", `1E2`}, {"i", `-1.0e0`}, {"i", `0.0`},
	{"i", `9223372036854775807`}, {"i", `-9223372036854775808`}, {"i", `9223372036854775808`},
	{"i", `12345678901234567890`}, {"i", `123456789012345678901234567890`}, {"i", `true`}, {"i", `null`},
	{"i", `[1]`}, {"i", `{"b":1,"a":[2,"x"]}`}, {"i", `["set",[1]]`}, {"i", `["set",[]]`}, {"i", `["set",[1,2]]`},
	{"i", `["set",["x"]]`}, {"i", `["set"]`}, {"i", `["set",1]`}, {"i", `["map",[[1,2]]]`},
	{"i", `"a\u0001\"/\u00e9\t\\"`},
	{"ir", `0`}, {"ir", `10`}, {"ir", `11`}, {"ir", `-1`}, {"imin", `1`}, {"imin", `5`}, {"imax", `9`}, {"imax", `-9`},
	// real
	{"r", `3`}, {"r", `0.1`}, {"r", `-2.5e-3`}, {"r", `1e300`}, {"r", `1e-400`}, {"r", `"x"`}, {"r", `5.000000000000001`},
	{"r", `0.30000000000000004`}, {"r", `-0.0`}, {"r", `123456789012345678901234567890`},
	{"rr", `0.1`}, {"rr", `11`}, {"rr", `0.5`}, {"rr", `0.30000000000000004`}, {"rmin", `-3`}, {"rmin", `-2.5`},
	{"rmax", `1e11`}, {"rmax", `12345678901.5`},
	// boolean
	{"b", `true`}, {"b", `false`}, {"b", `1`}, {"b", `"true"`}, {"bset", `["set",[true,false]]`},
	{"bset", `["set",[true,true]]`},
	// string
	{"s", `""`}, {"s", `"hello"`}, {"s", `1`}, {"s", `["set",["a"]]`}, {"s", `"\u00e9\u4e2d"`},
	{"sl", `"a"`}, {"sl", `"ab"`}, {"sl", `"abcde"`}, {"sl", `"\u00e9\u00e9\u00e9\u00e9\u00e9"`}, {"sl", `"\u00e9\u00e9\u00e9\u00e9"`},
	{"sl", `"a\"b\u0001"`},
	{"e", `"red"`}, {"e", `"blue"`}, {"e", `""`}, {"e", `"true"`}, {"e", `"a b"`}, {"e", `["set",["red","green"]]`},
	{"e", `["set",["red","nope"]]`}, {"e1", `"x"`}, {"e1", `"only"`}, {"ei", `7`}, {"ei", `2`}, {"er", `1.5`},
	{"er", `2`}, {"er", `2.5`},
	// uuid
	{"u", `"x"`}, {"u", `["uuid","zz"]`}, {"u", `["uuid","01234567-89ab-cdef-0123-456789abcdef"]`},
	{"u", `["uuid","01234567-89AB-CDEF-0123-456789ABCDEF"]`}, {"u", `["UUID","01234567-89ab-cdef-0123-456789abcdef"]`},
	{"u", `["named-uuid","1x"]`}, {"u", `["named-uuid",1]`}, {"u", `["uuid"]`}, {"u", `["uuid","01234567-89ab-cdef-0123-456789abcde"]`},
	{"u", `["uuid","01234567+89ab-cdef-0123-456789abcdef"]`}, {"u", `["named-uuid","x_1"]`},
	{"uset", `["set",[["uuid","01234567-89ab-cdef-0123-456789abcdef"],["uuid","00000000-89ab-cdef-0123-456789abcdef"]]]`},
	{"uset", `["set",[["uuid","01234567-89ab-cdef-0123-456789abcdef"],["uuid","01234567-89AB-cdef-0123-456789abcdef"]]]`},
	{"uset", `["uuid","01234567-89ab-cdef-0123-456789abcdef"]`},
	// sets
	{"set", `["set",[3,1,2]]`}, {"set", `["set",[1,2,3,4]]`}, {"set", `["set",[1,1]]`}, {"set", `["set",[]]`},
	{"set", `5`}, {"set", `["set",[1,"x",1]]`}, {"set", `["set",[1,2,2,"x"]]`}, {"set1", `["set",[]]`},
	{"set1", `["set",[2]]`}, {"sset", `["set",["b","a","b"]]`}, {"sset", `["set",["b","a","B",""]]`},
	{"sset", `["set",[]]`}, {"sset", `"set"`}, {"sset", `["set"]`}, {"sset", `["set",["set"]]`},
	{"rset", `["set",[2,1.5,-1e10,0.1]]`}, {"rset", `["set",[1,1.0]]`},
	{"opt", `["set",["a","b"]]`}, {"opt", `["set",[]]`}, {"opt", `"a"`},
	// maps
	{"m", `["map",[["b",2],["a",1]]]`}, {"m", `["map",[["a",1],["a",2]]]`}, {"m", `["map",[["a"]]]`},
	{"m", `"x"`}, {"m", `["set",[]]`}, {"m", `["map",{}]`}, {"m", `["map",[["a",1,2]]]`}, {"m", `["map",[[1,1]]]`},
	{"m", `["map",[["a","x"]]]`}, {"m", `["map",[]]`}, {"m", `["map",[["a",1]],1]`}, {"m", `["map",[5]]`},
	{"m2", `["map",[]]`}, {"m2", `["map",[[1,"abcd"]]]`}, {"m2", `["map",[[1,"a"],[2,"b"],[3,"c"]]]`},
	{"m2", `["map",[[2,"b"],[1,"a"]]]`},
	{"mu", `["map",[[["uuid","01234567-89ab-cdef-0123-456789abcdef"],1]]]`},
	{"mu", `["map",[[["named-uuid","x"],1]]]`},
}

func startDM(t *testing.T) (*Table, *jsonrpc.Client) {
	t.Helper()
	data, err := os.ReadFile("testdata/types.ovsschema")
	if err != nil {
		t.Fatal(err)
	}
	db, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	srv := refserver.Start(t, refserver.Options{Schemas: []string{"testdata/types.ovsschema"}})
	return db.Tables["A"], srv.Dial(t.Context())
}

func transact(t *testing.T, c *jsonrpc.Client, ops string) []any {
	t.Helper()
	return transactDB(t, c, "DM", ops)
}

func transactDB(t *testing.T, c *jsonrpc.Client, db, ops string) []any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	params := decodeJSON(t, []byte(`[`+strconv.Quote(db)+`,`+ops+`]`)).([]any)
	raw, err := c.Call(ctx, "transact", params...)
	if err != nil {
		t.Fatalf("transact %s: %v", ops, err)
	}
	return decodeJSON(t, raw).([]any)
}

// TestParseDatumMatchesServer compares ParseDatum with ovsdb-server's
// handling of the same JSON values in an insert.
func TestParseDatumMatchesServer(t *testing.T) {
	tbl, c := startDM(t)
	for i, tc := range valueCases {
		t.Run(fmt.Sprintf("%d_%s", i, tc.col), func(t *testing.T) {
			col := tbl.Columns[tc.col]
			if col == nil {
				t.Fatalf("no column %s", tc.col)
			}
			reply := transact(t, c, fmt.Sprintf(
				`{"op":"insert","table":"A","row":{%q:%s},"uuid-name":"row"},`+
					`{"op":"select","table":"A","where":[["_uuid","==",["named-uuid","row"]]],"columns":[%q]}`,
				tc.col, tc.value, tc.col))
			v := decodeJSON(t, []byte(tc.value))
			got, err := ovsdb.ParseDatum(col.Type, v, anySymbols{})
			first, _ := reply[0].(map[string]any)
			if _, failed := first["error"]; failed {
				if err == nil {
					t.Fatalf("value %s: server rejected it with %s, ParseDatum accepted %v", tc.value, canon(first), got)
				}
				if g, w := canon(ovsdb.AsError(err).JSON()), canon(first); g != w {
					t.Fatalf("value %s: error\n got: %s\nwant: %s", tc.value, g, w)
				}
				return
			}
			if err != nil {
				t.Fatalf("value %s: server accepted it, ParseDatum: %v", tc.value, err)
			}
			if err := col.Type.CheckDatum(got); err != nil {
				t.Fatalf("accepted datum fails CheckDatum: %v", err)
			}
			if strings.Contains(tc.value, "named-uuid") {
				return // the server's UUID is random
			}
			rows := reply[1].(map[string]any)["rows"].([]any)
			want := canon(rows[0].(map[string]any)[tc.col])
			if g := canon(ovsdb.DatumJSON(col.Type, got)); g != want {
				t.Fatalf("value %s: stored\n got: %s\nwant: %s", tc.value, g, want)
			}
		})
	}
	t.Logf("%d value cases compared with ovsdb-server", len(valueCases))
}

// TestCheckDatumMatchesServer compares CheckDatum with the errors
// ovsdb-server returns when a mutation leaves a column out of bounds.
func TestCheckDatumMatchesServer(t *testing.T) {
	tbl, c := startDM(t)
	i64 := func(xs ...int64) []ovsdb.Atom {
		out := make([]ovsdb.Atom, len(xs))
		for i, x := range xs {
			out[i] = x
		}
		return out
	}
	cases := []struct {
		name  string
		col   string
		init  string // the column's value on insert
		mut   string // mutation [mutator, value]
		after ovsdb.Datum
	}{
		{name: "set over max", col: "set", init: `["set",[1,2,3]]`, mut: `"insert",4`, after: ovsdb.NewSet(i64(1, 2, 3, 4)...)},
		{name: "set1 emptied", col: "set1", init: `["set",[2]]`, mut: `"delete",2`, after: ovsdb.NewSet()},
		{name: "map over max", col: "m2", init: `["map",[[1,"a"],[2,"b"]]]`, mut: `"insert",["map",[[3,"c"]]]`,
			after: ovsdb.NewMap(i64(1, 2, 3), []ovsdb.Atom{"a", "b", "c"})},
		{name: "opt over max", col: "opt", init: `"a"`, mut: `"insert","b"`, after: ovsdb.NewSet("a", "b")},
		{name: "integer range", col: "ir", init: `5`, mut: `"+=",20`, after: ovsdb.NewSet(int64(25))},
		{name: "integer min", col: "imin", init: `5`, mut: `"-=",1`, after: ovsdb.NewSet(int64(4))},
		{name: "real range", col: "rr", init: `5`, mut: `"*=",3`, after: ovsdb.NewSet(float64(15))},
		{name: "map value length", col: "m2", init: `["map",[[1,"a"]]]`, mut: `"insert",["map",[[2,"abcd"]]]`,
			after: ovsdb.NewMap(i64(1, 2), []ovsdb.Atom{"a", "abcd"})},
		{name: "sset ok", col: "sset", init: `["set",[]]`, mut: `"insert","a"`, after: ovsdb.NewSet("a")},
		{name: "m unlimited map", col: "m", init: `["map",[]]`, mut: `"insert",["map",[["a",1]]]`,
			after: ovsdb.NewMap([]ovsdb.Atom{"a"}, i64(1))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reply := transact(t, c, fmt.Sprintf(
				`{"op":"insert","table":"A","row":{%q:%s},"uuid-name":"row"},`+
					`{"op":"mutate","table":"A","where":[["_uuid","==",["named-uuid","row"]]],"mutations":[[%q,%s]]}`,
				tc.col, tc.init, tc.col, tc.mut))
			err := tbl.Columns[tc.col].Type.CheckDatum(tc.after)
			second, _ := reply[1].(map[string]any)
			if _, failed := second["error"]; !failed {
				if err != nil {
					t.Fatalf("server accepted the mutation (%s), CheckDatum: %v", canon(reply), err)
				}
				return
			}
			if err == nil {
				t.Fatalf("server rejected the mutation with %s, CheckDatum accepted", canon(second))
			}
			if g, w := canon(ovsdb.AsError(err).JSON()), canon(second); g != w {
				t.Fatalf("error\n got: %s\nwant: %s", g, w)
			}
		})
	}
}

// TestParseDatumMatchesServerNB sends bad values for constrained columns
// of the OVN Northbound ACL table; the first error is the column's, since
// a row's columns are parsed before defaults are checked.
func TestParseDatumMatchesServerNB(t *testing.T) {
	const nbPath = "/usr/share/ovn/ovn-nb.ovsschema"
	data, err := os.ReadFile(nbPath)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	c := refserver.Start(t, refserver.Options{Schemas: []string{nbPath}}).Dial(t.Context())
	acl := db.Tables["ACL"]
	cases := []struct{ col, value string }{
		{"priority", `32768`}, {"priority", `-1`}, {"priority", `1.5`}, {"priority", `"1"`},
		{"action", `"bogus"`}, {"action", `["set",[]]`}, {"action", `["set",["drop","allow"]]`},
		{"direction", `5`}, {"direction", `"inbound"`}, {"severity", `"x"`}, {"severity", `["set",["alert","info"]]`},
		{"name", `"` + strings.Repeat("n", 64) + `"`}, {"log", `"yes"`}, {"label", `4294967296`}, {"label", `-5`},
		{"external_ids", `["map",[["a","b"],["a","c"]]]`}, {"external_ids", `["map",[["a",1]]]`}, {"external_ids", `{"a":"b"}`},
		{"meter", `["set",["a","b"]]`},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d_%s", i, tc.col), func(t *testing.T) {
			reply := transactDB(t, c, db.Name, fmt.Sprintf(`{"op":"insert","table":"ACL","row":{%q:%s}}`, tc.col, tc.value))
			first, _ := reply[0].(map[string]any)
			if _, failed := first["error"]; !failed {
				t.Fatalf("server accepted %s = %s: %s", tc.col, tc.value, canon(reply))
			}
			_, err := ovsdb.ParseDatum(acl.Columns[tc.col].Type, decodeJSON(t, []byte(tc.value)), nil)
			if err == nil {
				t.Fatalf("ParseDatum accepted %s = %s; server: %s", tc.col, tc.value, canon(first))
			}
			if g, w := canon(ovsdb.AsError(err).JSON()), canon(first); g != w {
				t.Fatalf("error\n got: %s\nwant: %s", g, w)
			}
		})
	}
}
