package txn

import (
	"crypto/rand"
	"encoding/json"
	"maps"
	"math"
	"sort"
	"strings"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

// Options are the caller's context for one transaction.
type Options struct {
	// HasLock reports whether the session holds the named lock ("assert").
	// nil means it holds none.
	HasLock func(name string) bool
	// NewUUID generates UUIDs for inserted rows and _version; nil: random.
	NewUUID func() ovsdb.UUID
	// WaitExpired makes an unsatisfied "wait" fail with "timed out" instead
	// of blocking (set when the wait's timeout has run out; timeout 0 always
	// fails at once). A wait without a timeout never expires.
	WaitExpired bool
	// ElapsedMs is how long the transaction has been waiting since it first
	// arrived. A wait whose timeout is at most ElapsedMs has expired too, and
	// a nonzero ElapsedMs goes into the "timed out" details as ovsdb-server
	// writes them ("\"wait\" timed out after N ms").
	ElapsedMs int64
}

// RowChange is one row's net change: Old nil for an insert, New nil for a
// delete. New carries the bumped "_version". Old holds every column; New
// may lack columns that hold their default (an inserted row keeps only
// the columns its insert gave), as schema.Table.EncodeRow and Put take
// it.
type RowChange struct {
	Table string
	UUID  ovsdb.UUID
	Old   ovsdb.Row
	New   ovsdb.Row
}

// Result is the outcome of Execute.
type Result struct {
	// Reply is the transact result array exactly as ovsdb-server returns it.
	Reply []any
	// Changes are the committed row changes, already applied to the
	// Database; empty when the transaction failed or changed nothing.
	Changes []RowChange
	// Comments are the "comment" operations' strings, in order.
	Comments []string
	// Durable is true when a "commit" operation asked for durability.
	Durable bool
	// Blocked is true when a "wait" is not satisfied yet and its timeout
	// has not run out: nothing was applied and Reply is nil; the caller
	// runs the transaction again after a later commit, or with WaitExpired
	// once BlockTimeoutMs has passed since it first arrived.
	// BlockTimeoutMs is the timeout of the wait that blocked, 0 when it
	// has none (a wait with timeout 0 fails at once instead of blocking).
	// Only that wait's deadline matters: ovsdb-server also retries at the
	// earlier deadlines of waits that were satisfied, to the same effect.
	Blocked        bool
	BlockTimeoutMs int64
}

type executor func(x *txn, p *opParser, result map[string]any) *ovsdb.Error

type operation struct {
	exec     executor
	readOnly bool
}

var operations map[string]operation

func init() {
	operations = map[string]operation{
		"insert":  {execInsert, false},
		"select":  {execSelect, true},
		"update":  {execUpdate, false},
		"mutate":  {execMutate, false},
		"delete":  {execDelete, false},
		"wait":    {execWait, true},
		"commit":  {execCommit, false},
		"abort":   {execAbort, true},
		"comment": {execComment, true},
		"assert":  {execAssert, true},
	}
}

// Execute runs the operations of one transact request (the params after
// the database name, decoded with json.Decoder.UseNumber) against db. On
// success it applies the changes to db and returns them; on failure db is
// unchanged.
//
// It follows ovsdb-server's ovsdb_execute_compose: operations run in
// order until one fails; the failing one's error object takes its place
// and every later operation gets null. Checks that need the whole
// transaction (referential integrity, garbage collection, maxRows, weak
// references, index uniqueness) run afterwards, in ovsdb-server's order,
// and their error is appended as one extra element.
func Execute(db *Database, ops []any, opts Options) Result {
	x := newTxn(db, opts)
	n := len(ops)
	reply := make([]any, 0, n+1)
	failed := false
	p := new(opParser)
	for i, op := range ops {
		p.reset(op, i+1, n)
		result := map[string]any{}
		var err *ovsdb.Error
		readOnly := false
		var opName string
		if v, ok := p.member("op", kID); ok {
			opName = v.(string)
			if o, ok := operations[opName]; ok {
				readOnly = o.readOnly
				err = o.exec(x, p, result)
			} else {
				p.raise("No operation \"%s\"", opName)
			}
		}
		if perr := p.finish(); perr != nil {
			err = perr
		}
		if err == nil && !readOnly && strings.HasPrefix(db.schema.Name, "_") {
			err = ovsdb.NewError(ovsdb.TagNotAllowed, "%s operation not allowed on table in reserved database %s", opName, db.schema.Name)
		}
		if err != nil {
			x.abort()
			if err.Tag == ovsdb.TagNotSupported {
				timeout := x.blockTimeoutMs
				if timeout == math.MaxInt64 {
					timeout = 0
				}
				return Result{Blocked: true, BlockTimeoutMs: timeout}
			}
			reply = append(reply, err.JSON())
			failed = true
			break
		}
		reply = append(reply, result)
	}
	for len(reply) < n {
		reply = append(reply, nil)
	}
	if failed {
		return Result{Reply: reply}
	}
	changes, err := x.commit()
	if err != nil {
		x.abort()
		reply = append(reply, err.JSON())
		return Result{Reply: reply}
	}
	return Result{Reply: reply, Changes: changes, Comments: x.comments, Durable: x.durable}
}

// txn is one transaction in progress: an overlay of changed rows over the
// committed Database, which it never modifies before commit.
type txn struct {
	db       *Database
	opts     Options
	newUUID  func() ovsdb.UUID
	tables   map[*table]*txnTable
	order    []*txnTable // tables in the order first touched
	symbols  map[string]*symbol
	comments []string
	durable  bool
	// blockTimeoutMs is the timeout of the wait that blocked.
	blockTimeoutMs int64
	// serial numbers the eachRow passes.
	serial int
}

type txnTable struct {
	t    *table
	rows map[ovsdb.UUID]*txnRow // live rows of the transaction
	list []*txnRow              // every row ever added, in order
	// hm holds the live rows in ovsdb-server's order (see rowHmap).
	hm rowHmap
	// for eachRow: the pass that last visited the table, how many rows
	// that pass visited, and whether the table left the transaction.
	serial     int
	nProcessed int
	dropped    bool
}

// txnRow is a row the transaction touched: old is the committed row (nil
// for an insert), new the row after the transaction (nil for a delete).
type txnRow struct {
	uuid ovsdb.UUID
	old  ovsdb.Row
	new  ovsdb.Row
	// owned is true when new is the transaction's own map (not old's).
	owned bool
	// dead marks a row inserted and deleted again: it is forgotten.
	dead bool
	// commit-time state
	nRefs   int
	changed bool
	// rowHmap chaining, and the eachRow pass that last visited the row.
	hash   uint32
	hnext  *txnRow
	serial int
	// node is an inserted row's place in its table's rowOrder.
	node *rnode
}

type symbol struct {
	uuid    ovsdb.UUID
	created bool
}

func newTxn(db *Database, opts Options) *txn {
	x := &txn{db: db, opts: opts, tables: map[*table]*txnTable{}, symbols: map[string]*symbol{}}
	x.newUUID = opts.NewUUID
	if x.newUUID == nil {
		x.newUUID = randomUUID
	}
	return x
}

func randomUUID() ovsdb.UUID {
	var u ovsdb.UUID
	_, _ = rand.Read(u[:])
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return u
}

// symbolFor is ovsdb_symbol_table_insert: a named-uuid gets its UUID the
// first time it is seen, whether in an insert or in a reference.
func (x *txn) symbolFor(name string) *symbol {
	s := x.symbols[name]
	if s == nil {
		s = &symbol{uuid: x.newUUID()}
		x.symbols[name] = s
	}
	return s
}

// Resolve implements ovsdb.Symbols.
func (x *txn) Resolve(name string) (ovsdb.UUID, error) {
	return x.symbolFor(name).uuid, nil
}

// txnTable returns t's part of the transaction, adding it after the
// tables already touched (ovsdb_txn_create_txn_table). A table whose rows
// all left the transaction at commit is added again as a new one.
func (x *txn) txnTable(t *table) *txnTable {
	tt := x.tables[t]
	if tt == nil || tt.dropped {
		tt = &txnTable{t: t, rows: map[ovsdb.UUID]*txnRow{}}
		x.tables[t] = tt
		x.order = append(x.order, tt)
	}
	return tt
}

// get returns the row as the transaction sees it; ok is false when there
// is none.
func (x *txn) get(t *table, uuid ovsdb.UUID) (m match, ok bool) {
	if tt := x.tables[t]; tt != nil {
		if tr := tt.rows[uuid]; tr != nil {
			return match{uuid: uuid, row: tr.new}, tr.new != nil
		}
	}
	if e := t.rows[uuid]; e != nil {
		return match{uuid: uuid, e: e, t: t}, true
	}
	return match{}, false
}

func (x *txn) mayCreate(t *table, uuid ovsdb.UUID) bool {
	if tt := x.tables[t]; tt != nil {
		if tr := tt.rows[uuid]; tr != nil {
			return false
		}
	}
	return t.rows[uuid] == nil
}

func (x *txn) insert(t *table, uuid ovsdb.UUID, row ovsdb.Row) {
	tt := x.txnTable(t)
	tr := &txnRow{uuid: uuid, new: row, owned: true, node: newRnode(uuid)}
	tt.rows[uuid] = tr
	tt.list = append(tt.list, tr)
	tt.hm.insert(tr)
	t.hm.insert(tr.node)
}

// findOrMake returns the transaction's row for uuid, pulling a committed
// row into the transaction unchanged; nil when no such row exists.
func (x *txn) findOrMake(t *table, uuid ovsdb.UUID) *txnRow {
	if tt := x.tables[t]; tt != nil {
		if tr := tt.rows[uuid]; tr != nil {
			return tr
		}
	}
	e := t.rows[uuid]
	if e == nil {
		return nil
	}
	tt := x.txnTable(t)
	old := t.rowMap(e.r)
	tr := &txnRow{uuid: uuid, old: old, new: old, nRefs: t.strongIn[uuid]}
	tt.rows[uuid] = tr
	tt.list = append(tt.list, tr)
	tt.hm.insert(tr)
	return tr
}

// forget drops a row from the transaction (ovsdb-server frees its
// txn_row): a row inserted and deleted again, or one left unchanged.
func (x *txn) forget(tt *txnTable, tr *txnRow) {
	tr.dead = true
	delete(tt.rows, tr.uuid)
	tt.hm.remove(tr)
}

// writable returns the transaction's own copy of a live row.
func (x *txn) writable(t *table, uuid ovsdb.UUID) *txnRow {
	tr := x.findOrMake(t, uuid)
	if tr == nil || tr.new == nil {
		return nil
	}
	if !tr.owned {
		tr.new = maps.Clone(tr.new) // copies the map's tables whole, without rehashing
		tr.owned = true
	}
	return tr
}

func (x *txn) delete(t *table, uuid ovsdb.UUID) {
	tr := x.findOrMake(t, uuid)
	if tr == nil {
		return
	}
	x.unorder(t, tr)
	if tr.old == nil {
		tr.new = nil
		x.forget(x.tables[t], tr)
		return
	}
	tr.new = nil
	tr.owned = false
}

// unorder takes a row the transaction deletes out of its table's order.
func (x *txn) unorder(t *table, tr *txnRow) {
	if tr.old == nil {
		t.hm.remove(tr.node)
	} else if e := t.rows[tr.uuid]; e != nil {
		t.hm.remove(e.node)
	}
}

// abort is ovsdb_txn_abort's effect on the order of the tables' rows:
// rows it inserted leave, rows it deleted come back.
func (x *txn) abort() {
	_ = x.eachRow(func(tt *txnTable, tr *txnRow) *ovsdb.Error {
		switch {
		case tr.old == nil && tr.new != nil:
			tt.t.hm.remove(tr.node)
		case tr.old != nil && tr.new == nil:
			if e := tt.t.rows[tr.uuid]; e != nil {
				tt.t.hm.insert(e.node)
			}
		}
		return nil
	})
}

// scan is query for callers that do not depend on the order of the rows
// (select sorts them, wait compares sets): it walks the rows in memory
// order, which is much faster on large tables.
func (x *txn) scan(t *table, cond *Condition) []match {
	if cond.alwaysFalse() {
		return nil
	}
	if _, ok := cond.uuidEquality(); ok {
		return x.query(t, cond)
	}
	var out []match
	tt := x.tables[t]
	overlay := tt != nil && len(tt.rows) > 0
	for _, e := range t.list {
		if overlay {
			if tr := tt.rows[e.node.uuid]; tr != nil {
				if tr.new != nil && cond.Match(e.node.uuid, tr.new) {
					out = append(out, match{uuid: e.node.uuid, row: tr.new})
				}
				continue
			}
		}
		if cond.matchVals(t, e.node.uuid, e.r) {
			out = append(out, match{uuid: e.node.uuid, e: e, t: t})
		}
	}
	if tt != nil {
		for _, tr := range tt.list {
			if tr.old == nil && tr.new != nil && !tr.dead && cond.Match(tr.uuid, tr.new) {
				out = append(out, match{uuid: tr.uuid, row: tr.new})
			}
		}
	}
	return out
}

// match is a row a query found: the transaction's row, or (row nil) a
// committed row of t, read in place.
type match struct {
	uuid ovsdb.UUID
	row  ovsdb.Row
	e    *entry
	t    *table
}

// col returns the row's datum of a column ("_uuid" included).
func (m *match) col(name string, typ ovsdb.Type) ovsdb.Datum {
	if m.row != nil || m.t == nil {
		return columnDatum(m.uuid, m.row, name, typ)
	}
	if name == "_uuid" {
		return ovsdb.Datum{Keys: []ovsdb.Atom{m.uuid}}
	}
	if i, ok := m.t.colIdx[name]; ok {
		return m.t.at(m.e.r, i)
	}
	return ovsdb.DefaultDatum(typ)
}

// matches reports whether the row satisfies cond.
func (m *match) matches(cond *Condition) bool {
	if m.row != nil || m.t == nil {
		return cond.Match(m.uuid, m.row)
	}
	return cond.matchVals(m.t, m.uuid, m.e.r)
}

// query returns the rows of t that satisfy cond, as the transaction sees
// them (ovsdb_query, with its shortcut for "_uuid" equality).
func (x *txn) query(t *table, cond *Condition) []match {
	var out []match
	if cond.alwaysFalse() {
		return nil
	}
	if u, ok := cond.uuidEquality(); ok {
		if m, ok := x.get(t, u); ok && m.matches(cond) {
			out = append(out, m)
		}
		return out
	}
	// The table's order holds exactly the rows the transaction sees.
	tt := x.tables[t]
	overlay := tt != nil && len(tt.rows) > 0
	for nd := t.hm.first(); nd != nil; nd = t.hm.next(nd) {
		if overlay {
			if tr := tt.rows[nd.uuid]; tr != nil && tr.new != nil {
				if cond.Match(nd.uuid, tr.new) {
					out = append(out, match{uuid: nd.uuid, row: tr.new})
				}
				continue
			}
		}
		if nd.e == nil {
			continue
		}
		if cond.matchVals(t, nd.uuid, nd.e.r) {
			out = append(out, match{uuid: nd.uuid, e: nd.e, t: t})
		}
	}
	return out
}

// parseTable is parse_table: the operation's "table" member must name a
// table.
func (x *txn) parseTable(p *opParser) *table {
	v, ok := p.member("table", kID)
	if !ok {
		return nil
	}
	name := v.(string)
	t := x.db.tables[name]
	if t == nil {
		p.raise("No table named %s.", name)
	}
	return t
}

// parseRow is ovsdb_row_from_json: the given columns only, in name order
// (returned as well when withCols). The row has room for extra more
// columns.
func (x *txn) parseRow(t *table, v any, extra int, withCols bool) (ovsdb.Row, []*schema.Column, *ovsdb.Error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, nil, syntaxError(v, true, "", "row must be JSON object")
	}
	// Members in byte order, so that named-uuids get their UUIDs in a
	// deterministic order.
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	sort.Strings(names)
	row := make(ovsdb.Row, len(obj)+extra)
	var cols []*schema.Column
	if withCols {
		cols = make([]*schema.Column, 0, len(obj))
	}
	ok = true
	for _, name := range names {
		c := t.ts.Columns[name]
		if c == nil {
			ok = false
			break
		}
		d, err := ovsdb.ParseDatum(c.Type, obj[name], x)
		if err != nil {
			ok = false
			break
		}
		row[name] = d
		if withCols {
			cols = append(cols, c)
		}
	}
	if ok {
		return row, cols, nil
	}
	// Something is wrong: find the error ovsdb-server reports first, in
	// its order of the object's members.
	for _, name := range objectOrder(obj) {
		c := t.ts.Columns[name]
		if c == nil {
			return nil, nil, syntaxError(v, true, ovsdb.TagUnknownColumn, "No column %s in table %s.", name, t.name)
		}
		if _, err := ovsdb.ParseDatum(c.Type, obj[name], x); err != nil {
			return nil, nil, ovsdb.AsError(err)
		}
	}
	return nil, nil, ovsdb.NewError(ovsdb.TagInternalError, "row parse failed without an error")
}

