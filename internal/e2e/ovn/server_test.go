package ovn

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

// target is one server under comparison.
type target struct {
	name string
	addr string
}

// startPair starts a one-member clustered ovsdb-server and all-in-one,
// both serving NB and SB.
func startPair(t *testing.T) []target {
	t.Helper()
	ref := refserver.Start(t, refserver.Options{Schemas: []string{nbSchema, sbSchema}, Clustered: true})
	a := startAllInOne(t)
	return []target{{"ovsdb-server", ref.Addr()}, {"ovsdb-etcd", a.Addr()}}
}

// normServerRow normalizes a _Server.Database row given as a map of
// column to value: cid and sid must be UUIDs and index an integer (their
// values differ between servers by design), the schema is compared
// parsed.
func normServerRow(t *testing.T, who string, row map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	name, _ := row["name"].(string)
	for col, v := range row {
		switch col {
		case "_uuid", "_version":
			continue
		case "cid", "sid":
			if name == "_Server" {
				out[col] = v
				continue
			}
			u, ok := v.([]any)
			if !ok || len(u) != 2 || u[0] != "uuid" || !uuidRE.MatchString(fmt.Sprint(u[1])) || u[1] == zeroUUID {
				t.Errorf("%s: _Server.Database %s: %s is %v, want a non-zero UUID", who, name, col, v)
			}
			out[col] = "<uuid>"
		case "index":
			if name == "_Server" {
				out[col] = v
				continue
			}
			if f, ok := v.(float64); !ok || f < 1 || f != float64(int64(f)) {
				t.Errorf("%s: _Server.Database %s: index is %v, want a positive integer", who, name, v)
			}
			out[col] = "<index>"
		case "schema":
			s, ok := v.(string)
			if !ok {
				out[col] = v
				continue
			}
			// Compared whole: a clustered ovsdb-server serves no
			// "ephemeral" flag, and neither does ovsdb-etcd.
			out[col] = decode(t, []byte(s))
		default:
			out[col] = v
		}
	}
	return out
}

// TestServerDumpMatchesClustered compares `ovsdb-client dump _Server` of
// all-in-one with a one-member clustered ovsdb-server's.
func TestServerDumpMatchesClustered(t *testing.T) {
	var got []map[string]any
	for _, tg := range startPair(t) {
		out := run(t, "ovsdb-client", "dump", "-f", "json", tg.addr, "_Server")
		var tables []struct {
			Caption  string   `json:"caption"`
			Headings []string `json:"headings"`
			Data     [][]any  `json:"data"`
		}
		// One JSON object per table, one per line.
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var tb struct {
				Caption  string   `json:"caption"`
				Headings []string `json:"headings"`
				Data     [][]any  `json:"data"`
			}
			if err := json.Unmarshal([]byte(line), &tb); err != nil {
				t.Fatalf("%s: dump _Server: %v\n%s", tg.name, err, out)
			}
			tables = append(tables, tb)
		}
		rows := map[string]any{}
		for _, tb := range tables {
			for _, d := range tb.Data {
				row := map[string]any{}
				for i, h := range tb.Headings {
					row[h] = d[i]
				}
				rows[tb.Caption+" "+fmt.Sprint(row["name"])] = normServerRow(t, tg.name, row)
			}
		}
		got = append(got, rows)
	}
	if d := diffJSON(got[0], got[1], "", 20); len(d) > 0 {
		t.Errorf("ovsdb-client dump _Server differs (normalized):\n%s", strings.Join(d, "\n"))
	}
}

// serverMonitor is a monitor_cond on _Server.Database over jsonrpc.
type serverMonitor struct {
	initial map[string]map[string]any // database name -> normalized row
	updates chan json.RawMessage
}

func monitorServer(t *testing.T, who, addr string) serverMonitor {
	t.Helper()
	m := serverMonitor{initial: map[string]map[string]any{}, updates: make(chan json.RawMessage, 64)}
	c := dial(t, addr, jsonrpc.WithNotificationHandler(func(method string, params json.RawMessage) {
		if method == "update2" {
			select {
			case m.updates <- params:
			default:
			}
		}
	}))
	raw := call(t, c, "monitor_cond", "_Server", "srv", map[string]any{
		"Database": []any{map[string]any{"columns": []string{"name", "model", "connected", "leader", "schema", "cid", "sid", "index"}}},
	})
	var body map[string]map[string]map[string]map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("%s: monitor_cond _Server reply %s: %v", who, raw, err)
	}
	for _, ch := range body["Database"] {
		row := ch["initial"]
		name, _ := row["name"].(string)
		m.initial[name] = normServerRow(t, who, row)
	}
	return m
}

