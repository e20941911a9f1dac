package txnengine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
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

// nbSchemaPath is the OVN Northbound schema (Debian package ovn-common).
const nbSchemaPath = "/usr/share/ovn/ovn-nb.ovsschema"

// placeholderUUID stands for a switch UUID in pre-built transactions
// until the switch exists; it is patched in place (same length).
const placeholderUUID = "00000000-0000-0000-0000-000000000000"

// benchCommitPath runs one batch through the commit loop's work, without
// etcd: decode each transaction's operations, execute them, add their
// changes to the batch, build the etcd ops and encode each reply. It
// returns each transaction's result.
func benchCommitPath(b *testing.B, db *txn.Database, l keys.Layout, now time.Time, txns [][]byte) []txn.Result {
	b.Helper()
	bt := newBatch(l)
	results := make([]txn.Result, len(txns))
	for i, raw := range txns {
		ops, err := decodeOps(raw)
		if err != nil {
			b.Fatal(err)
		}
		res := txn.Execute(db, ops, txn.Options{})
		if err := bt.add("OVN_Northbound", db, res.Changes, res.Comments); err != nil {
			b.Fatal(err)
		}
		results[i] = res
	}
	_ = bt.etcdOps(now)
	for _, res := range results {
		data, failed, err := encodeReply(res.Reply, nil)
		if err != nil || failed {
			b.Fatalf("transaction failed (%v): %s", err, data)
		}
	}
	return results
}

func nbDatabaseB(b *testing.B) *txn.Database {
	b.Helper()
	data, err := os.ReadFile(nbSchemaPath)
	if err != nil {
		b.Fatalf("read the OVN NB schema (apt-get install -y ovn-common): %v", err)
	}
	s, err := schema.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	return txn.NewDatabase(s)
}

// benchRows is the rows of tools/ovsdb-bench's 100-row transactions.
const benchRows = 100

// benchSwitchTxn is tools/ovsdb-bench's transaction of benchRows ports
// added to a new switch (sw "") or to switch sw, as JSON text.
func benchSwitchTxn(sw string, name string) []byte {
	const rows = benchRows
	buf := []byte("[")
	for k := range rows {
		buf = fmt.Appendf(buf, `{"op":"insert","table":"Logical_Switch_Port","uuid-name":"p%d","row":{"name":"%s-%d"}},`, k, name, k)
	}
	refs := []byte(`["set",[`)
	for k := range rows {
		if k > 0 {
			refs = append(refs, ',')
		}
		refs = fmt.Appendf(refs, `["named-uuid","p%d"]`, k)
	}
	refs = append(refs, "]]"...)
	if sw == "" {
		buf = fmt.Appendf(buf, `{"op":"insert","table":"Logical_Switch","row":{"name":"sw-%s","ports":%s}}]`, name, refs)
	} else {
		buf = fmt.Appendf(buf, `{"op":"mutate","table":"Logical_Switch","where":[["_uuid","==",["uuid","%s"]]],"mutations":[["ports","insert",%s]]}]`, sw, refs)
	}
	return buf
}

// resultUUID returns the UUID the insert at index i of res answered with.
func resultUUID(b *testing.B, res txn.Result, i int) string {
	b.Helper()
	m, _ := res.Reply[i].(map[string]any)
	u, _ := m["uuid"].([]any)
	if len(u) != 2 {
		b.Fatalf("no uuid in reply %d: %v", i, res.Reply)
	}
	return u[1].(string)
}

// BenchmarkCommitPath measures issue 6's two heavy workloads through the
// commit loop's CPU work (benchCommitPath), without etcd. One op is one
// batch:
//   - port-to-switch/64: 64 writers' transactions, each inserting one
//     Logical_Switch_Port and adding it to its writer's switch of 100 to
//     200 ports with a mutate (switches are reset to 100 ports every 100
//     batches, outside the timing);
//   - rows100/8: 8 writers' 100-row transactions, adding 100 ports to a
//     switch that every other batch creates; one op is two batches (one
//     creating the switches, one adding to them).
func BenchmarkCommitPath(b *testing.B) {
	l := keys.Default()
	now := time.Now()
	b.Run("port-to-switch/64", func(b *testing.B) {
		const writers, base, grow = 64, benchRows, 100
		db := nbDatabaseB(b)
		sws := make([]string, writers)
		reset := make([][]byte, writers)
		for w := range writers {
			ops, err := decodeOps(benchSwitchTxn("", fmt.Sprintf("w%d-base", w)))
			if err != nil {
				b.Fatal(err)
			}
			res := txn.Execute(db, ops, txn.Options{})
			sws[w] = resultUUID(b, res, base)
			refs := make([]string, base)
			for k := range base {
				refs[k] = fmt.Sprintf(`["uuid","%s"]`, resultUUID(b, res, k))
			}
			reset[w] = fmt.Appendf(nil, `[{"op":"update","table":"Logical_Switch","where":[["_uuid","==",["uuid","%s"]]],"row":{"ports":["set",[%s]]}}]`,
				sws[w], strings.Join(refs, ","))
		}
		batches := make([][][]byte, grow)
		seq := 0
		refill := func() {
			for _, raw := range reset {
				ops, err := decodeOps(raw)
				if err != nil {
					b.Fatal(err)
				}
				if res := txn.Execute(db, ops, txn.Options{}); replyFailed(res.Reply) {
					b.Fatalf("reset failed: %v", res.Reply)
				}
			}
			for i := range batches {
				batches[i] = make([][]byte, writers)
				for w := range writers {
					batches[i][w] = fmt.Appendf(nil, `[{"op":"insert","table":"Logical_Switch_Port","uuid-name":"p0","row":{"name":"bench-%d"}},`+
						`{"op":"mutate","table":"Logical_Switch","where":[["_uuid","==",["uuid","%s"]]],"mutations":[["ports","insert",["set",[["named-uuid","p0"]]]]]}]`,
						seq, sws[w])
					seq++
				}
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
			benchCommitPath(b, db, l, now, batches[i])
			i++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*writers), "ns/txn")
	})
	b.Run("rows100/8", func(b *testing.B) {
		const writers, rows, chunk = 8, benchRows, 16
		db := nbDatabaseB(b)
		// pairs hold a batch creating 8 switches and the batch adding
		// ports to them, whose placeholder UUIDs are patched once known.
		type pair struct{ insert, mutate [][]byte }
		var pairs []pair
		seq := 0
		b.ReportAllocs()
		for b.Loop() {
			if len(pairs) == 0 {
				b.StopTimer()
				for range chunk {
					var p pair
					for range writers {
						p.insert = append(p.insert, benchSwitchTxn("", fmt.Sprintf("t%d", seq)))
						p.mutate = append(p.mutate, benchSwitchTxn(placeholderUUID, fmt.Sprintf("t%d", seq+1)))
						seq += 2
					}
					pairs = append(pairs, p)
				}
				b.StartTimer()
			}
			p := pairs[0]
			pairs = pairs[1:]
			results := benchCommitPath(b, db, l, now, p.insert)
			for w, res := range results {
				raw := p.mutate[w]
				at := bytes.Index(raw, []byte(placeholderUUID))
				copy(raw[at:], resultUUID(b, res, rows))
			}
			benchCommitPath(b, db, l, now, p.mutate)
		}
		// One op is two batches here: report per transaction.
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2*writers), "ns/txn")
		b.ReportMetric(float64(b.N*2*writers*rows)/b.Elapsed().Seconds(), "rows/s")
	})
}