func execInsert(x *txn, p *opParser, result map[string]any) *ovsdb.Error {
	t := x.parseTable(p)
	uuidJSON, hasUUID := p.member("uuid", kString|kOptional)
	nameJSON, hasName := p.member("uuid-name", kID|kOptional)
	rowJSON, _ := p.member("row", kObject)
	if p.err != nil {
		return p.err
	}
	var rowUUID ovsdb.UUID
	if hasUUID {
		u, err := ovsdb.ParseUUID(uuidJSON.(string))
		if err != nil {
			return syntaxError(uuidJSON, true, "", "bad uuid")
		}
		if !x.mayCreate(t, u) {
			return syntaxError(uuidJSON, true, ovsdb.TagDuplicateUUID,
				"This UUID would duplicate a UUID already present within the table or deleted within the same transaction.")
		}
		rowUUID = u
	}
	if hasName {
		s := x.symbolFor(nameJSON.(string))
		if s.created {
			return syntaxError(nameJSON, true, ovsdb.TagDuplicateUUIDName,
				"This \"uuid-name\" appeared on an earlier \"insert\" operation.")
		}
		if hasUUID {
			s.uuid = rowUUID
		} else {
			rowUUID = s.uuid
		}
		s.created = true
	} else if !hasUUID {
		rowUUID = x.newUUID()
	}
	// The row keeps only the columns given: the others hold their
	// defaults (see rowVal). A map of every column cost about 2 KB per
	// inserted Logical_Switch_Port, most of a 100-row transaction's
	// allocations.
	row, _, err := x.parseRow(t, rowJSON, 1, false)
	if err != nil {
		return err
	}
	delete(row, "_uuid")
	delete(row, "_version")
	// Defaults may not satisfy the constraints (an enum, a minimum).
	for i, c := range t.hashCols {
		if d, ok := row[c.Name]; ok {
			if d.Len() == 1 {
				if err := c.Type.CheckDatum(d); err != nil {
					return ovsdb.AsError(err)
				}
			}
		} else if err := t.defaultErrs[i]; err != nil {
			return err
		}
	}
	row["_version"] = ovsdb.Datum{Keys: []ovsdb.Atom{x.newUUID()}}
	x.insert(t, rowUUID, row)
	result["uuid"] = []any{"uuid", rowUUID.String()}
	return nil
}