// TestServerMonitorMatchesClustered compares a monitor_cond on
// _Server.Database with a clustered ovsdb-server's: the initial rows, and
// the first update after a transaction on OVN_Northbound.
func TestServerMonitorMatchesClustered(t *testing.T) {
	pair := startPair(t)
	var initial []any
	var firstUpdate []string
	for _, tg := range pair {
		m := monitorServer(t, tg.name, tg.addr)
		initial = append(initial, decode(t, []byte(canon(m.initial))))
		transact(t, tg.addr, nbDB, map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "sw0"}})
		var upd []json.RawMessage
		select {
		case p := <-m.updates:
			if err := json.Unmarshal(p, &upd); err != nil || len(upd) != 2 {
				t.Fatalf("%s: update2 params %s: %v", tg.name, p, err)
			}
		case <-t.Context().Done():
			t.Fatal("test context ended")
		}
		var body map[string]map[string]map[string]map[string]any
		if err := json.Unmarshal(upd[1], &body); err != nil {
			t.Fatalf("%s: update2 body %s: %v", tg.name, upd[1], err)
		}
		var desc []string
		for _, ch := range body["Database"] {
			for op, row := range ch {
				cols := make([]string, 0, len(row))
				for c := range row {
					cols = append(cols, c)
				}
				sort.Strings(cols)
				desc = append(desc, op+" "+strings.Join(cols, ","))
			}
		}
		sort.Strings(desc)
		firstUpdate = append(firstUpdate, strings.Join(desc, "; "))
	}
	if d := diffJSON(initial[0], initial[1], "", 20); len(d) > 0 {
		t.Errorf("monitor_cond _Server.Database initial rows differ (normalized):\n%s", strings.Join(d, "\n"))
	}
	if firstUpdate[0] != firstUpdate[1] {
		t.Errorf("first _Server.Database update after a NB transaction differs:\novsdb-server: %s\novsdb-etcd:   %s", firstUpdate[0], firstUpdate[1])
	}
}

// mcsLine is the first line ovsdb-client monitor-cond-since prints.
var mcsLine = regexp.MustCompile(`found: (true|false), last_id: (` + uuidRE.String() + `)`)

// monitorCondSince runs `ovsdb-client -f json monitor-cond-since` on
// Logical_Switch name,other_config from lastID ("" for none) until its
// output satisfies done, and returns found, the last id and the
// normalized updates (one sorted row list per printed update).
func monitorCondSince(t *testing.T, who, addr, lastID string, done func(string) bool) (found bool, id string, updates []string) {
	t.Helper()
	args := []string{"-f", "json", "monitor-cond-since", addr, nbDB}
	if lastID != "" {
		args = append(args, lastID)
	}
	args = append(args, "[true]", "Logical_Switch", "name,other_config")
	p := e2etest.StartProc(t, who+"-monitor-cond-since", "ovsdb-client", args...)
	out := p.WaitOutput("monitor-cond-since output", func(s string) bool { return mcsLine.MatchString(s) && done(s) })
	p.Kill()
	m := mcsLine.FindStringSubmatch(out)
	found, id = m[1] == "true", m[2]
	for _, line := range strings.Split(out, "\n") {
		i := strings.Index(line, "{")
		if i < 0 {
			continue
		}
		line = line[i:]
		var tb struct {
			Headings []string `json:"headings"`
			Data     [][]any  `json:"data"`
		}
		if err := json.Unmarshal([]byte(line), &tb); err != nil {
			t.Fatalf("%s: monitor-cond-since line %q: %v", who, line, err)
		}
		var rows []string
		for _, d := range tb.Data {
			rows = append(rows, canon(blankUUIDs(d)))
		}
		sort.Strings(rows)
		updates = append(updates, strings.Join(rows, " "))
	}
	return found, id, updates
}

