package txn

import (
	"fmt"
	"math"
	"sort"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

// Database is the in-memory state of one database. It is not safe for
// concurrent use: its owner (the txnengine commit loop, or a test)
// serializes every call.
//
// Besides the rows it keeps, per table, a hash map per schema index and the
// references into each row (a count of strong references, the set of rows
// holding weak ones), so that a transaction checks indexes, referential
// integrity and garbage collection on the rows it touches only.
type Database struct {
	schema *schema.Database
	tables map[string]*table
}

// rowKey names a row of one table.
type rowKey struct {
	table string
	uuid  ovsdb.UUID
}

type table struct {
	ts   *schema.Table
	name string
	// rows holds the committed rows. hm orders them as ovsdb-server's
	// table hash map does (see rowOrder); while a transaction runs it also
	// holds the rows it inserted and lacks those it deleted, as there.
	rows map[ovsdb.UUID]*entry
	hm   rowOrder
	// list holds the committed rows in memory-friendly order for scans
	// whose order does not matter (entry.pos indexes it).
	list []*entry
	// defaults are the columns' default datums. A transaction's inserted
	// rows hold only the columns the insert gave; a missing one holds
	// its default (rowVal).
	defaults map[string]ovsdb.Datum
	// defaultErrs holds, by hashCols index, the error of a column whose
	// default of one atom breaks its constraints (an enum, a minimum),
	// which an insert that leaves it out gets.
	defaultErrs []*ovsdb.Error
	// colIdx maps a column name to its index in a crow: the position in
	// cols, and len(cols) for "_version"; defaultVals holds the defaults
	// by that index. dense tables keep every column of a crow.
	colIdx      map[string]int
	defaultVals []ovsdb.Datum
	dense       bool
	// strs is the Database's interner (see compact).
	strs *interner
	// cols are the user columns by name; refCols those that may hold
	// references.
	cols    []*schema.Column
	refCols []*schema.Column
	// hashCols are all columns, "_uuid" and "_version" included, in
	// ovsdb-server's iteration order (see columnOrder).
	hashCols  []*schema.Column
	indexCols [][]*schema.Column
	// indexes map an encoded index key to the row holding it.
	indexes []map[string]ovsdb.UUID
	// strongIn counts the strong references to each row (self references
	// excluded); weakIn lists the rows holding weak references to it.
	strongIn map[ovsdb.UUID]int
	weakIn   map[ovsdb.UUID]map[rowKey]int
}

// entry is a committed row. Its columns are kept as a crow, not as an
// ovsdb.Row: a database holds every row of every table. Maps are built
// only for the rows a transaction touches or a caller asks for (rowMap).
type entry struct {
	r    crow
	node *rnode
	pos  int
}

// NewDatabase returns an empty database of schema s.
func NewDatabase(s *schema.Database) *Database {
	db := &Database{schema: s, tables: make(map[string]*table, len(s.Tables))}
	strs := newInterner()
	for name, ts := range s.Tables {
		t := &table{
			ts:       ts,
			name:     name,
			strs:     strs,
			rows:     map[ovsdb.UUID]*entry{},
			strongIn: map[ovsdb.UUID]int{},
			weakIn:   map[ovsdb.UUID]map[rowKey]int{},
			defaults: map[string]ovsdb.Datum{},
		}
		for cname, c := range ts.Columns {
			if cname == "_uuid" || cname == "_version" {
				continue
			}
			t.cols = append(t.cols, c)
		}
		sort.Slice(t.cols, func(i, j int) bool { return t.cols[i].Name < t.cols[j].Name })
		t.colIdx = make(map[string]int, len(t.cols)+1)
		for i, c := range t.cols {
			t.defaults[c.Name] = ovsdb.DefaultDatum(c.Type)
			t.colIdx[c.Name] = i
		}
		t.colIdx["_version"] = len(t.cols)
		t.defaultVals = make([]ovsdb.Datum, len(t.cols)+1)
		for i, c := range t.cols {
			t.defaultVals[i] = t.defaults[c.Name]
		}
		t.defaultVals[len(t.cols)] = ovsdb.Datum{Keys: []ovsdb.Atom{ovsdb.UUID{}}}
		t.dense = len(t.cols)+1 > maxSparseCols
		names := make([]string, len(t.cols))
		for i, c := range t.cols {
			names[i] = c.Name
		}
		for _, name := range columnOrder(names) {
			c := ts.Columns[name]
			if c == nil {
				continue
			}
			t.hashCols = append(t.hashCols, c)
			if c.Type.Key.RefTable != "" || c.Type.Value.RefTable != "" {
				t.refCols = append(t.refCols, c)
			}
		}
		t.defaultErrs = make([]*ovsdb.Error, len(t.hashCols))
		for i, c := range t.hashCols {
			if d, ok := t.defaults[c.Name]; ok && d.Len() == 1 {
				if err := c.Type.CheckDatum(d); err != nil {
					t.defaultErrs[i] = ovsdb.AsError(err)
				}
			}
		}
		for _, idx := range ts.Indexes {
			var cols []*schema.Column
			for _, cn := range idx {
				if c := ts.Columns[cn]; c != nil {
					cols = append(cols, c)
				}
			}
			t.indexCols = append(t.indexCols, cols)
			t.indexes = append(t.indexes, map[string]ovsdb.UUID{})
		}
		db.tables[name] = t
	}
	return db
}

// Schema returns the database's schema.
func (db *Database) Schema() *schema.Database { return db.schema }

// Put stores a row as loaded from etcd (it carries "_version"), replacing
// any row with that UUID. Used when (re)loading; no checks are run.
func (db *Database) Put(tableName string, uuid ovsdb.UUID, row ovsdb.Row) error {
	t := db.tables[tableName]
	if t == nil {
		return fmt.Errorf("put row %s: no table %q in database %q", uuid, tableName, db.schema.Name)
	}
	db.setRow(t, uuid, row)
	return nil
}

// Delete removes a row, as applying a deletion read from etcd; no checks
// are run. Deleting a missing row does nothing.
func (db *Database) Delete(tableName string, uuid ovsdb.UUID) error {
	t := db.tables[tableName]
	if t == nil {
		return fmt.Errorf("delete row %s: no table %q in database %q", uuid, tableName, db.schema.Name)
	}
	db.setRow(t, uuid, nil)
	return nil
}

// Revert undoes the changes a successful Execute returned, so that a
// caller whose commit of them failed can restore the state before them
// without reloading. Changes of several transactions are reverted in the
// reverse order of their Executes.
func (db *Database) Revert(changes []RowChange) {
	for i := len(changes) - 1; i >= 0; i-- {
		ch := changes[i]
		t := db.tables[ch.Table]
		if t == nil {
			continue
		}
		db.setRow(t, ch.UUID, ch.Old)
	}
}

// Get returns a stored row, or nil.
func (db *Database) Get(tableName string, uuid ovsdb.UUID) ovsdb.Row {
	t := db.tables[tableName]
	if t == nil {
		return nil
	}
	if e := t.rows[uuid]; e != nil {
		return t.rowMap(e.r)
	}
	return nil
}

// Len returns the number of rows in a table.
func (db *Database) Len(tableName string) int {
	if t := db.tables[tableName]; t != nil {
		return len(t.rows)
	}
	return 0
}

// Range calls fn for every row of a table until fn returns false. The
// rows must not be modified. Each row is built for the call (rows are not
// stored as maps), so Range over a large table allocates.
func (db *Database) Range(tableName string, fn func(uuid ovsdb.UUID, row ovsdb.Row) bool) {
	t := db.tables[tableName]
	if t == nil {
		return
	}
	for nd := t.hm.first(); nd != nil; nd = t.hm.next(nd) {
		if e := nd.e; e != nil && !fn(nd.uuid, t.rowMap(e.r)) {
			return
		}
	}
}

// setRow replaces (row non-nil) or removes (row nil) a committed row,
// keeping the row order, the indexes and the reference maps in step.
func (db *Database) setRow(t *table, uuid ovsdb.UUID, row ovsdb.Row) {
	e := t.rows[uuid]
	switch {
	case e == nil && row == nil:
		return
	case e == nil:
		nd := newRnode(uuid)
		t.hm.insert(nd)
		db.setRowData(t, uuid, row, nd)
	case row == nil:
		t.hm.remove(e.node)
		db.setRowData(t, uuid, nil, nil)
	default:
		db.setRowData(t, uuid, row, e.node)
	}
}

// setRowData replaces or removes a committed row without touching the row
// order (a transaction's commit already put it in place).
func (db *Database) setRowData(t *table, uuid ovsdb.UUID, row ovsdb.Row, nd *rnode) {
	e := t.rows[uuid]
	switch {
	case e != nil && row == nil:
		db.unlinkRow(t, uuid, e.r)
		last := len(t.list) - 1
		moved := t.list[last]
		t.list[e.pos] = moved
		moved.pos = e.pos
		t.list[last] = nil
		t.list = t.list[:last]
		delete(t.rows, uuid)
		return
	case e != nil:
		old := e.r
		e.r = t.compact(row)
		db.relinkRow(t, uuid, old, e.r)
		return
	case row == nil:
		return
	}
	e = &entry{r: t.compact(row), node: nd, pos: len(t.list)}
	if nd != nil {
		nd.e = e
	}
	t.rows[uuid] = e
	t.list = append(t.list, e)
	db.linkRow(t, uuid, e.r)
}

func (db *Database) linkRow(t *table, uuid ovsdb.UUID, row crow) {
	var arr [128]byte // most index keys fit: no allocation for the buffer
	buf := arr[:0]
	for i, cols := range t.indexCols {
		buf = t.indexKeyVals(buf[:0], cols, row)
		t.indexes[i][string(buf)] = uuid
	}
	db.adjustRefs(t, uuid, row, 1)
}

func (db *Database) unlinkRow(t *table, uuid ovsdb.UUID, row crow) {
	var arr [128]byte
	buf := arr[:0]
	for i, cols := range t.indexCols {
		buf = t.indexKeyVals(buf[:0], cols, row)
		if t.indexes[i][string(buf)] == uuid {
			delete(t.indexes[i], string(buf))
		}
	}
	db.adjustRefs(t, uuid, row, -1)
}

// relinkRow is unlinkRow of oldRow then linkRow of newRow, for a row replaced
// in place, with the same effect on the indexes and reference maps but
// touching only what differs: a mutate that adds one port to a switch of
// 200 would otherwise drop and re-add 200 references.
func (db *Database) relinkRow(t *table, uuid ovsdb.UUID, oldRow, newRow crow) {
	var oa, na [128]byte
	ob, nb := oa[:0], na[:0]
	for i, cols := range t.indexCols {
		ob = t.indexKeyVals(ob[:0], cols, oldRow)
		nb = t.indexKeyVals(nb[:0], cols, newRow)
		if string(ob) != string(nb) && t.indexes[i][string(ob)] == uuid {
			delete(t.indexes[i], string(ob))
		}
		t.indexes[i][string(nb)] = uuid
	}
	src := rowKey{t.name, uuid}
	for _, c := range t.refCols {
		i := t.colIdx[c.Name]
		od, nd := t.at(oldRow, i), t.at(newRow, i)
		if shared(od, nd) {
			continue
		}
		if c.Type.Key.RefTable != "" {
			// Keys are canonical (strictly ordered), so the references
			// only one side holds come out of one merge.
			removed, added := diffKeys(od.Keys, nd.Keys)
			db.adjustAtomRefs(src, c.Type.Key, removed, -1)
			db.adjustAtomRefs(src, c.Type.Key, added, 1)
		}
		if c.Type.Value.RefTable != "" {
			// Values are in key order, not sorted: move them all.
			db.adjustAtomRefs(src, c.Type.Value, od.Values, -1)
			db.adjustAtomRefs(src, c.Type.Value, nd.Values, 1)
		}
	}
}

// diffKeys returns the atoms of strictly ordered o and n that only o
// holds and those that only n holds.
func diffKeys(o, n []ovsdb.Atom) (removed, added []ovsdb.Atom) {
	i, j := 0, 0
	for i < len(o) && j < len(n) {
		switch c := ovsdb.CompareAtoms(o[i], n[j]); {
		case c < 0:
			removed = append(removed, o[i])
			i++
		case c > 0:
			added = append(added, n[j])
			j++
		default:
			i++
			j++
		}
	}
	return append(removed, o[i:]...), append(added, n[j:]...)
}

// adjustRefs adds (delta 1) or removes (delta -1) the references held by
// row to the reference maps of their targets.
func (db *Database) adjustRefs(t *table, uuid ovsdb.UUID, row crow, delta int) {
	src := rowKey{t.name, uuid}
	for _, c := range t.refCols {
		d := t.val(row, c.Name)
		db.adjustAtomRefs(src, c.Type.Key, d.Keys, delta)
		if d.Values != nil {
			db.adjustAtomRefs(src, c.Type.Value, d.Values, delta)
		}
	}
}

func (db *Database) adjustAtomRefs(src rowKey, bt ovsdb.BaseType, atoms []ovsdb.Atom, delta int) {
	if bt.RefTable == "" {
		return
	}
	dst := db.tables[bt.RefTable]
	if dst == nil {
		return
	}
	for _, a := range atoms {
		u, ok := a.(ovsdb.UUID)
		if !ok || (u == src.uuid && src.table == dst.name) {
			continue
		}
		if bt.RefType == ovsdb.RefStrong {
			n := dst.strongIn[u] + delta
			if n <= 0 {
				delete(dst.strongIn, u)
			} else {
				dst.strongIn[u] = n
			}
			continue
		}
		m := dst.weakIn[u]
		if m == nil {
			if delta < 0 {
				continue
			}
			m = map[rowKey]int{}
			dst.weakIn[u] = m
		}
		n := m[src] + delta
		if n <= 0 {
			delete(m, src)
			if len(m) == 0 {
				delete(dst.weakIn, u)
			}
		} else {
			m[src] = n
		}
	}
}

// indexKey appends an encoding of the index columns' values of row that is
// equal for two rows exactly when their datums are equal.
func (t *table) indexKey(buf []byte, cols []*schema.Column, row ovsdb.Row) []byte {
	for _, c := range cols {
		buf = appendDatumKey(buf, t.rowVal(row, c.Name))
	}
	return buf
}

// rowVal returns the datum of user column name of a transaction's row,
// which for an inserted row may lack the columns holding their defaults.
func (t *table) rowVal(row ovsdb.Row, name string) ovsdb.Datum {
	if d, ok := row[name]; ok {
		return d
	}
	return t.defaults[name]
}

// indexKeyVals is indexKey of a committed row.
func (t *table) indexKeyVals(buf []byte, cols []*schema.Column, r crow) []byte {
	for _, c := range cols {
		buf = appendDatumKey(buf, t.val(r, c.Name))
	}
	return buf
}

func appendDatumKey(buf []byte, d ovsdb.Datum) []byte {
	buf = appendUvarint(buf, uint64(len(d.Keys)))
	for i, k := range d.Keys {
		buf = appendAtomKey(buf, k)
		if d.Values != nil {
			buf = appendAtomKey(buf, d.Values[i])
		}
	}
	return buf
}

func appendAtomKey(buf []byte, a ovsdb.Atom) []byte {
	switch x := a.(type) {
	case int64:
		u := uint64(x)
		return append(buf, 'i', byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32), byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	case float64:
		if x == 0 {
			x = 0 // -0 and +0 are equal atoms
		}
		u := math.Float64bits(x)
		return append(buf, 'r', byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32), byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	case bool:
		if x {
			return append(buf, 't')
		}
		return append(buf, 'f')
	case string:
		buf = append(buf, 's')
		buf = appendUvarint(buf, uint64(len(x)))
		return append(buf, x...)
	case ovsdb.UUID:
		buf = append(buf, 'u')
		return append(buf, x[:]...)
	}
	return append(buf, '?')
}

func appendUvarint(buf []byte, v uint64) []byte {
	for v >= 0x80 {
		buf = append(buf, byte(v)|0x80)
		v >>= 7
	}
	return append(buf, byte(v))
}
