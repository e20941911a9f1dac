package txn_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/txn"
)

// testSchema has a root table with every kind of reference, a non-root
// child table with an index, and a table with maxRows.
const testSchema = `{"name":"T","version":"1.0.0","tables":{
 "Root":{"isRoot":true,"columns":{
   "name":{"type":"string"},
   "n":{"type":{"key":{"type":"integer","minInteger":0,"maxInteger":100}}},
   "r":{"type":"real"},
   "tags":{"type":{"key":"string","min":0,"max":"unlimited"}},
   "ext":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},
   "kids":{"type":{"key":{"type":"uuid","refTable":"Kid"},"min":0,"max":"unlimited"}},
   "weak":{"type":{"key":{"type":"uuid","refTable":"Kid","refType":"weak"},"min":0,"max":"unlimited"}},
   "fixed":{"type":"integer","mutable":false}},
  "indexes":[["name"]]},
 "Kid":{"columns":{"name":{"type":"string"},"sub":{"type":{"key":{"type":"uuid","refTable":"Kid"},"min":0,"max":"unlimited"}}},"indexes":[["name"]]},
 "Few":{"isRoot":true,"maxRows":1,"columns":{"x":{"type":"integer"}}}
}}`

// newDB returns an empty database of testSchema.
func newDB(t testing.TB) *txn.Database {
	t.Helper()
	s, err := schema.Parse([]byte(testSchema))
	if err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	return txn.NewDatabase(s)
}

// seqUUIDs returns a deterministic UUID generator.
func seqUUIDs() func() ovsdb.UUID {
	var n uint64
	return func() ovsdb.UUID {
		n++
		var u ovsdb.UUID
		for i := 0; i < 8; i++ {
			u[15-i] = byte(n >> (8 * i))
		}
		u[6] = 0x40
		return u
	}
}

func decode(t testing.TB, s string) []any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v []any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

// replyText renders a reply with encoding/json after normalizing it
// through a decode, for comparison with expected text.
func replyText(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal reply: %v", err)
	}
	return string(b)
}

