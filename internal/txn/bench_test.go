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
