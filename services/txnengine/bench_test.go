package txnengine

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/txn"
)

// BenchmarkBatchBuild measures turning one 100-row transaction's changes
// into etcd ops (encode and coalesce), the commit loop's per-batch cost
// besides execution.
func BenchmarkBatchBuild(b *testing.B) {
	s, err := schema.Parse(fmt.Appendf(nil, testSchema, "1.0.0"))
	if err != nil {
		b.Fatal(err)
	}
	db := txn.NewDatabase(s)
	ops := make([]any, 0, 100)
	for i := range 100 {
		ops = append(ops, map[string]any{"op": "insert", "table": "T",
			"row": map[string]any{"name": fmt.Sprintf("row-%d", i), "n": json.Number(fmt.Sprint(i))}})
	}
	res := txn.Execute(db, ops, txn.Options{})
	if len(res.Changes) != 100 {
		b.Fatalf("%d changes, want 100: %v", len(res.Changes), res.Reply)
	}
	l := keys.Default()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		bt := newBatch(l)
		if err := bt.add("Test", db, res.Changes, nil); err != nil {
			b.Fatal(err)
		}
		_ = bt.etcdOps(now)
	}
}

// BenchmarkTransact measures one-row transactions through the engine on
// an embedded etcd, serial and with parallel writers (group commit).
func BenchmarkTransact(b *testing.B) {
	for _, par := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", par), func(b *testing.B) {
			etcd := startEtcdB(b)
			cli := etcd.Client(b)
			cfg := NewConfig()
			cfg.EtcdClient = cli
			cfg.SchemaFiles = []string{writeSchemaB(b)}
			cfg.Listen = "unix:unused"
			cfg.Logger = slog.New(slog.DiscardHandler)
			e, err := New(b.Context(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			if err := e.WaitLeader(b.Context()); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					ops := fmt.Appendf(nil, `[{"op":"insert","table":"T","row":{"name":"b%d","n":%d}}]`, i, i)
					if _, err := e.Transact(b.Context(), Request{Database: "Test", Operations: ops}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkLoad measures a new leader's load of 100,000 rows (one term's
// start-up cost, issue 6's "time for a new txnengine leader to be ready").
func BenchmarkLoad(b *testing.B) {
	const rows, perTxn = 100000, 10000
	etcd := startEtcdB(b)
	cfg := NewConfig()
	cfg.EtcdClient = etcd.Client(b)
	cfg.SchemaFiles = []string{writeSchemaB(b)}
	cfg.Listen = "unix:unused"
	cfg.Logger = slog.New(slog.DiscardHandler)
	e, err := New(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	if err := e.WaitLeader(b.Context()); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < rows; i += perTxn {
		var ops []byte
		ops = append(ops, '[')
		for j := i; j < i+perTxn; j++ {
			if j > i {
				ops = append(ops, ',')
			}
			ops = fmt.Appendf(ops, `{"op":"insert","table":"T","row":{"name":"lsp-%06d","n":%d}}`, j, j)
		}
		ops = append(ops, ']')
		if _, err := e.Transact(b.Context(), Request{Database: "Test", Operations: ops}); err != nil {
			b.Fatal(err)
		}
	}
	tm := e.currentTerm()
	b.ResetTimer()
	for b.Loop() {
		// Not the commit loop's goroutine, but the loop is idle: nothing
		// else runs transactions in this benchmark.
		if err := tm.load(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