// dump renders every row of every table, sorted, for "unchanged" checks
// (a failed transaction may change the order of rows, as in ovsdb-server,
// but never their content).
func dump(db *txn.Database) string {
	var lines []string
	for _, name := range db.Schema().TableNames {
		db.Range(name, func(u ovsdb.UUID, row ovsdb.Row) bool {
			lines = append(lines, fmt.Sprintf("%s %s %v\n", name, u, row))
			return true
		})
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}

type step struct {
	ops  string
	want string // substring expected in the reply text
}

func TestExecute(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{{
		name: "insert select update mutate delete",
		steps: []step{
			{`[{"op":"insert","table":"Root","row":{"name":"a","n":1,"tags":["set",["x"]]},"uuid-name":"a"},
			   {"op":"select","table":"Root","where":[["name","==","a"]],"columns":["n","tags"]}]`,
				`[{"uuid":["uuid","00000000-0000-4000-0000-000000000001"]},{"rows":[{"n":1,"tags":"x"}]}]`},
			{`[{"op":"update","table":"Root","where":[["name","==","a"]],"row":{"n":2}},
			   {"op":"mutate","table":"Root","where":[],"mutations":[["n","*=",3],["tags","insert",["set",["y"]]],["ext","insert",["map",[["k","v"]]]]]},
			   {"op":"select","table":"Root","where":[["n",">",5]],"columns":["n","tags","ext"]}]`,
				`[{"count":1},{"count":1},{"rows":[{"ext":["map",[["k","v"]]],"n":6,"tags":["set",["x","y"]]}]}]`},
			{`[{"op":"delete","table":"Root","where":[["n","==",6]]},{"op":"select","table":"Root","where":[]}]`,
				`[{"count":1},{"rows":[]}]`},
		},
	}, {
		name: "errors: null after the failing op, commit errors appended",
		steps: []step{
			{`[{"op":"insert","table":"Root","row":{"name":"a"}},{"op":"abort"},{"op":"select","table":"Root","where":[]}]`,
				`{"details":"aborted by request","error":"aborted"},null]`},
			{`[{"op":"insert","table":"Root","row":{"name":"a"}},{"op":"insert","table":"Root","row":{"name":"a"}}]`,
				`"error":"constraint violation"}]`},
			{`[{"op":"mutate","table":"Root","where":[],"mutations":[["fixed","+=",1]]}]`, `Cannot mutate immutable column fixed in table Root.`},
			{`[{"op":"insert","table":"Root","row":{"n":101}}]`, `101 is not in the valid range 0 to 100 (inclusive)`},
			{`[{"op":"frob"}]`, `Parsing ovsdb operation 1 of 1 failed: No operation \"frob\"`},
			{`[{"op":"select","table":"Nope","where":[]}]`, `No table named Nope.`},
			{`[{"op":"select","table":"Root","where":[],"extra":1}]`, `Member 'extra' is present but not allowed here.`},
			{`[{"op":"assert","lock":"l1"}]`, `"details":"Asserted lock l1 not held.","error":"not owner"`},
		},
	}, {
		name: "references: integrity, garbage collection, weak references",
		steps: []step{
			{`[{"op":"insert","table":"Root","row":{"name":"r","kids":["named-uuid","k"],"weak":["named-uuid","k"]}},
			   {"op":"insert","table":"Kid","uuid-name":"k","row":{"name":"k1"}}]`, `[{"uuid":`},
			{`[{"op":"delete","table":"Kid","where":[]}]`, `because of 1 remaining reference(s)`},
			{`[{"op":"insert","table":"Root","row":{"name":"bad","kids":["uuid","00000000-0000-4000-0000-0000000000ff"]}}]`,
				`references nonexistent row 00000000-0000-4000-0000-0000000000ff in table Kid.`},
			{`[{"op":"insert","table":"Kid","row":{"name":"orphan"}},{"op":"select","table":"Kid","where":[],"columns":["name"]}]`,
				`{"rows":[{"name":"k1"},{"name":"orphan"}]}`},
			{`[{"op":"select","table":"Kid","where":[],"columns":["name"]}]`, `[{"rows":[{"name":"k1"}]}]`},
			{`[{"op":"update","table":"Root","where":[],"row":{"kids":["set",[]]}},{"op":"select","table":"Kid","where":[]}]`, `{"count":1},{"rows":[{`},
			// Like ovsdb-server, a weak reference whose target is garbage
			// collected in the transaction that modified the referrer
			// first is kept (assess_weak_refs visits the referrer first).
			{`[{"op":"select","table":"Kid","where":[]},{"op":"select","table":"Root","where":[],"columns":["weak"]}]`,
				`[{"rows":[]},{"rows":[{"weak":["uuid","00000000-0000-4000-0000-000000000002"]}]}]`},
			{`[{"op":"insert","table":"Kid","row":{"name":"k2"},"uuid-name":"k2"},{"op":"insert","table":"Root","row":{"name":"r2","kids":["named-uuid","k2"],"weak":["named-uuid","k2"]}}]`, `[{"uuid":`},
			{`[{"op":"delete","table":"Root","where":[["name","==","r"]]},{"op":"delete","table":"Kid","where":[["name","==","k2"]]}]`, `remaining reference(s)`},
			{`[{"op":"insert","table":"Root","row":{"name":"r3","weak":["named-uuid","k2"]}},{"op":"delete","table":"Root","where":[["name","==","r2"]]},{"op":"select","table":"Root","where":[["name","==","r3"]],"columns":["weak"]}]`,
				`{"count":1},{"rows":[{"weak":["uuid","00000000-0000-4000-0000-00000000000f"]}]}]`},
			{`[{"op":"select","table":"Root","where":[],"columns":["name","weak"]},{"op":"select","table":"Kid","where":[]}]`,
				`[{"rows":[{"name":"r","weak":["uuid","00000000-0000-4000-0000-000000000002"]},{"name":"r3","weak":["set",[]]}]},{"rows":[]}]`},
		},
	}, {
		name: "maxRows and wait",
		steps: []step{
			{`[{"op":"insert","table":"Few","row":{"x":1}},{"op":"insert","table":"Few","row":{"x":2}}]`,
				`transaction causes \"Few\" table to contain 2 rows, greater than the schema-defined limit of 1 row(s)`},
			{`[{"op":"wait","table":"Few","timeout":0,"where":[],"until":"==","rows":[{"x":1}],"columns":["x"]}]`,
				`"details":"\"where\" clause test failed","error":"timed out"`},
			{`[{"op":"wait","table":"Few","timeout":0,"where":[],"until":"==","rows":[],"columns":["x"]},{"op":"comment","comment":"hi"},{"op":"commit","durable":true}]`,
				`[{},{},{}]`},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := newDB(t)
			opts := txn.Options{NewUUID: seqUUIDs()}
			for i, st := range tc.steps {
				before := dump(db)
				res := txn.Execute(db, decode(t, st.ops), opts)
				got := replyText(t, res.Reply)
				if !strings.Contains(got, st.want) {
					t.Fatalf("step %d: reply %s\nwant it to contain %s", i, got, st.want)
				}
				if strings.Contains(got, `"error"`) {
					if after := dump(db); after != before {
						t.Fatalf("step %d: failed transaction changed the database:\nbefore %s\nafter %s", i, before, after)
					}
					if len(res.Changes) != 0 {
						t.Fatalf("step %d: failed transaction returned changes %v", i, res.Changes)
					}
				}
			}
		})
	}
}

func TestChangesAndVersions(t *testing.T) {
	db := newDB(t)
	opts := txn.Options{NewUUID: seqUUIDs()}
	res := txn.Execute(db, decode(t, `[{"op":"insert","table":"Root","row":{"name":"a"}},{"op":"comment","comment":"c1"},{"op":"commit","durable":true}]`), opts)
	if len(res.Changes) != 1 || res.Changes[0].Old != nil || res.Changes[0].New == nil {
		t.Fatalf("insert changes = %+v", res.Changes)
	}
	if !reflect.DeepEqual(res.Comments, []string{"c1"}) || !res.Durable {
		t.Fatalf("comments %v durable %v", res.Comments, res.Durable)
	}
	u := res.Changes[0].UUID
	v1 := db.Get("Root", u)["_version"]

	// An update to the same value changes nothing and keeps _version.
	res = txn.Execute(db, decode(t, `[{"op":"update","table":"Root","where":[],"row":{"name":"a"}}]`), opts)
	if len(res.Changes) != 0 {
		t.Fatalf("no-op update changes = %+v", res.Changes)
	}
	if !db.Get("Root", u)["_version"].Equal(v1) {
		t.Fatal("_version changed on a no-op update")
	}
	res = txn.Execute(db, decode(t, `[{"op":"update","table":"Root","where":[],"row":{"name":"b"}}]`), opts)
	if len(res.Changes) != 1 || res.Changes[0].Old["name"].Keys[0] != "a" || res.Changes[0].New["name"].Keys[0] != "b" {
		t.Fatalf("update changes = %+v", res.Changes)
	}
	if db.Get("Root", u)["_version"].Equal(v1) {
		t.Fatal("_version not bumped on a real change")
	}
	res = txn.Execute(db, decode(t, `[{"op":"delete","table":"Root","where":[]}]`), opts)
	if len(res.Changes) != 1 || res.Changes[0].New != nil || db.Get("Root", u) != nil {
		t.Fatalf("delete changes = %+v", res.Changes)
	}
}

func TestWaitBlocks(t *testing.T) {
	db := newDB(t)
	ops := decode(t, `[{"op":"wait","table":"Few","timeout":500,"where":[],"until":"!=","rows":[]}]`)
	res := txn.Execute(db, ops, txn.Options{})
	if !res.Blocked || res.Reply != nil || res.BlockTimeoutMs != 500 {
		t.Fatalf("wait: %+v, want blocked with timeout 500", res)
	}
	// A satisfied wait with a shorter timeout does not shorten the wait.
	res = txn.Execute(db, append(decode(t, `[{"op":"wait","table":"Few","timeout":10,"where":[],"until":"==","rows":[]}]`), ops...), txn.Options{})
	if !res.Blocked || res.BlockTimeoutMs != 500 {
		t.Fatalf("two waits: %+v, want blocked with timeout 500", res)
	}
	res = txn.Execute(db, ops, txn.Options{WaitExpired: true, ElapsedMs: 501})
	if got := replyText(t, res.Reply); got != `[{"details":"\"wait\" timed out after 501 ms","error":"timed out"}]` {
		t.Fatalf("expired wait reply %s", got)
	}
	txn.Execute(db, decode(t, `[{"op":"insert","table":"Few","row":{"x":1}}]`), txn.Options{})
	if res := txn.Execute(db, ops, txn.Options{}); res.Blocked || replyText(t, res.Reply) != `[{}]` {
		t.Fatalf("satisfied wait: %+v", res)
	}
}

func TestAssert(t *testing.T) {
	db := newDB(t)
	has := func(name string) bool { return name == "mine" }
	res := txn.Execute(db, decode(t, `[{"op":"assert","lock":"mine"}]`), txn.Options{HasLock: has})
	if got := replyText(t, res.Reply); got != `[{}]` {
		t.Fatalf("held lock: %s", got)
	}
}

func TestPutGetAndReload(t *testing.T) {
	db := newDB(t)
	opts := txn.Options{NewUUID: seqUUIDs()}
	res := txn.Execute(db, decode(t, `[{"op":"insert","table":"Root","row":{"name":"r","kids":["named-uuid","k"]}},{"op":"insert","table":"Kid","uuid-name":"k","row":{"name":"k1"}}]`), opts)
	if len(res.Changes) != 2 {
		t.Fatalf("changes %+v", res.Changes)
	}
	// Reload into a fresh database from the changes, children first: the
	// reference counts must not depend on load order.
	db2 := newDB(t)
	for i := len(res.Changes) - 1; i >= 0; i-- {
		ch := res.Changes[i]
		if err := db2.Put(ch.Table, ch.UUID, ch.New); err != nil {
			t.Fatal(err)
		}
	}
	if dump(db2) != dump(db) {
		t.Fatalf("reloaded database differs:\n%s\nwant\n%s", dump(db2), dump(db))
	}
	out := txn.Execute(db2, decode(t, `[{"op":"delete","table":"Kid","where":[]}]`), opts)
	if got := replyText(t, out.Reply); !strings.Contains(got, "remaining reference") {
		t.Fatalf("delete of a referenced row after reload: %s", got)
	}
	if err := db2.Put("Nope", ovsdb.UUID{}, nil); err == nil {
		t.Fatal("Put into an unknown table succeeded")
	}
}

func TestDeterministic(t *testing.T) {
	ops := `[{"op":"insert","table":"Root","row":{"name":"a","kids":["set",[["named-uuid","x"],["named-uuid","y"]]]}},
	         {"op":"insert","table":"Kid","uuid-name":"x","row":{"name":"x"}},
	         {"op":"insert","table":"Kid","uuid-name":"y","row":{"name":"y","sub":["named-uuid","x"]}},
	         {"op":"select","table":"Kid","where":[]}]`
	var first string
	for i := 0; i < 3; i++ {
		db := newDB(t)
		res := txn.Execute(db, decode(t, ops), txn.Options{NewUUID: seqUUIDs()})
		got := replyText(t, res) + dump(db)
		if i == 0 {
			first = got
		} else if got != first {
			t.Fatalf("run %d differs:\n%s\nfirst:\n%s", i, got, first)
		}
	}
}

func TestCondition(t *testing.T) {
	s, err := schema.Parse([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	root := s.Tables["Root"]
	row := ovsdb.Row{
		"name": ovsdb.NewSet("a"), "n": ovsdb.NewSet(int64(5)), "r": ovsdb.NewSet(1.5),
		"tags": ovsdb.NewSet("x", "y"), "ext": ovsdb.NewMap([]ovsdb.Atom{"k"}, []ovsdb.Atom{"v"}),
		"kids": ovsdb.NewSet(), "weak": ovsdb.NewSet(), "fixed": ovsdb.NewSet(int64(0)),
	}
	u := ovsdb.UUID{1}
	yes, no := true, false
	tests := []struct {
		cond  string
		match bool
		any   *bool // MatchAny, when it is checked
		err   string
	}{
		{cond: `[["n","==",1],["n","==",5]]`, match: false, any: &yes},
		{cond: `[["n","==",1],false]`, match: false, any: &no},
		{cond: `[]`, match: true, any: &yes},
		{cond: `[true]`, match: true},
		{cond: `[false]`, match: false},
		{cond: `[["n","<",6],["n",">=",5],["r","<=",1.5]]`, match: true},
		{cond: `[["n","!=",5]]`, match: false},
		{cond: `[["tags","includes","x"]]`, match: true},
		{cond: `[["tags","includes",["set",["x","z"]]]]`, match: false},
		{cond: `[["tags","excludes",["set",["z","w"]]]]`, match: true},
		{cond: `[["tags","==",["set",["y","x"]]]]`, match: true},
		{cond: `[["ext","includes",["map",[["k","v"]]]]]`, match: true},
		{cond: `[["ext","includes",["map",[["k","w"]]]]]`, match: false},
		{cond: `[["ext","excludes",["map",[["k","w"]]]]]`, match: true},
		{cond: `[["_uuid","==",["uuid","01000000-0000-0000-0000-000000000000"]]]`, match: true},
		{cond: `[["tags","<","x"]]`, err: `Type mismatch: "<" operator may not be applied to column tags of type set of strings.`},
		{cond: `[["nope","==",1]]`, err: "No column nope in table Root."},
		{cond: `[["n","~",1]]`, err: "No function named ~."},
		{cond: `[["n","=="]]`, err: "Parse error in condition."},
		{cond: `[["kids","includes",["named-uuid","x"]]]`, err: "syntax error"},
	}
	for _, tc := range tests {
		t.Run(tc.cond, func(t *testing.T) {
			d := json.NewDecoder(strings.NewReader(tc.cond))
			d.UseNumber()
			var v any
			if err := d.Decode(&v); err != nil {
				t.Fatal(err)
			}
			c, err := txn.ParseCondition(root, v)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCondition: %v", err)
			}
			if got := c.Match(u, row); got != tc.match {
				t.Fatalf("Match = %v, want %v", got, tc.match)
			}
			if tc.any != nil {
				if got := c.MatchAny(u, row); got != *tc.any {
					t.Fatalf("MatchAny = %v, want %v", got, *tc.any)
				}
			}
		})
	}
}

func TestRevert(t *testing.T) {
	db := newDB(t)
	opts := txn.Options{NewUUID: seqUUIDs()}
	txn.Execute(db, decode(t, `[{"op":"insert","table":"Root","row":{"name":"r","kids":["named-uuid","k"],"weak":["named-uuid","k"]}},{"op":"insert","table":"Kid","uuid-name":"k","row":{"name":"k1"}}]`), opts)
	before := dump(db)
	var all [][]txn.RowChange
	for _, ops := range []string{
		`[{"op":"update","table":"Root","where":[],"row":{"kids":["set",[]],"name":"x"}}]`,
		`[{"op":"insert","table":"Root","row":{"name":"r2"}},{"op":"insert","table":"Few","row":{"x":1}}]`,
		`[{"op":"delete","table":"Root","where":[["name","==","x"]]}]`,
	} {
		res := txn.Execute(db, decode(t, ops), opts)
		if len(res.Changes) == 0 {
			t.Fatalf("%s: no changes: %s", ops, replyText(t, res.Reply))
		}
		all = append(all, res.Changes)
	}
	for i := len(all) - 1; i >= 0; i-- {
		db.Revert(all[i])
	}
	if after := dump(db); after != before {
		t.Fatalf("after Revert:\n%s\nwant\n%s", after, before)
	}
	// The reverted database still enforces its references and indexes.
	res := txn.Execute(db, decode(t, `[{"op":"delete","table":"Kid","where":[]},{"op":"insert","table":"Root","row":{"name":"r"}}]`), opts)
	if got := replyText(t, res.Reply); !strings.Contains(got, "remaining reference") {
		t.Fatalf("reverted reference counts: %s", got)
	}
	res = txn.Execute(db, decode(t, `[{"op":"insert","table":"Root","row":{"name":"r"}}]`), opts)
	if got := replyText(t, res.Reply); !strings.Contains(got, "identical values (r)") {
		t.Fatalf("reverted index: %s", got)
	}
	if err := db.Delete("Few", ovsdb.UUID{9}); err != nil {
		t.Fatal(err)
	}
	if err := db.Delete("Nope", ovsdb.UUID{9}); err == nil {
		t.Fatal("Delete in an unknown table succeeded")
	}
}
