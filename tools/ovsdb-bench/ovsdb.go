package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// Monitor methods, as reported in the table.
const (
	monCondSince = "monitor_cond_since"
	monCond      = "monitor_cond"
)

const (
	lspTable = "Logical_Switch_Port"
	zeroUUID = "00000000-0000-0000-0000-000000000000"
	// portsPerSwitch bounds a switch's ports, so that the switch row a
	// transaction rewrites stays small whatever the run's length.
	portsPerSwitch = 200
)

// ovsdbWriter is one writer's connection and its current switch.
type ovsdbWriter struct {
	c          *jsonrpc.Client
	id         int
	rows       int
	every      int    // transactions per switch
	switchUUID string // of the current switch
}

func newOVSDBWriter(c *jsonrpc.Client, id, rows int) *ovsdbWriter {
	return &ovsdbWriter{c: c, id: id, rows: rows, every: max(1, portsPerSwitch/rows)}
}

// txn inserts the rows of transaction seq and adds them to the writer's
// switch, creating a new switch every w.every transactions.
func (w *ovsdbWriter) txn(ctx context.Context, seq int) error {
	ops := make([]any, 0, w.rows+2)
	ops = append(ops, dbName)
	refs := make([]any, w.rows)
	for k := range w.rows {
		un := fmt.Sprintf("p%d", k)
		ops = append(ops, map[string]any{"op": "insert", "table": lspTable, "uuid-name": un,
			"row": map[string]any{"name": rowName(w.id, seq, k)}})
		refs[k] = []any{"named-uuid", un}
	}
	ports := []any{"set", refs}
	newSwitch := seq%w.every == 0
	if newSwitch {
		ops = append(ops, map[string]any{"op": "insert", "table": "Logical_Switch",
			"row": map[string]any{"name": fmt.Sprintf("bench-sw-%d-%d", w.id, seq/w.every), "ports": ports}})
	} else {
		ops = append(ops, map[string]any{"op": "mutate", "table": "Logical_Switch",
			"where":     []any{[]any{"_uuid", "==", []any{"uuid", w.switchUUID}}},
			"mutations": []any{[]any{"ports", "insert", ports}}})
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	res, err := w.c.Call(cctx, "transact", ops...)
	if err != nil {
		return fmt.Errorf("writer %d transaction %d: %w", w.id, seq, err)
	}
	var results []struct {
		UUID    []string `json:"uuid"`
		Count   *int     `json:"count"`
		Error   string   `json:"error"`
		Details string   `json:"details"`
	}
	if err := json.Unmarshal(res, &results); err != nil {
		return fmt.Errorf("writer %d transaction %d: result %.200s: %w", w.id, seq, res, err)
	}
	if len(results) < w.rows+1 {
		return fmt.Errorf("writer %d transaction %d: %d results for %d operations: %.300s", w.id, seq, len(results), w.rows+1, res)
	}
	for _, r := range results {
		if r.Error != "" {
			return fmt.Errorf("writer %d transaction %d: %s: %s", w.id, seq, r.Error, r.Details)
		}
	}
	last := results[w.rows]
	switch {
	case newSwitch && len(last.UUID) == 2:
		w.switchUUID = last.UUID[1]
	case newSwitch:
		return fmt.Errorf("writer %d transaction %d: switch insert returned %.200s", w.id, seq, res)
	case last.Count == nil || *last.Count != 1:
		return fmt.Errorf("writer %d transaction %d: switch mutate matched %v rows", w.id, seq, last.Count)
	}
	return nil
}

// tableUpdates2 is a <table-updates2> restricted to the name column.
type tableUpdates2 map[string]map[string]map[string]*struct {
	Name *string `json:"name"`
}

// benchRows returns the bench rows inserted by u and the number of
// preloaded (non-bench) rows; a deleted row or a bench row that is not an
// insert is an error.
func benchRows(u tableUpdates2) (rows map[txnKey]int, other int, err error) {
	rows = map[txnKey]int{}
	for uuid, ops := range u[lspTable] {
		for op, row := range ops {
			switch op {
			case "insert", "initial":
			case "modify":
				continue
			default:
				return nil, 0, fmt.Errorf("row %s: unexpected %q", uuid, op)
			}
			if row == nil || row.Name == nil {
				return nil, 0, fmt.Errorf("row %s: %s without a name", uuid, op)
			}
			key, _, ok := parseRowName(*row.Name)
			if !ok {
				other++
				continue
			}
			rows[key]++
		}
	}
	return rows, other, nil
}

// monitorRequests asks for the name of every Logical_Switch_Port.
func monitorRequests() map[string]any {
	return map[string]any{lspTable: []any{map[string]any{"columns": []string{"name"}}}}
}

// dialWatcher connects w to addr and starts its monitor, with
// monitor_cond_since if the server has it and monitor_cond otherwise.
// It returns the client, the method used and the rows of the initial
// state.
func dialWatcher(ctx context.Context, addr string, w *watcher) (*jsonrpc.Client, string, int, error) {
	handler := func(method string, params json.RawMessage) {
		now := time.Now()
		var ps []json.RawMessage
		if err := json.Unmarshal(params, &ps); err != nil {
			w.errorf("%s: bad params: %v", method, err)
			return
		}
		var raw json.RawMessage
		switch {
		case method == "update3" && len(ps) == 3:
			raw = ps[2]
		case method == "update2" && len(ps) == 2:
			raw = ps[1]
		default:
			return
		}
		var u tableUpdates2
		if err := json.Unmarshal(raw, &u); err != nil {
			w.errorf("%s: bad updates: %v", method, err)
			return
		}
		rows, _, err := benchRows(u)
		if err != nil {
			w.errorf("%s: %v", method, err)
			return
		}
		w.update(rows, now)
	}
	w.hold()
	c, err := jsonrpc.Dial(ctx, addr, jsonrpc.WithNotificationHandler(handler), jsonrpc.WithClientMaxSize(1<<30))
	if err != nil {
		return nil, "", 0, err
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	method := monCondSince
	var initial json.RawMessage
	res, err := c.Call(cctx, monCondSince, dbName, "bench", monitorRequests(), zeroUUID)
	var rpcErr *jsonrpc.RPCError
	if errors.As(err, &rpcErr) {
		method = monCond
		res, err = c.Call(cctx, monCond, dbName, "bench", monitorRequests())
		initial = res
	} else if err == nil {
		var reply []json.RawMessage
		if err = json.Unmarshal(res, &reply); err == nil && len(reply) != 3 {
			err = fmt.Errorf("reply %.200s", res)
		}
		if err == nil {
			initial = reply[2]
		}
	}
	if err != nil {
		_ = c.Close()
		return nil, "", 0, fmt.Errorf("%s on %s: %w", method, addr, err)
	}
	var u tableUpdates2
	if uerr := json.Unmarshal(initial, &u); uerr != nil {
		_ = c.Close()
		return nil, "", 0, fmt.Errorf("%s on %s: initial state: %w", method, addr, uerr)
	}
	rows, other, err := benchRows(u)
	if err != nil {
		_ = c.Close()
		return nil, "", 0, fmt.Errorf("%s on %s: initial state: %w", method, addr, err)
	}
	n := other
	for _, v := range rows {
		n += v
	}
	w.start(rows, time.Now())
	return c, method, n, nil
}

// selectNames returns the name of every Logical_Switch_Port on addr.
func selectNames(ctx context.Context, addr string) ([]string, error) {
	c, err := jsonrpc.Dial(ctx, addr, jsonrpc.WithClientMaxSize(1<<30))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	res, err := c.Call(cctx, "transact", dbName, map[string]any{"op": "select", "table": lspTable,
		"where": []any{}, "columns": []string{"name"}})
	if err != nil {
		return nil, fmt.Errorf("select names: %w", err)
	}
	var out []struct {
		Rows []struct {
			Name string `json:"name"`
		} `json:"rows"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(res, &out); err != nil || len(out) != 1 || out[0].Error != "" {
		return nil, fmt.Errorf("select names: %.300s (%w)", res, err)
	}
	names := make([]string, len(out[0].Rows))
	for i, r := range out[0].Rows {
		names[i] = r.Name
	}
	return names, nil
}