// parseColumns is ovsdb_column_set_from_json; absent means every column.
func parseColumns(t *table, v any, present bool) ([]*schema.Column, *ovsdb.Error) {
	if !present {
		cols := make([]*schema.Column, 0, len(t.cols)+2)
		if c := t.ts.Columns["_uuid"]; c != nil {
			cols = append(cols, c)
		}
		if c := t.ts.Columns["_version"]; c != nil {
			cols = append(cols, c)
		}
		return append(cols, t.cols...), nil
	}
	arr, ok := v.([]any)
	bad := func() *ovsdb.Error { return syntaxError(v, true, "", "array of distinct column names expected") }
	if !ok {
		return nil, bad()
	}
	seen := map[string]bool{}
	cols := make([]*schema.Column, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, bad()
		}
		c := t.ts.Columns[s]
		if c == nil {
			return nil, syntaxError(v, true, "", "%s is not a valid column name", s)
		}
		if seen[s] {
			return nil, bad()
		}
		seen[s] = true
		cols = append(cols, c)
	}
	return cols, nil
}

func execSelect(x *txn, p *opParser, result map[string]any) *ovsdb.Error {
	t := x.parseTable(p)
	where, _ := p.member("where", kArray)
	colsJSON, hasCols := p.member("columns", kArray|kOptional)
	sortJSON, hasSort := p.member("sort", kArray|kOptional)
	if p.err != nil {
		return p.err
	}
	cond, err := parseCondition(t.ts, where, x)
	if err != nil {
		return err
	}
	cols, err := parseColumns(t, colsJSON, hasCols)
	if err != nil {
		return err
	}
	// Without "sort", ovsdb-server sorts by every column, in its column
	// order; the rows come out in the same order here.
	sortCols := t.hashCols
	if hasSort {
		if sortCols, err = parseColumns(t, sortJSON, true); err != nil {
			return err
		}
	}
	rows := x.scan(t, cond)
	distinct := hasCols
	for _, c := range cols {
		if c.Name == "_uuid" {
			distinct = false
		}
	}
	if distinct {
		var dup bool
		if rows, dup = distinctRows(rows, cols); dup {
			// Which of equal rows is kept shows in the sort (by every
			// column, unselected ones too): keep the first in
			// ovsdb-server's row order, as its ovsdb_query_distinct does.
			rows, _ = distinctRows(x.query(t, cond), cols)
		}
	}
	sortRows(rows, sortCols)
	out := make([]any, len(rows))
	for i, m := range rows {
		obj := make(map[string]any, len(cols))
		for _, c := range cols {
			obj[c.Name] = datumReply(c.Type, m.col(c.Name, c.Type))
		}
		out[i] = obj
	}
	result["rows"] = out
	return nil
}

