package txn_test

import (
	"runtime"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/txn"
)

// etcdValue is one row as the txnengine reads it from etcd.
type etcdValue struct {
	table string
	uuid  ovsdb.UUID
	value []byte
}

// nbRows100k returns the etcd values of 1,000 Logical_Switches of 100
// Logical_Switch_Ports each, encoded as the txnengine writes them.
func nbRows100k(b *testing.B) []etcdValue {
	b.Helper()
	db := nbDatabase(b)
	var vals []etcdValue
	for i := 0; i < 1000; i++ {
		res := txn.Execute(db, switchWithPorts(i, 100), txn.Options{})
		mustOK(b, res)
		for _, ch := range res.Changes {
			v, err := db.Schema().Tables[ch.Table].EncodeRow(ch.New)
			if err != nil {
				b.Fatal(err)
			}
			vals = append(vals, etcdValue{table: ch.Table, uuid: ch.UUID, value: v})
		}
	}
	return vals
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkLoad100k: a new leader's load of 100,000 Logical_Switch_Port
// rows (and their 1,000 switches) from etcd values into a Database, as
// services/txnengine does: DecodeRow then Put. heap-B/row is the live
// heap the loaded Database holds per row.
func BenchmarkLoad100k(b *testing.B) {
	vals := nbRows100k(b)
	b.ReportAllocs()
	b.ResetTimer()
	var perRow float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		before := heapInUse()
		b.StartTimer()
		db := nbDatabase(b)
		for _, v := range vals {
			ts := db.Schema().Tables[v.table]
			row, err := ts.DecodeRow(v.value)
			if err != nil {
				b.Fatal(err)
			}
			if err := db.Put(v.table, v.uuid, row); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		perRow = float64(heapInUse()-before) / float64(len(vals))
		runtime.KeepAlive(db)
		b.StartTimer()
	}
	b.ReportMetric(perRow, "heap-B/row")
}
