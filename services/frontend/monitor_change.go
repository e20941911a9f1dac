package frontend

import (
	"fmt"
	"sort"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/txn"
)

// monitorCondChange implements ovsdb-server(7) monitor_cond_change:
// params [<monitor-id>, <new-monitor-id>, {<table>: [<monitor-cond-change-request>]}].
// Only conditions may change; the errors are ovsdb-server 3.1's.
func (s *session) monitorCondChange(m *jsonrpc.Message) error {
	params, err := m.DecodeParams()
	if err != nil {
		return fmt.Errorf("%w: %w", errProtocol, err)
	}
	if len(params) != 3 {
		s.replyError(m.ID, syntaxError(params, "invalid parameters").JSON())
		return nil
	}
	oldKey, newKey := ovsJSON(params[0]), ovsJSON(params[1])
	s.mu.Lock()
	mon, ok := s.monitors[oldKey]
	_, dup := s.monitors[newKey]
	s.mu.Unlock()
	if !ok {
		s.replyError(m.ID, syntaxError(params[0], "unknown monitor session").JSON())
		return nil
	}
	if newKey != oldKey && dup {
		s.replyError(m.ID, syntaxError(params[1], "duplicate monitor ID").JSON())
		return nil
	}
	tables, perr := parseCondChange(mon, params[2])
	if perr != nil {
		s.replyError(m.ID, perr.JSON())
		return nil
	}
	s.mu.Lock()
	delete(s.monitors, oldKey)
	s.monitors[newKey] = mon
	mon.key = newKey
	s.mu.Unlock()
	mon.feed.changeCond(mon, []byte(newKey), tables, m.ID)
	return nil
}

// parseCondChange returns, per table named in reqs, a copy of the
// monitor's table selection with the new condition.
func parseCondChange(mon *monitor, reqs any) (map[string]*tableMonitor, *ovsdb.Error) {
	obj, ok := reqs.(map[string]any)
	if !ok {
		return nil, syntaxError(reqs, "monitor-cond-change-requests must be object")
	}
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	sort.Strings(names)
	mon.feed.mu.Lock()
	current := make(map[string]*tableMonitor, len(mon.tables))
	for k, v := range mon.tables {
		current[k] = v
	}
	mon.feed.mu.Unlock()
	out := map[string]*tableMonitor{}
	for _, name := range names {
		t, ok := mon.feed.schema.Tables[name]
		if !ok {
			return nil, syntaxError(nil, "no table named "+name)
		}
		list, ok := obj[name].([]any)
		if !ok {
			return nil, syntaxError(nil, fmt.Sprintf("table %s no monitor-cond-change JSON array", name))
		}
		cur := current[name]
		if cur == nil {
			// ovsdb-server only changes tables the monitor has.
			return nil, syntaxError(nil, "no table named "+name)
		}
		ntm := *cur
		for _, r := range list {
			req, ok := r.(map[string]any)
			if !ok {
				return nil, syntaxError(r, fmt.Sprintf("table %s no monitor-cond-change JSON array", name))
			}
			if _, ok := req["columns"]; ok {
				return nil, syntaxError(r, "changing columns is unsupported")
			}
			if wv, ok := req["where"]; ok {
				cond, err := txn.ParseCondition(t, wv)
				if err != nil {
					return nil, ovsdb.AsError(err)
				}
				ntm.cond = cond
				ntm.condJSON = ovsJSON(wv)
			}
		}
		out[name] = &ntm
	}
	return out, nil
}
