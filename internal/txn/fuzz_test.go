package txn_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/txn"
)

// FuzzCondition parses arbitrary JSON as a condition on every table of the
// test schema and matches it against a few rows: no panic, and a parsed
// condition always evaluates.
func FuzzCondition(f *testing.F) {
	for _, seed := range []string{
		`[]`, `[true]`, `[false]`, `[["n","<",5]]`, `[["tags","includes",["set",["a","b"]]]]`,
		`[["ext","excludes",["map",[["k","v"]]]]]`, `[["_uuid","==",["uuid","01000000-0000-0000-0000-000000000000"]]]`,
		`[["_version","!=",["uuid","01000000-0000-0000-0000-000000000000"]]]`, `[["r",">=",1.5],["name","==","x"]]`,
		`[["kids","excludes",["set",[]]]]`, `[["n","<",["set",[]]]]`, `[["weak","==",["named-uuid","a"]]]`,
		`[["nope","==",1]]`, `[[1,2,3]]`, `["x"]`, `{}`,
	} {
		f.Add([]byte(seed))
	}
	s, err := schema.Parse([]byte(testSchema))
	if err != nil {
		f.Fatal(err)
	}
	rows := []ovsdb.Row{
		{"name": ovsdb.NewSet("x"), "n": ovsdb.NewSet(int64(5)), "r": ovsdb.NewSet(1.5), "tags": ovsdb.NewSet("a"),
			"ext": ovsdb.NewMap([]ovsdb.Atom{"k"}, []ovsdb.Atom{"v"}), "kids": ovsdb.NewSet(), "weak": ovsdb.NewSet(ovsdb.UUID{2}),
			"fixed": ovsdb.NewSet(int64(0)), "_version": ovsdb.NewSet(ovsdb.UUID{3})},
		{},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := json.NewDecoder(strings.NewReader(string(data)))
		d.UseNumber()
		var v any
		if d.Decode(&v) != nil {
			return
		}
		for _, name := range s.TableNames {
			c, err := txn.ParseCondition(s.Tables[name], v)
			if err != nil {
				if c != nil {
					t.Fatalf("condition %s: both a condition and error %v", data, err)
				}
				var oe *ovsdb.Error
				if !errors.As(err, &oe) {
					t.Fatalf("condition %s: error %v is not an OVSDB error", data, err)
				}
				continue
			}
			for _, row := range rows {
				c.Match(ovsdb.UUID{1}, row)
			}
		}
	})
}

