package txn_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/txn"
)

const nbSchemaPath = "/usr/share/ovn/ovn-nb.ovsschema"

func nbDatabase(b *testing.B) *txn.Database {
	b.Helper()
	data, err := os.ReadFile(nbSchemaPath)
	if err != nil {
		b.Fatalf("read the OVN NB schema (apt-get install -y ovn-common): %v", err)
	}
	s, err := schema.Parse(data)
	if err != nil {
		b.Fatalf("parse %s: %v", nbSchemaPath, err)
	}
	return txn.NewDatabase(s)
}

// mustOK fails on an error in a reply.
func mustOK(b *testing.B, res txn.Result) {
	b.Helper()
	for _, r := range res.Reply {
		if m, ok := r.(map[string]any); ok && m["error"] != nil {
			out, _ := json.Marshal(res.Reply)
			b.Fatalf("transaction failed: %s", out)
		}
	}
}

func switchWithPorts(i, ports int) []any {
	var refs []any
	var ops []any
	for p := 0; p < ports; p++ {
		name := fmt.Sprintf("lsp%d_%d", i, p)
		refs = append(refs, []any{"named-uuid", fmt.Sprintf("p%d", p)})
		ops = append(ops, map[string]any{"op": "insert", "table": "Logical_Switch_Port", "uuid-name": fmt.Sprintf("p%d", p),
			"row": map[string]any{
				"name":         name,
				"addresses":    []any{"set", []any{fmt.Sprintf("0a:00:00:%02x:%02x:%02x 10.%d.%d.%d", i>>16&255, i>>8&255, p, i>>8&255, i&255, p)}},
				"external_ids": []any{"map", []any{[]any{"owner", fmt.Sprintf("pod-%d-%d", i, p)}}},
				"options":      []any{"map", []any{[]any{"requested-chassis", "node1"}}},
			}})
	}
	ls := map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{
		"name":         fmt.Sprintf("ls%d", i),
		"ports":        []any{"set", refs},
		"external_ids": []any{"map", []any{[]any{"k8s", "yes"}}},
	}}
	return append([]any{ls}, ops...)
}

// BenchmarkInsertSwitchWithPorts: one Logical_Switch with 4 ports per
// transaction, into a database that keeps growing.
func BenchmarkInsertSwitchWithPorts(b *testing.B) {
	db := nbDatabase(b)
	txns := make([][]any, b.N)
	for i := range txns {
		txns[i] = switchWithPorts(i, 4)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mustOK(b, txn.Execute(db, txns[i], txn.Options{}))
	}
}

// BenchmarkInsert100Rows: 100 ports added to one switch per transaction.
func BenchmarkInsert100Rows(b *testing.B) {
	db := nbDatabase(b)
	txns := make([][]any, b.N)
	for i := range txns {
		ops := switchWithPorts(i, 99)
		txns[i] = ops
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mustOK(b, txn.Execute(db, txns[i], txn.Options{}))
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkSelect100k: selects with conditions over 100,000
// Logical_Switch_Port rows (1,000 switches of 100 ports each).
func BenchmarkSelect100k(b *testing.B) {
	db := nbDatabase(b)
	for i := 0; i < 1000; i++ {
		mustOK(b, txn.Execute(db, switchWithPorts(i, 100), txn.Options{}))
	}
	cases := []struct {
		name string
		op   string
	}{
		{"name-eq", `[{"op":"select","table":"Logical_Switch_Port","where":[["name","==","lsp500_50"]]}]`},
		{"map-includes", `[{"op":"select","table":"Logical_Switch_Port","where":[["external_ids","includes",["map",[["owner","pod-7-7"]]]]],"columns":["name"]}]`},
		{"two-clauses", `[{"op":"select","table":"Logical_Switch_Port","where":[["type","==",""],["name","!=","x"],["up","!=",true]],"columns":["name"]}]`},
	}
	for _, c := range cases {
		ops := decode(b, c.op)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				mustOK(b, txn.Execute(db, ops, txn.Options{}))
			}
		})
	}
}

// benchPortTxn is the transaction of tools/ovsdb-bench's writers with one
// row per transaction: insert a Logical_Switch_Port and add it to the
// writer's switch with a "mutate" ... "insert" on its ports.
func benchPortTxn(switchUUID string, seq int) []any {
	return []any{
		map[string]any{"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p0",
			"row": map[string]any{"name": fmt.Sprintf("bench-port-%d", seq)}},
		map[string]any{"op": "mutate", "table": "Logical_Switch",
			"where":     []any{[]any{"_uuid", "==", []any{"uuid", switchUUID}}},
			"mutations": []any{[]any{"ports", "insert", []any{"set", []any{[]any{"named-uuid", "p0"}}}}}},
	}
}

