package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// bigTxnRows is the size of the one large transaction (issue 4: at least
// 10,000 rows, as ovn-northd's first sync).
const bigTxnRows = 10000

// TestBigTransactionSeenWholeAndBlockingWait commits a 10,000-row
// transaction that a monitor_cond client must receive as one update2, and
// releases a blocking wait of one client by another client's commit.
func TestBigTransactionSeenWholeAndBlockingWait(t *testing.T) {
	port := e2etest.FreePort(t)
	a := startAllInOne(t, []string{nbSchema}, "--metrics-listen", "127.0.0.1:"+strconv.Itoa(port))
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	t.Run("10000 rows in one update", func(t *testing.T) {
		updates := make(chan int, 16) // rows per update2 notification
		mon, err := jsonrpc.Dial(ctx, a.Addr(), jsonrpc.WithNotificationHandler(func(method string, params json.RawMessage) {
			if method != "update2" {
				return
			}
			var p []json.RawMessage
			var tables map[string]map[string]json.RawMessage
			if json.Unmarshal(params, &p) != nil || len(p) != 2 || json.Unmarshal(p[1], &tables) != nil {
				return
			}
			select {
			case updates <- len(tables["Logical_Switch"]):
			default:
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		defer mon.Close()
		if _, err := mon.Call(ctx, "monitor_cond", "OVN_Northbound", "big",
			map[string]any{"Logical_Switch": []any{map[string]any{"columns": []string{"name"}}}}); err != nil {
			t.Fatalf("monitor_cond: %v", err)
		}
		ops := make([]any, 0, bigTxnRows)
		for i := range bigTxnRows {
			ops = append(ops, map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": fmt.Sprintf("big-%05d", i)}})
		}
		res := e2etest.Transact(t, a.Addr(), "OVN_Northbound", ops...)
		if len(res) != bigTxnRows {
			t.Fatalf("%d results for %d operations", len(res), bigTxnRows)
		}
		for i, r := range res {
			if r["error"] != nil {
				t.Fatalf("operation %d failed: %v", i, r)
			}
		}
		select {
		case n := <-updates:
			if n != bigTxnRows {
				t.Errorf("first update2 carries %d rows, want all %d", n, bigTxnRows)
			}
		case <-ctx.Done():
			t.Fatal("no update2 for the big transaction")
		}
		if rows := selectRows(t, a.Addr(), "OVN_Northbound", "Logical_Switch"); len(rows) != bigTxnRows {
			t.Errorf("%d rows after the big transaction, want %d", len(rows), bigTxnRows)
		}
	})

	t.Run("blocking wait released by another client", func(t *testing.T) {
		waiter, err := jsonrpc.Dial(ctx, a.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer waiter.Close()
		type reply struct {
			raw json.RawMessage
			err error
		}
		done := make(chan reply, 1)
		go func() {
			raw, err := waiter.Call(ctx, "transact", "OVN_Northbound",
				map[string]any{"op": "wait", "table": "Logical_Switch", "timeout": 60000,
					"where": []any{[]any{"name", "==", "released"}}, "columns": []string{"name"},
					"until": "==", "rows": []any{map[string]any{"name": "released"}}},
				map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "after-wait"}})
			done <- reply{raw, err}
		}()
		// The wait is parked in the txnengine: only then commit the
		// release, so that it is really the commit that releases it.
		tick := time.NewTicker(e2etest.PollInterval)
		defer tick.Stop()
		for {
			if n, _, ok := metricSum(e2etest.Scrape(t, metricsURL), "ovsdb_etcd_txnengine_parked_waits"); ok && n >= 1 {
				break
			}
			select {
			case r := <-done:
				t.Fatalf("wait answered before its condition held: %s %v", r.raw, r.err)
			case <-ctx.Done():
				t.Fatal("the wait was never parked")
			case <-tick.C:
			}
		}
		e2etest.Transact(t, a.Addr(), "OVN_Northbound", map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "released"}})
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatal(r.err)
			}
			if o, err := classify(r.raw); o != acked {
				t.Fatalf("released wait: %s: %v", r.raw, err)
			}
		case <-ctx.Done():
			t.Fatal("the wait was not released by the commit")
		}
	})
}