// FuzzExecuteJSON runs arbitrary JSON as a transaction: no panic, and a
// transaction that fails leaves the database unchanged.
func FuzzExecuteJSON(f *testing.F) {
	for _, seed := range []string{
		`[{"op":"insert","table":"Root","row":{"name":"a","n":1}}]`,
		`[{"op":"insert","table":"Root","row":{"name":"a","kids":["named-uuid","k"]}},{"op":"insert","table":"Kid","uuid-name":"k","row":{"name":"k"}}]`,
		`[{"op":"mutate","table":"Root","where":[],"mutations":[["n","+=",200]]}]`,
		`[{"op":"update","table":"Root","where":[["name","==","a"]],"row":{"tags":["set",["x","y"]]}}]`,
		`[{"op":"delete","table":"Kid","where":[]},{"op":"select","table":"Root","where":[true],"columns":["name"],"sort":["name"]}]`,
		`[{"op":"wait","table":"Few","timeout":0,"where":[],"until":"==","rows":[]}]`,
		`[{"op":"insert","table":"Few","row":{}},{"op":"insert","table":"Few","row":{}}]`,
		`[{"op":"comment","comment":"x"},{"op":"assert","lock":"l"},{"op":"abort"}]`,
		`[1,{"op":7},{"op":"select"}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := json.NewDecoder(strings.NewReader(string(data)))
		d.UseNumber()
		var ops []any
		if d.Decode(&ops) != nil {
			return
		}
		db := newDB(t)
		seed := decode(t, `[{"op":"insert","table":"Root","row":{"name":"a","kids":["named-uuid","k"],"weak":["named-uuid","k"]}},{"op":"insert","table":"Kid","uuid-name":"k","row":{"name":"k"}}]`)
		txn.Execute(db, seed, txn.Options{NewUUID: seqUUIDs()})
		before := dump(db)
		res := txn.Execute(db, ops, txn.Options{NewUUID: seqUUIDs(), WaitExpired: true})
		checkResult(t, db, before, res)
	})
}

// checkResult checks the invariants of one Execute: a reply is always
// JSON; a failed transaction changes nothing; a successful one's changes
// are what the database now holds.
func checkResult(t *testing.T, db *txn.Database, before string, res txn.Result) {
	t.Helper()
	if res.Blocked {
		t.Fatalf("blocked with WaitExpired set")
	}
	b, err := json.Marshal(res.Reply)
	if err != nil {
		t.Fatalf("reply does not marshal: %v", err)
	}
	if strings.Contains(string(b), `"error":`) {
		if after := dump(db); after != before {
			t.Fatalf("failed transaction %s changed the database", b)
		}
		if len(res.Changes) != 0 {
			t.Fatalf("failed transaction %s returned changes", b)
		}
		return
	}
	for _, ch := range res.Changes {
		got := db.Get(ch.Table, ch.UUID)
		if ch.New == nil {
			if got != nil {
				t.Fatalf("deleted row %s %s still present", ch.Table, ch.UUID)
			}
			continue
		}
		// New may leave out columns holding their defaults.
		want := make(ovsdb.Row, len(got))
		for name, c := range db.Schema().Tables[ch.Table].Columns {
			if d, ok := ch.New[name]; ok {
				want[name] = d
			} else if name != "_uuid" {
				want[name] = ovsdb.DefaultDatum(c.Type)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("row %s %s is %v, change says %v", ch.Table, ch.UUID, got, ch.New)
		}
	}
}

// FuzzExecute drives random transactions, built from the fuzz input, on
// the test schema. Besides checkResult's invariants it checks the
// incremental state (indexes, reference counts, weak-reference sources):
// each next transaction must give the same reply on the database and on a
// copy reloaded from its rows with Put.
func FuzzExecute(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte("insert kids and delete them, then mutate everything"))
	f.Add([]byte{9, 9, 9, 1, 1, 1, 5, 5, 5, 2, 200, 7, 3, 3, 0, 0, 4, 4, 250, 6})
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &gen{data: data}
		db := newDB(t)
		uuids := seqUUIDs()
		for txnNo := 0; txnNo < 6 && !g.done(); txnNo++ {
			ops := g.txn(db)
			// Reload a copy and run the same transaction on both with the
			// same UUIDs.
			copyDB := newDB(t)
			for _, name := range db.Schema().TableNames {
				db.Range(name, func(u ovsdb.UUID, row ovsdb.Row) bool {
					if err := copyDB.Put(name, u, row); err != nil {
						t.Fatal(err)
					}
					return true
				})
			}
			before := dump(db)
			seqA := uuids
			var issued []ovsdb.UUID
			rec := func() ovsdb.UUID { u := seqA(); issued = append(issued, u); return u }
			res := txn.Execute(db, ops, txn.Options{NewUUID: rec, WaitExpired: true})
			checkResult(t, db, before, res)
			i := 0
			replay := func() ovsdb.UUID {
				if i < len(issued) {
					i++
					return issued[i-1]
				}
				return ovsdb.UUID{0xff, byte(i)}
			}
			res2 := txn.Execute(copyDB, ops, txn.Options{NewUUID: replay, WaitExpired: true})
			// The copy's rows are in another order, which may change which
			// of several errors is reported, but not whether the
			// transaction fails, nor the outcome.
			r1, _ := json.Marshal(withoutDetails(res.Reply))
			r2, _ := json.Marshal(withoutDetails(res2.Reply))
			// _version UUIDs are handed out in row order: compare without.
			if d1, d2 := dumpContent(db), dumpContent(copyDB); string(r1) != string(r2) || d1 != d2 {
				opsJSON, _ := json.Marshal(ops)
				t.Fatalf("transaction %s\non the database: %s\n%s\non its reloaded copy: %s\n%s", opsJSON, r1, d1, r2, d2)
			}
		}
	})
}

// gen turns fuzz bytes into transactions.
type gen struct {
	data []byte
	pos  int
}

func (g *gen) done() bool { return g.pos >= len(g.data) }

func (g *gen) next(n int) int {
	if g.pos >= len(g.data) || n <= 0 {
		return 0
	}
	b := g.data[g.pos]
	g.pos++
	return int(b) % n
}

var fuzzNames = []string{"a", "b", "c", "d"}

// existingKid returns a reference to a Kid row: an existing one, a
// named-uuid that may or may not be defined, or one to no row.
func (g *gen) existingKid(db *txn.Database) any {
	var us []ovsdb.UUID
	db.Range("Kid", func(u ovsdb.UUID, _ ovsdb.Row) bool { us = append(us, u); return len(us) < 8 })
	k := g.next(len(us) + 2)
	switch {
	case k < len(us):
		return []any{"uuid", us[k].String()}
	case k == len(us):
		return []any{"named-uuid", "k" + fmt.Sprint(g.next(3))}
	}
	return []any{"uuid", "00000000-0000-4000-8000-00000000dead"}
}

func (g *gen) txn(db *txn.Database) []any {
	n := 1 + g.next(5)
	ops := make([]any, 0, n)
	for i := 0; i < n; i++ {
		name := fuzzNames[g.next(len(fuzzNames))]
		where := []any{[]any{"name", "==", name}}
		if g.next(4) == 0 {
			where = []any{}
		}
		var op map[string]any
		switch g.next(11) {
		case 0, 1:
			row := map[string]any{"name": name, "n": json.Number(fmt.Sprint(g.next(110)))}
			if g.next(2) == 0 {
				row["kids"] = []any{"set", []any{g.existingKid(db)}}
			}
			if g.next(2) == 0 {
				row["weak"] = g.existingKid(db)
			}
			op = map[string]any{"op": "insert", "table": "Root", "row": row}
		case 2, 3:
			row := map[string]any{"name": name}
			if g.next(2) == 0 {
				row["sub"] = g.existingKid(db)
			}
			op = map[string]any{"op": "insert", "table": "Kid", "row": row, "uuid-name": "k" + fmt.Sprint(g.next(3))}
		case 4:
			op = map[string]any{"op": "update", "table": "Root", "where": where,
				"row": map[string]any{"kids": []any{"set", []any{}}, "name": fuzzNames[g.next(len(fuzzNames))]}}
		case 5:
			muts := []any{
				[]any{"n", []string{"+=", "-=", "*=", "/=", "%="}[g.next(5)], json.Number(fmt.Sprint(g.next(7) - 2))},
				[]any{"tags", []string{"insert", "delete"}[g.next(2)], []any{"set", []any{fuzzNames[g.next(4)]}}},
				[]any{"kids", "insert", g.existingKid(db)},
			}
			op = map[string]any{"op": "mutate", "table": "Root", "where": where, "mutations": muts[:1+g.next(3)]}
		case 6:
			op = map[string]any{"op": "delete", "table": []string{"Root", "Kid"}[g.next(2)], "where": where}
		case 7:
			op = map[string]any{"op": "select", "table": "Root", "where": where, "columns": []any{"name", "n", "kids", "weak"}}
		case 8:
			op = map[string]any{"op": "wait", "table": "Kid", "where": where, "timeout": json.Number("0"),
				"until": []string{"==", "!="}[g.next(2)], "rows": []any{}}
		case 9:
			op = map[string]any{"op": "insert", "table": "Few", "row": map[string]any{}}
		default:
			op = map[string]any{"op": "delete", "table": "Few", "where": []any{}}
		}
		ops = append(ops, op)
	}
	return ops
}

// withoutDetails drops the error details of a reply.
//
// It also puts the rows of a select in text order: when a select with
// "columns" finds rows equal in them, which one it keeps depends on the
// table's row order, which a reload changes, and that row's other
// columns decide where it sorts (ovsdb-server, restarted, differs
// likewise; difftest_test.go normalizes row order too).
func withoutDetails(reply []any) []any {
	out := make([]any, len(reply))
	for i, r := range reply {
		if m, ok := r.(map[string]any); ok && m["error"] != nil {
			r = map[string]any{"error": m["error"]}
		}
		if m, ok := r.(map[string]any); ok {
			if rows, ok := m["rows"].([]any); ok {
				texts := make([]string, len(rows))
				for j, row := range rows {
					b, _ := json.Marshal(row)
					texts[j] = string(b)
				}
				sort.Strings(texts)
				r = map[string]any{"rows": texts}
			}
		}
		out[i] = r
	}
	return out
}

// dumpContent is dump without "_version".
func dumpContent(db *txn.Database) string {
	var lines []string
	for _, name := range db.Schema().TableNames {
		db.Range(name, func(u ovsdb.UUID, row ovsdb.Row) bool {
			r := make(ovsdb.Row, len(row))
			for k, v := range row {
				if k != "_version" {
					r[k] = v
				}
			}
			lines = append(lines, fmt.Sprintf("%s %s %v\n", name, u, r))
			return true
		})
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}