// TestMonitorCondSinceMatchesClustered runs one sequence of transactions
// against a clustered ovsdb-server and all-in-one and compares what
// `ovsdb-client monitor-cond-since` prints: from scratch, then resuming
// from the id after the first transaction (found=true and only the later
// changes), then from an unknown id (found=false and the whole state).
func TestMonitorCondSinceMatchesClustered(t *testing.T) {
	pair := startPair(t)
	type result struct {
		live, resumed, unknown []string
	}
	var res []result
	for _, tg := range pair {
		var r result
		// ovsdb-server prunes its transaction history once it holds more
		// atoms than the database: filler rows keep the history of this
		// test's few transactions.
		var filler []any
		for i := range 20 {
			var addrs []any
			for j := range 10 {
				addrs = append(addrs, fmt.Sprintf("10.0.%d.%d", i, j))
			}
			filler = append(filler, map[string]any{"op": "insert", "table": "Address_Set",
				"row": map[string]any{"name": fmt.Sprintf("as%d", i), "addresses": []any{"set", addrs}}})
		}
		transact(t, tg.addr, nbDB, filler...)
		transact(t, tg.addr, nbDB, map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "ls1"}})
		// A live monitor from scratch sees ls1 as initial, then every update.
		p := e2etest.StartProc(t, tg.name+"-live", "ovsdb-client", "-f", "json", "monitor-cond-since", tg.addr, nbDB,
			"[true]", "Logical_Switch", "name,other_config")
		out := p.WaitOutput("initial state", func(s string) bool { return strings.Contains(s, `"initial","ls1"`) })
		m := mcsLine.FindStringSubmatch(out)
		if m == nil || m[1] != "false" || m[2] == zeroUUID {
			t.Errorf("%s: monitor-cond-since without id: %q, want found: false and a non-zero id", tg.name, out)
			p.Kill()
			continue
		}
		id1 := m[2]
		transact(t, tg.addr, nbDB, map[string]any{"op": "insert", "table": "Logical_Switch",
			"row": map[string]any{"name": "ls2", "other_config": []any{"map", []any{[]any{"k", "v"}}}}})
		transact(t, tg.addr, nbDB, map[string]any{"op": "mutate", "table": "Logical_Switch",
			"where": []any{[]any{"name", "==", "ls1"}}, "mutations": []any{[]any{"other_config", "insert", []any{"map", []any{[]any{"a", "b"}}}}}})
		transact(t, tg.addr, nbDB, map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "ls3"}},
			map[string]any{"op": "delete", "table": "Logical_Switch", "where": []any{[]any{"name", "==", "ls2"}}})
		out = p.WaitOutput("the last update", func(s string) bool { return strings.Contains(s, `"insert","ls3"`) })
		p.Kill()
		for _, line := range strings.Split(out, "\n") {
			if i := strings.Index(line, "{"); i >= 0 {
				r.live = append(r.live, uuidRE.ReplaceAllString(line[:i], "<uuid>")+normTableJSON(t, line[i:]))
			}
		}

		found, id, upd := monitorCondSince(t, tg.name, tg.addr, id1, func(s string) bool { return strings.Contains(s, "ls3") })
		if !found || id == id1 || id == zeroUUID {
			t.Errorf("%s: resume from %s: found=%v last_id=%s, want found=true and a newer id", tg.name, id1, found, id)
		}
		r.resumed = upd
		found, _, upd = monitorCondSince(t, tg.name, tg.addr, "11111111-2222-3333-4444-555555555555", func(s string) bool { return strings.Contains(s, "ls3") })
		if found {
			t.Errorf("%s: resume from an unknown id: found=true", tg.name)
		}
		r.unknown = upd
		res = append(res, r)
	}
	if len(res) != 2 {
		return
	}
	for _, c := range []struct {
		name     string
		ref, got []string
	}{
		{"live monitor", res[0].live, res[1].live},
		{"resumed from the first id", res[0].resumed, res[1].resumed},
		{"from an unknown id", res[0].unknown, res[1].unknown},
	} {
		if strings.Join(c.ref, "\n") != strings.Join(c.got, "\n") {
			t.Errorf("monitor-cond-since %s differs:\novsdb-server:\n%s\novsdb-etcd:\n%s", c.name,
				strings.Join(c.ref, "\n"), strings.Join(c.got, "\n"))
		}
	}
}

// normTableJSON normalizes one table ovsdb-client prints with -f json:
// UUIDs blanked and data rows sorted.
func normTableJSON(t *testing.T, line string) string {
	t.Helper()
	var tb struct {
		Headings []string `json:"headings"`
		Data     []any    `json:"data"`
	}
	if err := json.Unmarshal([]byte(line), &tb); err != nil {
		t.Fatalf("ovsdb-client output %q: %v", line, err)
	}
	rows := make([]string, 0, len(tb.Data))
	for _, d := range tb.Data {
		rows = append(rows, canon(blankUUIDs(d)))
	}
	sort.Strings(rows)
	return canon(tb.Headings) + " " + strings.Join(rows, " ")
}
