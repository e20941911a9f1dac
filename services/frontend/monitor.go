package frontend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/txn"
)

// monitor is one monitor of one session on one database. Once it is
// registered with its feed, tables and idJSON change only under feed.mu
// (monitor_cond_change); key only under the session's mu.
type monitor struct {
	sess    *session
	feed    *feed
	key     string // canonical JSON of the monitor id
	idJSON  []byte
	version int // 1: "update" (monitor), 2: "update2" (monitor_cond), 3: "update3" (monitor_cond_since)
	tables  map[string]*tableMonitor
	sig     string // version and selection: equal sigs render equal updates
}

// signature identifies what m selects and how it renders it.
func (m *monitor) signature() string {
	names := make([]string, 0, len(m.tables))
	for name := range m.tables {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "v%d", m.version)
	for _, name := range names {
		tm := m.tables[name]
		fmt.Fprintf(&b, "|%s:%t%t%t%t:", name, tm.initial, tm.insert, tm.delete, tm.modify)
		for _, c := range tm.columns {
			b.WriteString(c.Name)
			b.WriteByte(',')
		}
		b.WriteByte(':')
		b.WriteString(tm.condJSON)
	}
	return b.String()
}

// tableMonitor is what a monitor selects from one table.
type tableMonitor struct {
	table                           *schema.Table
	columns                         []*schema.Column // sorted by name
	initial, insert, delete, modify bool
	cond                            *txn.Condition // nil: every row
	condJSON                        string         // the condition as the client sent it
}

// rowChange is one row's change in one revision: old nil for an insert,
// new nil for a delete.
type rowChange struct {
	table    string
	uuid     ovsdb.UUID
	old, new ovsdb.Row
}

// parseMonitor parses <monitor-requests> as ovsdb-server's
// ovsdb_jsonrpc_parse_monitor_request does, with its error texts.
func parseMonitor(db *database, version int, reqs any) (*monitor, *ovsdb.Error) {
	obj, ok := reqs.(map[string]any)
	if !ok {
		return nil, syntaxError(reqs, "monitor-requests must be object")
	}
	m := &monitor{feed: db.feed, version: version, tables: map[string]*tableMonitor{}}
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t, ok := db.schema.Tables[name]
		if !ok {
			return nil, syntaxError(nil, "no table named "+name)
		}
		tm := &tableMonitor{table: t}
		var list []any
		switch v := obj[name].(type) {
		case []any:
			list = v
		default:
			list = []any{v}
		}
		seen := map[string]bool{}
		for _, r := range list {
			if err := tm.parseRequest(version, r, seen); err != nil {
				return nil, err
			}
		}
		sort.Slice(tm.columns, func(i, j int) bool { return tm.columns[i].Name < tm.columns[j].Name })
		m.tables[name] = tm
	}
	m.sig = m.signature()
	return m, nil
}

func (tm *tableMonitor) parseRequest(version int, r any, seen map[string]bool) *ovsdb.Error {
	name := tm.table.Name
	req, ok := r.(map[string]any)
	if !ok {
		return syntaxError(nil, fmt.Sprintf("Parsing table %s failed: Object expected.", name))
	}
	for member := range req {
		allowed := member == "columns" || member == "select" || (member == "where" && version >= 2)
		if !allowed {
			return syntaxError(r, fmt.Sprintf("Parsing table %s failed: Member '%s' is present but not allowed here.", name, member))
		}
	}
	// Select flags; each defaults to true.
	sel := [4]bool{true, true, true, true}
	if sv, ok := req["select"]; ok {
		so, ok := sv.(map[string]any)
		if !ok {
			return syntaxError(r, fmt.Sprintf("Parsing table %s failed: Type mismatch for member 'select'.", name))
		}
		for member, v := range so {
			idx := map[string]int{"initial": 0, "insert": 1, "delete": 2, "modify": 3}
			i, known := idx[member]
			if !known {
				return syntaxError(so, fmt.Sprintf("Parsing table %s select failed: Member '%s' is present but not allowed here.", name, member))
			}
			b, ok := v.(bool)
			if !ok {
				return syntaxError(so, fmt.Sprintf("Parsing table %s select failed: Type mismatch for member '%s'.", name, member))
			}
			sel[i] = b
		}
	}
	tm.initial = tm.initial || sel[0]
	tm.insert = tm.insert || sel[1]
	tm.delete = tm.delete || sel[2]
	tm.modify = tm.modify || sel[3]

	if cv, ok := req["columns"]; ok {
		cols, ok := cv.([]any)
		if !ok {
			return syntaxError(r, fmt.Sprintf("Parsing table %s failed: Type mismatch for member 'columns'.", name))
		}
		for _, c := range cols {
			cname, ok := c.(string)
			if !ok {
				return syntaxError(cols, "array of column names expected")
			}
			col, ok := tm.table.Columns[cname]
			if !ok {
				return syntaxError(cols, cname+" is not a valid column name")
			}
			if seen[cname] {
				return syntaxError(cols, "column "+cname+" mentioned more than once")
			}
			seen[cname] = true
			tm.columns = append(tm.columns, col)
		}
	} else {
		for cname, col := range tm.table.Columns {
			if cname == "_uuid" {
				continue
			}
			if seen[cname] {
				return syntaxError(nil, "column "+cname+" mentioned more than once")
			}
			seen[cname] = true
			tm.columns = append(tm.columns, col)
		}
	}
	if wv, ok := req["where"]; ok {
		if _, isArr := wv.([]any); !isArr {
			return syntaxError(r, fmt.Sprintf("Parsing table %s failed: Type mismatch for member 'where'.", name))
		}
		cond, err := txn.ParseCondition(tm.table, wv)
		if err != nil {
			return ovsdb.AsError(err)
		}
		tm.cond = cond
		tm.condJSON = ovsJSON(wv)
	}
	return nil
}