// distinctRows keeps the first of rows equal in cols, and reports
// whether there were any such duplicates.
func distinctRows(rows []match, cols []*schema.Column) ([]match, bool) {
	seen := map[string]bool{}
	var buf []byte
	kept := rows[:0]
	for _, m := range rows {
		buf = buf[:0]
		for _, c := range cols {
			buf = appendDatumKey(buf, m.col(c.Name, c.Type))
		}
		if !seen[string(buf)] {
			seen[string(buf)] = true
			kept = append(kept, m)
		}
	}
	return kept, len(kept) < len(rows)
}

func execUpdate(x *txn, p *opParser, result map[string]any) *ovsdb.Error {
	t := x.parseTable(p)
	where, _ := p.member("where", kArray)
	rowJSON, _ := p.member("row", kObject)
	if p.err != nil {
		return p.err
	}
	row, cols, err := x.parseRow(t, rowJSON, 0, true)
	if err != nil {
		return err
	}
	for _, c := range cols {
		if !isMutable(c) {
			// Report the first in ovsdb-server's order of the members.
			for _, name := range objectOrder(rowJSON.(map[string]any)) {
				if c := t.ts.Columns[name]; !isMutable(c) {
					return syntaxError(p.obj, true, ovsdb.TagConstraintViolation, "Cannot update immutable column %s in table %s.", c.Name, t.name)
				}
			}
		}
	}
	cond, err := parseCondition(t.ts, where, x)
	if err != nil {
		return err
	}
	matches := x.query(t, cond)
	for _, m := range matches {
		same := true
		for _, c := range cols {
			if !m.col(c.Name, c.Type).Equal(row[c.Name]) {
				same = false
				break
			}
		}
		if same {
			continue
		}
		tr := x.writable(t, m.uuid)
		for _, c := range cols {
			tr.new[c.Name] = row[c.Name]
		}
	}
	result["count"] = int64(len(matches))
	return nil
}

