package ovn

import (
	"encoding/json"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// hubTxns is how many nb_cfg values the monitorhub restart test commits:
// a third before, a third while the hub is down, a third after.
const hubTxns = 15

// TestMonitorHubRestartNoGapNoDuplicate keeps a monitor_cond_since client
// on a frontend while the monitorhub (role process) is stopped and
// started again in the middle of a stream of transactions: the frontend
// must resume its subscription from the last revision it delivered, so
// the client sees every value once, in order, with no resync.
func TestMonitorHubRestartNoGapNoDuplicate(t *testing.T) {
	r := startRoles(t)
	transact(t, r.Addr(1), nbDB, map[string]any{"op": "insert", "table": "NB_Global", "row": map[string]any{"nb_cfg": 0}})

	type note struct {
		method string
		params json.RawMessage
	}
	notes := make(chan note, 4*hubTxns)
	c := dial(t, r.Addr(0), jsonrpc.WithNotificationHandler(func(method string, params json.RawMessage) {
		select {
		case notes <- note{method, params}:
		default:
			t.Errorf("notification channel full")
		}
	}))
	call(t, c, "monitor_cond_since", nbDB, "cfg",
		map[string]any{"NB_Global": []any{map[string]any{"columns": []string{"nb_cfg"}}}}, zeroUUID)

	w := dial(t, r.Addr(1))
	commit := func(i int) {
		t.Helper()
		call(t, w, "transact", nbDB, map[string]any{"op": "update", "table": "NB_Global", "where": []any{}, "row": map[string]any{"nb_cfg": i}})
	}
	var seen []int
	ids := map[string]bool{}
	// await reads notifications until nb_cfg upTo has been seen.
	await := func(upTo int) {
		t.Helper()
		for len(seen) == 0 || seen[len(seen)-1] < upTo {
			var n note
			select {
			case n = <-notes:
			case <-c.Done():
				t.Fatalf("monitoring client disconnected; saw %v", seen)
			case <-t.Context().Done():
				t.Fatalf("test ended; saw %v", seen)
			}
			var p []json.RawMessage
			var id string
			var body map[string]map[string]map[string]map[string]any
			if n.method != "update3" || json.Unmarshal(n.params, &p) != nil || len(p) != 3 ||
				json.Unmarshal(p[1], &id) != nil || json.Unmarshal(p[2], &body) != nil {
				t.Fatalf("unexpected notification %s %s", n.method, n.params)
			}
			if ids[id] {
				t.Errorf("update3 last id %s repeated", id)
			}
			ids[id] = true
			for _, ch := range body["NB_Global"] {
				if _, ok := ch["modify"]; !ok {
					t.Errorf("NB_Global change %v, want only modify (an initial or insert means a resync)", ch)
				}
				if v, ok := ch["modify"]["nb_cfg"].(float64); ok {
					seen = append(seen, int(v))
				}
			}
		}
	}
	third := hubTxns / 3
	for i := 1; i <= third; i++ {
		commit(i)
	}
	await(third)
	if err := r.hub.Stop(); err != nil {
		t.Errorf("monitorhub: unclean stop: %v", err)
	}
	for i := third + 1; i <= 2*third; i++ {
		commit(i)
	}
	r.hub.Start()
	for i := 2*third + 1; i <= hubTxns; i++ {
		commit(i)
	}
	await(hubTxns)
	for i, v := range seen {
		if v != i+1 {
			t.Fatalf("nb_cfg values seen %v, want 1..%d each once in order", seen, hubTxns)
		}
	}
}