func (tm *tableMonitor) match(uuid ovsdb.UUID, row ovsdb.Row) bool {
	if row == nil {
		return false
	}
	return tm.cond == nil || tm.cond.MatchAny(uuid, row)
}

// rowJSON renders the monitored columns of row. With skipDefaults,
// columns holding their type's default are left out, as update2's
// "initial" and "insert" do.
func (tm *tableMonitor) rowJSON(row ovsdb.Row, skipDefaults bool) map[string]any {
	out := make(map[string]any, len(tm.columns))
	for _, c := range tm.columns {
		d, ok := row[c.Name]
		if !ok {
			if skipDefaults {
				continue
			}
			d = ovsdb.DefaultDatum(c.Type)
		}
		if skipDefaults && d.Equal(ovsdb.DefaultDatum(c.Type)) {
			continue
		}
		out[c.Name] = ovsdb.DatumJSON(c.Type, d)
	}
	return out
}

// appendInitial appends the reply to the monitor request to dst: every
// current row that the monitor selects, as <table-updates> (version 1)
// or <table-updates2>. It streams: rows are decoded and encoded one at a
// time, so a large table costs its output bytes, not a tree of decoded
// rows and maps. Tables and rows come in sorted order, as json.Marshal
// writes map keys.
func (m *monitor) appendInitial(dst []byte, rows map[string]map[ovsdb.UUID][]byte, decode func(table string, raw []byte) ovsdb.Row) ([]byte, error) {
	names := make([]string, 0, len(m.tables))
	for name, tm := range m.tables {
		if tm.initial {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	kind := `":{"initial":`
	if m.version == 1 {
		kind = `":{"new":`
	}
	buf.WriteByte('{')
	firstTable := true
	var uuids []ovsdb.UUID
	for _, name := range names {
		tm := m.tables[name]
		uuids = uuids[:0]
		for u := range rows[name] {
			uuids = append(uuids, u)
		}
		slices.SortFunc(uuids, func(a, b ovsdb.UUID) int { return bytes.Compare(a[:], b[:]) })
		tableStart := buf.Len()
		n := 0
		for _, u := range uuids {
			row := decode(name, rows[name][u])
			if !tm.match(u, row) {
				continue
			}
			if n == 0 {
				if !firstTable {
					buf.WriteByte(',')
				}
				buf.WriteByte('"')
				buf.WriteString(name) // table names are identifiers
				buf.WriteString(`":{`)
			} else {
				buf.WriteByte(',')
			}
			n++
			buf.WriteByte('"')
			buf.WriteString(u.String())
			buf.WriteString(kind)
			if err := enc.Encode(tm.rowJSON(row, m.version != 1)); err != nil {
				return nil, fmt.Errorf("encode row %s of %s: %w", u, name, err)
			}
			buf.Truncate(buf.Len() - 1) // Encode's newline
			buf.WriteByte('}')
		}
		if n == 0 {
			buf.Truncate(tableStart)
			continue
		}
		buf.WriteByte('}')
		firstTable = false
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// updateJSON renders the <table-updates> (version 1) or
// <table-updates2> (version 2) of one revision's changes for m, or nil
// when none of them concerns it.
func (m *monitor) updateJSON(changes []rowChange) map[string]any {
	var out map[string]any
	for _, ch := range changes {
		tm, ok := m.tables[ch.table]
		if !ok {
			continue
		}
		var ru any
		if m.version == 1 {
			ru = tm.rowUpdate1(ch)
		} else {
			ru = tm.rowUpdate2(ch)
		}
		if ru == nil {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		tu, _ := out[ch.table].(map[string]any)
		if tu == nil {
			tu = map[string]any{}
			out[ch.table] = tu
		}
		tu[ch.uuid.String()] = ru
	}
	return out
}

// rowUpdate1 is RFC 7047's <row-update>: "new" for an insert, "old" for a
// delete, and for a modify "old" with only the changed columns and "new"
// with all of them. A modify that changes no monitored column is not
// sent.
func (tm *tableMonitor) rowUpdate1(ch rowChange) any {
	switch {
	case ch.old == nil:
		if !tm.insert {
			return nil
		}
		return map[string]any{"new": tm.rowJSON(ch.new, false)}
	case ch.new == nil:
		if !tm.delete {
			return nil
		}
		return map[string]any{"old": tm.rowJSON(ch.old, false)}
	}
	if !tm.modify {
		return nil
	}
	old := map[string]any{}
	for _, c := range tm.columns {
		if !ch.old[c.Name].Equal(ch.new[c.Name]) {
			old[c.Name] = ovsdb.DatumJSON(c.Type, ch.old[c.Name])
		}
	}
	if len(old) == 0 {
		return nil
	}
	return map[string]any{"old": old, "new": tm.rowJSON(ch.new, false)}
}

// rowUpdate2 is ovsdb-server(7)'s <row-update2>. With a condition, a row
// that starts matching is an insert and one that stops is a delete.
func (tm *tableMonitor) rowUpdate2(ch rowChange) any {
	oldMatch := tm.match(ch.uuid, ch.old)
	newMatch := tm.match(ch.uuid, ch.new)
	switch {
	case !oldMatch && !newMatch:
		return nil
	case !oldMatch:
		if !tm.insert {
			return nil
		}
		return map[string]any{"insert": tm.rowJSON(ch.new, true)}
	case !newMatch:
		if !tm.delete {
			return nil
		}
		return map[string]any{"delete": nil}
	}
	if !tm.modify {
		return nil
	}
	diff := map[string]any{}
	for _, c := range tm.columns {
		o, n := ch.old[c.Name], ch.new[c.Name]
		if o.Equal(n) {
			continue
		}
		diff[c.Name] = ovsdb.DatumJSON(c.Type, datumDiff(c.Type, o, n))
	}
	if len(diff) == 0 {
		return nil
	}
	return map[string]any{"modify": diff}
}

// datumDiff is ovsdb_datum_diff: for a column that holds at most one
// element, the new value; for a set, the symmetric difference; for a
// map, the pairs removed (with their old value), added, and changed
// (with their new value).
func datumDiff(t ovsdb.Type, o, n ovsdb.Datum) ovsdb.Datum {
	if t.Max <= 1 {
		return n
	}
	var keys, values []ovsdb.Atom
	i, j := 0, 0
	for i < len(o.Keys) || j < len(n.Keys) {
		var c int
		switch {
		case i == len(o.Keys):
			c = 1
		case j == len(n.Keys):
			c = -1
		default:
			c = ovsdb.CompareAtoms(o.Keys[i], n.Keys[j])
		}
		switch {
		case c < 0:
			keys = append(keys, o.Keys[i])
			if t.IsMap() {
				values = append(values, o.Values[i])
			}
			i++
		case c > 0:
			keys = append(keys, n.Keys[j])
			if t.IsMap() {
				values = append(values, n.Values[j])
			}
			j++
		default:
			if t.IsMap() && ovsdb.CompareAtoms(o.Values[i], n.Values[j]) != 0 {
				keys = append(keys, n.Keys[j])
				values = append(values, n.Values[j])
			}
			i++
			j++
		}
	}
	if t.IsMap() {
		if values == nil {
			values = []ovsdb.Atom{}
		}
		return ovsdb.Datum{Keys: keys, Values: values}
	}
	return ovsdb.Datum{Keys: keys}
}
