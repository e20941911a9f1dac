package e2e

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// Shape of the group commit load.
const (
	groupWriters   = 64
	groupTxnsEach  = 10
	groupFailEvery = 16 // writer w with w%groupFailEvery == 0 also sends a failing txn
)

// metricSum sums the counter, gauge or untyped values of a family, or the
// sample sum and count of a histogram.
func metricSum(mfs map[string]*dto.MetricFamily, name string) (sum, count float64, ok bool) {
	mf, ok := mfs[name]
	if !ok {
		return 0, 0, false
	}
	for _, m := range mf.GetMetric() {
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += m.GetHistogram().GetSampleSum()
			count += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum, count, true
}

// TestGroupCommitAndMetrics runs 64 concurrent writers against all-in-one
// with --metrics-listen: the batch-size metric must show batches of more
// than one transaction, fewer etcd Txns than OVSDB transactions, and a
// failing transaction in the mix must fail alone. The RPC metrics of the
// internal gRPC and the monitorhub's one watch per database must be
// exported too.
func TestGroupCommitAndMetrics(t *testing.T) {
	port := e2etest.FreePort(t)
	a := startAllInOne(t, []string{nbSchema}, "--metrics-listen", "127.0.0.1:"+strconv.Itoa(port))
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)

	// An address set whose name a failing transaction reuses (the name
	// column is an index of this root table: constraint violation).
	e2etest.Transact(t, a.Addr(), "OVN_Northbound", map[string]any{"op": "insert", "table": "Address_Set",
		"row": map[string]any{"name": "taken"}})

	ctx, cancel := context.WithTimeout(t.Context(), e2etest.ReadyTimeout)
	defer cancel()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range groupWriters {
		wg.Go(func() {
			cl, err := jsonrpc.Dial(ctx, a.Addr())
			if err != nil {
				t.Errorf("writer %d: %v", w, err)
				return
			}
			defer cl.Close()
			<-start
			for n := range groupTxnsEach {
				if w%groupFailEvery == 0 && n == groupTxnsEach/2 {
					o, err := insertAddressSet(ctx, cl, "taken")
					if o != failed {
						t.Errorf("writer %d: duplicate index insert: outcome %d, %v", w, o, err)
					}
				}
				if o, err := insertSwitch(ctx, cl, fmt.Sprintf("g%02d-%02d", w, n)); o != acked {
					t.Errorf("writer %d: txn %d: outcome %d: %v", w, n, o, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	if rows := selectRows(t, a.Addr(), "OVN_Northbound", "Logical_Switch"); len(rows) != groupWriters*groupTxnsEach {
		t.Errorf("%d switches, want %d", len(rows), groupWriters*groupTxnsEach)
	}

	mfs := e2etest.Scrape(t, metricsURL)
	ovsdbTxns, _, ok1 := metricSum(mfs, "ovsdb_etcd_txnengine_ovsdb_transactions_total")
	etcdTxns, _, ok2 := metricSum(mfs, "ovsdb_etcd_txnengine_etcd_txns_total")
	batchSum, batchCount, ok3 := metricSum(mfs, "ovsdb_etcd_txnengine_commit_batch_size_transactions")
	if !ok1 || !ok2 || !ok3 {
		t.Fatalf("txnengine metrics missing (ovsdb txns %v, etcd txns %v, batch size %v)", ok1, ok2, ok3)
	}
	t.Logf("%v OVSDB transactions, %v etcd Txns, %v batches of mean size %.2f", ovsdbTxns, etcdTxns, batchCount, batchSum/batchCount)
	if ovsdbTxns < groupWriters*groupTxnsEach {
		t.Errorf("ovsdb_transactions_total %v < %d sent", ovsdbTxns, groupWriters*groupTxnsEach)
	}
	if etcdTxns >= ovsdbTxns {
		t.Errorf("%v etcd Txns for %v OVSDB transactions: no group commit", etcdTxns, ovsdbTxns)
	}
	if batchCount == 0 || batchSum/batchCount <= 1 {
		t.Errorf("mean commit batch size %v/%v, want > 1", batchSum, batchCount)
	}
	// *_started_total, not *_handled_total: the frontend sends every
	// transaction over one long-lived TransactStream and the monitorhub
	// feeds it over Watch streams, which count as handled only when they
	// end.
	for _, name := range []string{"grpc_server_started_total", "grpc_client_started_total"} {
		if _, _, ok := metricSum(mfs, name); !ok {
			t.Errorf("metric %s not exported", name)
		}
	}
	if watches, _, ok := metricSum(mfs, "ovsdb_etcd_monitorhub_etcd_watches"); !ok || watches != 1 {
		t.Errorf("monitorhub etcd watches = %v (exported %v), want 1 for 1 database", watches, ok)
	}
}

// insertAddressSet inserts an Address_Set named name.
func insertAddressSet(ctx context.Context, cl *jsonrpc.Client, name string) (outcome, error) {
	raw, err := cl.Call(ctx, "transact", "OVN_Northbound", map[string]any{"op": "insert", "table": "Address_Set",
		"row": map[string]any{"name": name}})
	if err != nil {
		return unknown, err
	}
	return classify(raw)
}
