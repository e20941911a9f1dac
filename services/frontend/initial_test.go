package frontend

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// TestAppendInitial: the streamed initial state is byte for byte what
// json.Marshal writes for the same rows as nested maps (sorted keys),
// for every monitor version, with conditions and with nothing selected.
func TestAppendInitial(t *testing.T) {
	sch := loadSchema(t)
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newFeed("T", sch, testLogger(t), 1, 0, m)
	db := &database{name: "T", schema: sch, feed: f}
	for i := range 50 {
		row := ovsdb.Row{
			"s": ovsdb.Datum{Keys: []ovsdb.Atom{fmt.Sprintf("row <%d> \"q\"", i)}}, "i": ovsdb.Datum{Keys: []ovsdb.Atom{int64(i)}},
			"set": ovsdb.NewSet(int64(i), int64(i+1)), "m": ovsdb.NewMap([]ovsdb.Atom{"k"}, []ovsdb.Atom{fmt.Sprint(i)}),
			"_version": ovsdb.Datum{Keys: []ovsdb.Atom{ovsdb.UUID{byte(i), 7}}},
		}
		raw, err := sch.Tables["A"].EncodeRow(row)
		if err != nil {
			t.Fatal(err)
		}
		f.rows["A"][ovsdb.UUID{byte(i * 37), byte(i)}] = raw
	}
	for _, tc := range []struct {
		name    string
		version int
		req     map[string]any
	}{
		{name: "monitor all columns", version: 1, req: map[string]any{"A": map[string]any{}}},
		{name: "monitor_cond columns", version: 2, req: map[string]any{"A": []any{map[string]any{"columns": []any{"s", "i"}}}}},
		{name: "monitor_cond where", version: 2, req: map[string]any{"A": []any{map[string]any{"where": []any{[]any{"i", "<", 10}}}}, "B": []any{map[string]any{}}}},
		{name: "monitor_cond_since nothing matches", version: 3, req: map[string]any{"A": []any{map[string]any{"where": []any{false}}}}},
		{name: "no initial", version: 2, req: map[string]any{"A": []any{map[string]any{"select": map[string]any{"initial": false}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mon, perr := parseMonitor(db, tc.version, tc.req)
			if perr != nil {
				t.Fatal(perr)
			}
			got, err := mon.appendInitial([]byte("x"), f.rows, f.rowOf)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{}
			for name, tm := range mon.tables {
				if !tm.initial {
					continue
				}
				tu := map[string]any{}
				for u, raw := range f.rows[name] {
					row := f.rowOf(name, raw)
					if !tm.match(u, row) {
						continue
					}
					if tc.version == 1 {
						tu[u.String()] = map[string]any{"new": tm.rowJSON(row, false)}
					} else {
						tu[u.String()] = map[string]any{"initial": tm.rowJSON(row, true)}
					}
				}
				if len(tu) > 0 {
					want[name] = tu
				}
			}
			wb, err := marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "x"+string(wb) {
				t.Fatalf("appendInitial =\n%s\nwant\nx%s", got, wb)
			}
		})
	}
}

// TestFeedDecodesOnlyWatchedTables: a change of a table no monitor
// selects is stored without being decoded (a row that would not decode
// goes unnoticed), while a monitored row changed twice reaches its
// monitor with the right old and new values.
func TestFeedDecodesOnlyWatchedTables(t *testing.T) {
	env := startServer(t, nil)
	n := newNotes()
	c := dial(t, env.addr(), n.handler)
	call(t, c, "monitor_cond", "T", "m", map[string]any{"A": []any{map[string]any{"columns": []any{"s"}}}})
	f := env.srv.dbs["T"].feed
	f.mu.Lock()
	rev := f.rev
	f.mu.Unlock()
	if err := f.applyUpdate(rev+1, []RawChange{{Table: "B", UUID: "00000000-0000-0000-0000-000000000001", New: []byte(`{"not":"a row"}`)}}); err != nil {
		t.Fatalf("an unwatched table's change was decoded: %v", err)
	}
	if err := f.applyUpdate(rev+2, []RawChange{{Table: "A", UUID: "00000000-0000-0000-0000-000000000002", New: []byte(`{"not":"a row"}`)}}); err == nil {
		t.Fatal("a watched table's bad row was accepted")
	}
	// Keep the backend's revisions above the ones applied by hand.
	env.be.mu.Lock()
	env.be.rev += 10
	env.be.mu.Unlock()
	for _, v := range []string{"one", "two"} {
		call(t, c, "transact", "T", map[string]any{"op": "insert", "table": "A", "uuid-name": "r", "row": map[string]any{"s": v}})
	}
	r := call(t, c, "transact", "T", map[string]any{"op": "update", "table": "A", "where": []any{[]any{"s", "==", "one"}}, "row": map[string]any{"s": "uno"}})
	if !strings.Contains(string(r), `"count":1`) {
		t.Fatalf("update = %s", r)
	}
	got := n.snapshot()
	if len(got) != 3 || !strings.Contains(got[2], `"modify":{"s":"uno"}`) {
		t.Fatalf("notifications = %q", got)
	}
}