func execMutate(x *txn, p *opParser, result map[string]any) *ovsdb.Error {
	t := x.parseTable(p)
	where, _ := p.member("where", kArray)
	mutJSON, _ := p.member("mutations", kArray)
	if p.err != nil {
		return p.err
	}
	ms, err := parseMutations(t.ts, mutJSON.([]any), x)
	if err != nil {
		return err
	}
	cond, err := parseCondition(t.ts, where, x)
	if err != nil {
		return err
	}
	matches := x.query(t, cond)
	for _, m := range matches {
		nr, err := applyMutations(&m, ms)
		if err != nil {
			return err
		}
		tr := x.writable(t, m.uuid)
		for name, d := range nr {
			tr.new[name] = d
		}
	}
	result["count"] = int64(len(matches))
	return nil
}

func execDelete(x *txn, p *opParser, result map[string]any) *ovsdb.Error {
	where, _ := p.member("where", kArray)
	t := x.parseTable(p)
	if p.err != nil {
		return p.err
	}
	cond, err := parseCondition(t.ts, where, x)
	if err != nil {
		return err
	}
	matches := x.query(t, cond)
	for _, m := range matches {
		x.delete(t, m.uuid)
	}
	result["count"] = int64(len(matches))
	return nil
}

func execWait(x *txn, p *opParser, _ map[string]any) *ovsdb.Error {
	timeoutJSON, hasTimeout := p.member("timeout", kInteger|kOptional)
	where, _ := p.member("where", kArray)
	colsJSON, hasCols := p.member("columns", kArray|kOptional)
	untilJSON, _ := p.member("until", kString)
	rowsJSON, _ := p.member("rows", kArray)
	t := x.parseTable(p)
	if p.err != nil {
		return p.err
	}
	cond, err := parseCondition(t.ts, where, x)
	if err != nil {
		return err
	}
	cols, err := parseColumns(t, colsJSON, hasCols)
	if err != nil {
		return err
	}
	var timeoutMs int64 = math.MaxInt64
	if hasTimeout {
		timeoutMs = jsonInt(timeoutJSON)
		if timeoutMs < 0 {
			return syntaxError(timeoutJSON, true, "", "timeout must be nonnegative")
		}
	}
	until := untilJSON.(string)
	if until != "==" && until != "!=" {
		return syntaxError(untilJSON, true, "", "\"until\" must be \"==\" or \"!=\"")
	}
	project := func(buf []byte, m *match) []byte {
		for _, c := range cols {
			buf = appendDatumKey(buf, m.col(c.Name, c.Type))
		}
		return buf
	}
	expected := map[string]bool{}
	var buf []byte
	for _, rj := range rowsJSON.([]any) {
		given, _, err := x.parseRow(t, rj, 0, false)
		if err != nil {
			return err
		}
		row := make(ovsdb.Row, len(t.ts.Columns))
		var uuid ovsdb.UUID
		for name, c := range t.ts.Columns {
			if d, ok := given[name]; ok {
				row[name] = d
			} else {
				row[name] = ovsdb.DefaultDatum(c.Type)
			}
		}
		if d := row["_uuid"]; d.Len() == 1 {
			uuid, _ = d.Keys[0].(ovsdb.UUID)
		}
		buf = project(buf[:0], &match{uuid: uuid, row: row})
		expected[string(buf)] = true
	}
	equal := true
	actual := map[string]bool{}
	for _, m := range x.scan(t, cond) {
		buf = project(buf[:0], &m)
		if !expected[string(buf)] {
			equal = false
			break
		}
		actual[string(buf)] = true
	}
	if equal {
		equal = len(actual) == len(expected)
	}
	if (until == "==") == equal {
		return nil
	}
	if hasTimeout && (x.opts.WaitExpired || x.opts.ElapsedMs >= timeoutMs) {
		// ovsdb-server retries the transaction when the timeout runs out,
		// so the elapsed time it reports is at least the timeout.
		elapsed := x.opts.ElapsedMs
		if x.opts.WaitExpired && elapsed < timeoutMs {
			elapsed = timeoutMs
		}
		if elapsed > 0 {
			return ovsdb.NewError(ovsdb.TagTimedOut, "\"wait\" timed out after %d ms", elapsed)
		}
		return ovsdb.NewError(ovsdb.TagTimedOut, "\"where\" clause test failed")
	}
	x.blockTimeoutMs = timeoutMs
	return ovsdb.NewError(ovsdb.TagNotSupported, "triggers not supported")
}