// benchRowsTxn is tools/ovsdb-bench's transaction with rows rows: that
// many Logical_Switch_Ports, added to a new switch (switchUUID "") or to
// an existing one.
func benchRowsTxn(switchUUID string, seq, rows int) []any {
	ops := make([]any, 0, rows+1)
	refs := make([]any, rows)
	for k := range rows {
		un := fmt.Sprintf("p%d", k)
		ops = append(ops, map[string]any{"op": "insert", "table": "Logical_Switch_Port", "uuid-name": un,
			"row": map[string]any{"name": fmt.Sprintf("bench-%d-%d", seq, k)}})
		refs[k] = []any{"named-uuid", un}
	}
	ports := []any{"set", refs}
	if switchUUID == "" {
		return append(ops, map[string]any{"op": "insert", "table": "Logical_Switch",
			"row": map[string]any{"name": fmt.Sprintf("bench-sw-%d", seq), "ports": ports}})
	}
	return append(ops, map[string]any{"op": "mutate", "table": "Logical_Switch",
		"where":     []any{[]any{"_uuid", "==", []any{"uuid", switchUUID}}},
		"mutations": []any{[]any{"ports", "insert", ports}}})
}

// replyUUID returns the UUID an insert answered with.
func replyUUID(b *testing.B, res txn.Result, i int) string {
	b.Helper()
	mustOK(b, res)
	m, _ := res.Reply[i].(map[string]any)
	u, _ := m["uuid"].([]any)
	if len(u) != 2 {
		b.Fatalf("reply %d has no uuid: %v", i, res.Reply)
	}
	return u[1].(string)
}

// BenchmarkPortToSwitch is issue 6's 64-writer transaction at the
// executor: insert one port and mutate its switch's ports with "insert",
// on a switch of 100 to 200 ports (the added ports are removed, and
// garbage collected, every 100 transactions, outside the timing).
func BenchmarkPortToSwitch(b *testing.B) {
	const base, grow = 100, 100
	db := nbDatabase(b)
	sw := replyUUID(b, txn.Execute(db, benchRowsTxn("", -1, base), txn.Options{}), base)
	var added []any
	txns := make([][]any, grow)
	seq := 0
	refill := func() {
		if len(added) > 0 {
			mustOK(b, txn.Execute(db, []any{map[string]any{"op": "mutate", "table": "Logical_Switch",
				"where":     []any{[]any{"_uuid", "==", []any{"uuid", sw}}},
				"mutations": []any{[]any{"ports", "delete", []any{"set", added}}}}}, txn.Options{}))
			added = added[:0]
		}
		for i := range txns {
			txns[i] = benchPortTxn(sw, seq)
			seq++
		}
	}
	refill()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == grow {
			b.StopTimer()
			refill()
			i = 0
			b.StartTimer()
		}
		res := txn.Execute(db, txns[i], txn.Options{})
		added = append(added, []any{"uuid", replyUUID(b, res, 0)})
		i++
	}
}

// BenchmarkRows100 is issue 6's 100-row transaction at the executor: 100
// Logical_Switch_Ports added to a switch, which every other transaction
// creates (as tools/ovsdb-bench's writers do), into a growing database.
func BenchmarkRows100(b *testing.B) {
	const rows, chunk = 100, 32
	db := nbDatabase(b)
	// Each pair is a switch's insert, then the mutate that adds ports to
	// it, whose "where" gets the switch's UUID once known.
	type pair struct {
		insert, mutate []any
		where          []any
	}
	var pairs []pair
	seq := 0
	var cur pair
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			if len(pairs) == 0 {
				b.StopTimer()
				for range chunk {
					p := pair{insert: benchRowsTxn("", seq, rows), mutate: benchRowsTxn("?", seq+1, rows)}
					m := p.mutate[rows].(map[string]any)
					p.where = m["where"].([]any)[0].([]any)[2].([]any)
					pairs = append(pairs, p)
					seq += 2
				}
				b.StartTimer()
			}
			cur, pairs = pairs[0], pairs[1:]
			cur.where[1] = replyUUID(b, txn.Execute(db, cur.insert, txn.Options{}), rows)
			continue
		}
		mustOK(b, txn.Execute(db, cur.mutate, txn.Options{}))
	}
	b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
}
