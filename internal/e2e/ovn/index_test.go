package ovn

import (
	"encoding/json"
	"testing"
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

// TestServerIndexAcrossFrontends checks what the C IDL relies on to accept
// every frontend of one cluster: each frontend says connected and leader,
// has its own stable sid, and an index that never goes backwards from one
// frontend to another, also across a restart.
func TestServerIndexAcrossFrontends(t *testing.T) {
	r := startRoles(t, 2)
	var maxIndex float64
	sids := map[int]string{}
	check := func(when string, fe int) {
		t.Helper()
		index, connected, leader, sid := serverRow(t, r.Addr(fe))
		if !connected || !leader {
			t.Errorf("%s: frontend %d: connected=%v leader=%v, want both true", when, fe, connected, leader)
		}
		if index < maxIndex {
			t.Errorf("%s: frontend %d: index %v, lower than %v seen before", when, fe, index, maxIndex)
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