func execCommit(x *txn, p *opParser, _ map[string]any) *ovsdb.Error {
	if v, ok := p.member("durable", kBool); ok && v.(bool) {
		x.durable = true
	}
	return nil
}

func execAbort(*txn, *opParser, map[string]any) *ovsdb.Error {
	return ovsdb.NewError(ovsdb.TagAborted, "aborted by request")
}

func execComment(x *txn, p *opParser, _ map[string]any) *ovsdb.Error {
	if v, ok := p.member("comment", kString); ok {
		x.comments = append(x.comments, v.(string))
	}
	return nil
}

func execAssert(x *txn, p *opParser, _ map[string]any) *ovsdb.Error {
	v, ok := p.member("lock", kID)
	if !ok {
		return nil
	}
	name := v.(string)
	if x.opts.HasLock != nil && x.opts.HasLock(name) {
		return nil
	}
	return ovsdb.NewError(ovsdb.TagNotOwner, "Asserted lock %s not held.", name)
}

// datumReply is ovsdb.DatumJSON with reals as json.Number in
// ovsdb-server's "%.15g" text, so that any JSON encoder writes the reply
// exactly as ovsdb-server does.
func datumReply(t ovsdb.Type, d ovsdb.Datum) any {
	if t.Key.Type != ovsdb.TypeReal && t.Value.Type != ovsdb.TypeReal {
		return ovsdb.DatumJSON(t, d)
	}
	atom := func(a ovsdb.Atom) any {
		if f, ok := a.(float64); ok {
			return json.Number(realText(f))
		}
		return ovsdb.AtomJSON(a)
	}
	if t.IsMap() {
		pairs := make([]any, len(d.Keys))
		for i := range d.Keys {
			pairs[i] = []any{atom(d.Keys[i]), atom(d.Values[i])}
		}
		return []any{"map", pairs}
	}
	if len(d.Keys) == 1 {
		return atom(d.Keys[0])
	}
	elems := make([]any, len(d.Keys))
	for i, a := range d.Keys {
		elems[i] = atom(a)
	}
	return []any{"set", elems}
}

// sortRows is ovsdb_row_set_sort. The first sort column's datums are
// fetched once, since most comparisons end there.
func sortRows(rows []match, cols []*schema.Column) {
	if len(rows) < 2 || len(cols) == 0 {
		return
	}
	type keyed struct {
		first ovsdb.Datum
		m     match
	}
	ks := make([]keyed, len(rows))
	c0 := cols[0]
	for i, m := range rows {
		ks[i] = keyed{m.col(c0.Name, c0.Type), m}
	}
	sort.SliceStable(ks, func(i, j int) bool {
		if r := ks[i].first.Compare(ks[j].first); r != 0 {
			return r < 0
		}
		a, b := ks[i].m, ks[j].m
		for _, c := range cols[1:] {
			r := a.col(c.Name, c.Type).Compare(b.col(c.Name, c.Type))
			if r != 0 {
				return r < 0
			}
		}
		return string(a.uuid[:]) < string(b.uuid[:])
	})
	for i := range ks {
		rows[i] = ks[i].m
	}
}
