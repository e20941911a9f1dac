package ovn

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
)

// serverRow is the OVN_Northbound row of _Server.Database on addr.
func serverRow(t *testing.T, addr string) (index float64, connected, leader bool, sid string) {
	t.Helper()
	res := transact(t, addr, "_Server", map[string]any{"op": "select", "table": "Database",
		"where": []any{[]any{"name", "==", nbDB}}, "columns": []string{"index", "connected", "leader", "sid"}})
	raw, err := json.Marshal(res[0]["rows"])
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Index     float64 `json:"index"`
		Connected bool    `json:"connected"`
		Leader    bool    `json:"leader"`
		Sid       []any   `json:"sid"`
	}
	if err := json.Unmarshal(raw, &rows); err != nil || len(rows) != 1 || len(rows[0].Sid) != 2 {
		t.Fatalf("_Server.Database %s row on %s: %s (%v)", nbDB, addr, raw, err)
	}
	r := rows[0]
	sid, _ = r.Sid[1].(string)
	return r.Index, r.Connected, r.Leader, sid
}

// indexConvergeTimeout bounds the wait for every frontend to report the
// index of the newest commit.
const indexConvergeTimeout = 10 * time.Second

// TestServerIndexAcrossFrontends checks what the C IDL relies on to accept
// every frontend of one cluster: each frontend says connected and leader,
// has its own sid, an index that never goes backwards on one frontend
// (also across a restart of another), and that follows every commit on
// every frontend to one common value.
func TestServerIndexAcrossFrontends(t *testing.T) {
	r := startRoles(t)
	last := map[int]float64{}
	sids := map[int]string{}
	var seen []string
	observe := func(when string, fe int) float64 {
		t.Helper()
		index, connected, leader, sid := serverRow(t, r.Addr(fe))
		seen = append(seen, fmt.Sprintf("fe%d:%v", fe, index))
		if !connected || !leader {
			t.Errorf("%s: frontend %d: connected=%v leader=%v, want both true", when, fe, connected, leader)
		}
		if index < last[fe] {
			t.Errorf("%s: frontend %d: index %v went back from %v (observations: %v)", when, fe, index, last[fe], seen)
		}
		last[fe] = max(last[fe], index)
		if old, ok := sids[fe]; ok && old != sid {
			t.Errorf("%s: frontend %d: sid changed from %s to %s", when, fe, old, sid)
		}
		sids[fe] = sid
		return index
	}
	// converge polls both frontends until they report the same index,
	// above floor, and returns it.
	converge := func(when string, floor float64) float64 {
		t.Helper()
		deadline := time.Now().Add(indexConvergeTimeout)
		tick := time.NewTicker(e2etest.PollInterval)
		defer tick.Stop()
		for {
			a, b := observe(when, 0), observe(when, 1)
			if a == b && a > floor {
				return a
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: frontends report index %v and %v after %v, want one value above %v (observations: %v)",
					when, a, b, indexConvergeTimeout, floor, seen)
			}
			<-tick.C
		}
	}
	index := converge("start", 0)
	for i := range 3 {
		transact(t, r.Addr(i%2), nbDB, map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "x"}})
		seen = append(seen, fmt.Sprintf("txn@fe%d", i%2))
		index = converge(fmt.Sprintf("after transaction %d", i), index)
	}
	if sids[0] == sids[1] {
		t.Errorf("both frontends have sid %s, want one per frontend", sids[0])
	}
	r.restartFrontend(0, func() {
		transact(t, r.Addr(1), nbDB, map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "y"}})
		observe("while frontend 0 is down", 1)
	})
	delete(sids, 0) // a restarted frontend is a new server
	delete(last, 0)
	converge("after the restart", index)
}

// TestServerIndexNeverBackAcrossFrontends is the strict form of
// TestServerIndexAcrossFrontends, without waiting for convergence: right
// after a commit through one frontend, no frontend may report a lower
// index than any frontend reported before (a client that moves between
// frontends must never see the index go back), also across a restart;
// each frontend says connected and leader and has its own stable sid.
func TestServerIndexNeverBackAcrossFrontends(t *testing.T) {
	r := startRoles(t)
	var maxIndex float64
	var seen []string
	sids := map[int]string{}
	check := func(when string, fe int) {
		t.Helper()
		index, connected, leader, sid := serverRow(t, r.Addr(fe))
		if !connected || !leader {
			t.Errorf("%s: frontend %d: connected=%v leader=%v, want both true", when, fe, connected, leader)
		}
		seen = append(seen, fmt.Sprintf("fe%d:%v", fe, index))
		if index < maxIndex {
			t.Errorf("%s: frontend %d: index %v, lower than %v seen before (observations: %v)", when, fe, index, maxIndex, seen)
		}
		maxIndex = max(maxIndex, index)
		if old, ok := sids[fe]; ok && old != sid {
			t.Errorf("%s: frontend %d: sid changed from %s to %s", when, fe, old, sid)
		}
		sids[fe] = sid
	}
	check("start", 0)
	check("start", 1)
	for i := range 3 {
		transact(t, r.Addr(i%2), nbDB, map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "x"}})
		seen = append(seen, fmt.Sprintf("txn@fe%d", i%2))
		check("after a transaction", 1-i%2)
		check("after a transaction", i%2)
	}
	if sids[0] == sids[1] {
		t.Errorf("both frontends have sid %s, want one per frontend", sids[0])
	}
	r.restartFrontend(0, func() {
		transact(t, r.Addr(1), nbDB, map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "y"}})
		check("while frontend 0 is down", 1)
	})
	delete(sids, 0) // a restarted frontend is a new server
	check("after the restart", 0)
	check("after the restart", 1)
}
