package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// BenchmarkFanout measures one revision's fan-out to many monitors of
// the same selection (the shared-JSON case) and of distinct ones.
func BenchmarkFanout(b *testing.B) {
	sch := loadSchema(b)
	for _, tc := range []struct {
		name     string
		monitors int
		distinct bool
	}{
		{name: "same/100", monitors: 100},
		{name: "distinct/100", monitors: 100, distinct: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m, err := newMetrics(nil)
			if err != nil {
				b.Fatal(err)
			}
			cfg := NewConfig()
			cfg.MaxBacklogBytes = 1 << 40
			cfg.LagBacklogBytes = 1 << 40
			srv := &Server{cfg: cfg, metrics: m, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			srv.ctx, srv.cancel = context.WithCancel(context.Background())
			defer srv.cancel()
			f := newFeed("T", sch, srv.log, 1, 16, m)
			db := &database{name: "T", schema: sch, feed: f}
			f.readyOnce.Do(func() { close(f.ready) })
			var sessions []*session
			for i := range tc.monitors {
				s := &session{srv: srv, ctx: srv.ctx, outSig: make(chan struct{}, 1), drained: make(chan struct{}), lagging: map[*monitor]*lagSlot{}, log: srv.log}
				sessions = append(sessions, s)
				bound := int64(0)
				if tc.distinct {
					bound = int64(-i) // every row still matches
				}
				cols := []any{"s", "i", "set", "m"}
				mon, perr := parseMonitor(db, 2, map[string]any{"A": map[string]any{"columns": cols, "where": []any{[]any{"i", ">=", bound}}}})
				if perr != nil {
					b.Fatal(perr)
				}
				mon.sess, mon.idJSON = s, []byte(fmt.Sprint(i))
				f.monitors[mon] = struct{}{}
			}
			row := func(i int) ovsdb.Row {
				return ovsdb.Row{
					"s": ovsdb.Datum{Keys: []ovsdb.Atom{fmt.Sprintf("row-%d", i)}}, "i": ovsdb.Datum{Keys: []ovsdb.Atom{int64(i)}},
					"set": ovsdb.NewSet(int64(1), int64(2), int64(i)), "m": ovsdb.NewMap([]ovsdb.Atom{"k"}, []ovsdb.Atom{fmt.Sprint(i)}),
					"o": ovsdb.Datum{}, "_version": ovsdb.Datum{Keys: []ovsdb.Atom{ovsdb.UUID{byte(i)}}},
				}
			}
			b.ReportAllocs()
			rev := int64(1)
			for i := 0; b.Loop(); i++ {
				rev++
				f.mu.Lock()
				f.publishLocked(rev, []rowChange{{table: "A", uuid: ovsdb.UUID{1}, old: row(i), new: row(i + 1)}})
				f.mu.Unlock()
				if i%64 == 0 {
					for _, s := range sessions {
						s.out, s.outBytes = nil, 0
					}
				}
			}
		})
	}
}

// BenchmarkTransact measures a transact round trip through a session
// (decode, forward, wait for the own update, reply) on the fake backend,
// for a client without and with a monitor on the database.
func BenchmarkTransact(b *testing.B) {
	for _, monitored := range []bool{false, true} {
		b.Run(fmt.Sprintf("monitored=%t", monitored), func(b *testing.B) {
			env := startServer(b, func(c *Config) { c.InactivityProbeInterval = 0 })
			c, err := jsonrpc.Dial(b.Context(), env.addr(), jsonrpc.WithNotificationHandler(func(string, json.RawMessage) {}))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if monitored {
				if _, err := c.Call(b.Context(), "monitor_cond", "T", "m", map[string]any{"A": map[string]any{"columns": []any{"s"}}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				op := map[string]any{"op": "insert", "table": "A", "row": map[string]any{"s": fmt.Sprint(i)}}
				if _, err := c.Call(b.Context(), "transact", "T", op); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInitialState measures rendering a monitor's initial state of
// 10,000 stored rows (decode, condition, encode).
func BenchmarkInitialState(b *testing.B) {
	sch := loadSchema(b)
	m, err := newMetrics(nil)
	if err != nil {
		b.Fatal(err)
	}
	f := newFeed("T", sch, slog.New(slog.NewTextHandler(io.Discard, nil)), 1, 0, m)
	db := &database{name: "T", schema: sch, feed: f}
	for i := range 10000 {
		raw, err := sch.Tables["A"].EncodeRow(ovsdb.Row{
			"s": ovsdb.Datum{Keys: []ovsdb.Atom{fmt.Sprintf("row-%d", i)}}, "i": ovsdb.Datum{Keys: []ovsdb.Atom{int64(i)}},
			"set": ovsdb.NewSet(int64(1), int64(i)), "_version": ovsdb.Datum{Keys: []ovsdb.Atom{ovsdb.UUID{byte(i)}}},
		})
		if err != nil {
			b.Fatal(err)
		}
		f.rows["A"][ovsdb.UUID{byte(i), byte(i >> 8), 1}] = raw
	}
	mon, perr := parseMonitor(db, 2, map[string]any{"A": []any{map[string]any{"columns": []any{"s"}}}})
	if perr != nil {
		b.Fatal(perr)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mon.appendInitial(nil, f.rows, f.rowOf); err != nil {
			b.Fatal(err)
		}
	}
}
