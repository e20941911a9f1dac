package monitorhub

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

// lspValue returns a Logical_Switch_Port row with every column, encoded
// as the txnengine writes it to etcd.
func lspValue(b *testing.B, ts *schema.Table, i int) []byte {
	b.Helper()
	src := fmt.Sprintf(`{"name":"lsp%d","addresses":["set",["0a:00:00:%02x:%02x:%02x 10.0.%d.%d"]],`+
		`"external_ids":["map",[["owner","pod-%d"]]],"options":["map",[["requested-chassis","node1"]]],`+
		`"_version":["uuid","%s"]}`, i, i>>16&255, i>>8&255, i&255, i>>8&255, i&255, i, newUUID())
	row, err := ts.DecodeRow([]byte(src))
	if err != nil {
		b.Fatal(err)
	}
	v, err := ts.EncodeRow(row)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkLoad100k: 100,000 Logical_Switch_Port rows reach the hub in
// revisions of 1,000 rows (as the bench's rows100k scenario writes them),
// then every row is updated once more. heap-B/row is the live heap per
// row after the inserts (rows plus a history of those revisions);
// heap-B/row-updated after the updates (the history now also holds every
// old value).
func BenchmarkLoad100k(b *testing.B) {
	data, err := os.ReadFile("/usr/share/ovn/ovn-nb.ovsschema")
	if err != nil {
		b.Fatalf("read the OVN NB schema (apt-get install -y ovn-common): %v", err)
	}
	s, err := schema.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	ts := s.Tables["Logical_Switch_Port"]
	const n, perRev = 100000, 1000
	keys := make([]string, n)
	vals := make([][]byte, n)
	for i := range keys {
		keys[i] = rowKeyOf("NB", "Logical_Switch_Port", newUUID())
		vals[i] = lspValue(b, ts, i)
	}
	// events builds the watch responses as the etcd client hands them
	// over: fresh keys and values.
	events := func(from int64) [][]*clientv3.Event {
		var out [][]*clientv3.Event
		for i := 0; i < n; i += perRev {
			evs := make([]*clientv3.Event, 0, perRev)
			for j := i; j < i+perRev; j++ {
				evs = append(evs, &clientv3.Event{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{
					Key: []byte(keys[j]), Value: append([]byte(nil), vals[j]...), ModRevision: from + int64(i/perRev)}})
			}
			out = append(out, evs)
		}
		return out
	}
	b.ReportAllocs()
	var perRow, perRowUpdated float64
	for range b.N {
		b.StopTimer()
		base := liveHeap()
		ins := events(2)
		b.StartTimer()
		_, d := benchHub(b)
		for _, evs := range ins {
			if err := d.apply(evs); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		perRow = float64(liveHeap()-base) / n
		upd := events(2 + n/perRev)
		b.StartTimer()
		for _, evs := range upd {
			if err := d.apply(evs); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		perRowUpdated = float64(liveHeap()-base) / n
		runtime.KeepAlive(d)
		b.StartTimer()
	}
	b.ReportMetric(perRow, "heap-B/row")
	b.ReportMetric(perRowUpdated, "heap-B/row-updated")
	b.ReportMetric(float64(len(vals[0])), "value-B")
}
