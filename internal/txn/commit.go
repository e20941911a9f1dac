package txn

import (
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

// commit runs ovsdb-server's ovsdb_txn_precommit checks on the rows the
// transaction touched, in its order (changes with no effect dropped,
// reference counts and referential integrity, garbage collection, maxRows,
// weak references, index uniqueness, _version), then applies the result to
// the Database. Nothing is applied when a check fails.
//
// Only touched rows are visited: strong reference counts and the rows
// holding weak references are kept per row by the Database, so deleting a
// row never scans a table.
func (x *txn) commit() ([]RowChange, *ovsdb.Error) {
	if !x.determineChanges() {
		return nil, nil
	}
	if err := x.updateRefCounts(); err != nil {
		return nil, err
	}
	x.collectGarbage()
	if err := x.checkMaxRows(); err != nil {
		return nil, err
	}
	if err := x.assessWeakRefs(); err != nil {
		return nil, err
	}
	if err := x.checkIndexes(); err != nil {
		return nil, err
	}
	return x.apply(), nil
}

// eachRow calls fn once for every live row of the transaction in
// ovsdb-server's for_each_txn_row order: tables in the order they joined
// the transaction, rows in their hash-map order (rowHmap), rows that fn
// adds to a table picked up by a further scan of that table, and tables
// that fn adds by a further pass. A table left without rows leaves the
// transaction.
func (x *txn) eachRow(fn func(tt *txnTable, tr *txnRow) *ovsdb.Error) *ovsdb.Error {
	x.serial++
	serial := x.serial
	for {
		work := false
		for ti := 0; ti < len(x.order); ti++ {
			// LIST_FOR_EACH_SAFE: whether there is a next table is known
			// before this one is processed.
			last := ti+1 == len(x.order)
			tt := x.order[ti]
			if !tt.dropped {
				if tt.serial != serial {
					tt.serial = serial
					tt.nProcessed = 0
				}
				for tt.nProcessed < tt.hm.n {
					tr := tt.hm.first()
					var next *txnRow
					if tr != nil {
						next = tt.hm.next(tr)
					}
					for tr != nil {
						if tr.serial != serial {
							tr.serial = serial
							tt.nProcessed++
							work = true
							if err := fn(tt, tr); err != nil {
								return err
							}
						}
						tr = next
						if tr != nil {
							next = tt.hm.next(tr)
						}
					}
					if tt.hm.n == 0 {
						tt.dropped = true
						break
					}
				}
			}
			if last {
				break
			}
		}
		if !work {
			return nil
		}
	}
}

func rowsEqual(t *table, a, b ovsdb.Row) bool {
	for _, c := range t.cols {
		if !t.rowVal(a, c.Name).Equal(t.rowVal(b, c.Name)) {
			return false
		}
	}
	return true
}

// determineChanges drops modified rows whose columns all equal their old
// values, and reports whether anything is left to commit.
func (x *txn) determineChanges() bool {
	changed := false
	_ = x.eachRow(func(tt *txnTable, tr *txnRow) *ovsdb.Error {
		switch {
		case tr.old != nil && tr.new != nil:
			if rowsEqual(tt.t, tr.old, tr.new) {
				// Nothing changed: the row leaves the transaction.
				x.forget(tt, tr)
				return nil
			}
			tr.changed = true
		default:
			tr.changed = true
		}
		changed = true
		return nil
	})
	return changed
}

func (x *txn) forEachStrongRef(t *table, uuid ovsdb.UUID, row ovsdb.Row, fn func(c *schema.Column, bt ovsdb.BaseType, target ovsdb.UUID) *ovsdb.Error) *ovsdb.Error {
	for _, c := range t.refCols {
		d := t.rowVal(row, c.Name)
		for _, side := range [2]struct {
			bt    ovsdb.BaseType
			atoms []ovsdb.Atom
		}{{c.Type.Key, d.Keys}, {c.Type.Value, d.Values}} {
			if side.bt.RefTable == "" || side.bt.RefType != ovsdb.RefStrong {
				continue
			}
			for _, a := range side.atoms {
				u, ok := a.(ovsdb.UUID)
				if !ok || (u == uuid && side.bt.RefTable == t.name) {
					continue
				}
				if err := fn(c, side.bt, u); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// updateRefCounts is update_ref_counts: adjust the strong reference count
// of every row referenced by a changed row, failing on references to rows
// that do not exist, then on deleted rows still referenced.
func (x *txn) updateRefCounts() *ovsdb.Error {
	err := x.eachRow(func(tt *txnTable, tr *txnRow) *ovsdb.Error {
		if !tr.changed {
			return nil
		}
		t := tt.t
		adjust := func(row ovsdb.Row, delta int, only map[string]ovsdb.Datum) *ovsdb.Error {
			return x.forEachStrongRef(t, tr.uuid, row, func(c *schema.Column, bt ovsdb.BaseType, u ovsdb.UUID) *ovsdb.Error {
				if only != nil {
					if _, ok := only[c.Name]; !ok {
						return nil
					}
				}
				dst := x.db.tables[bt.RefTable]
				target := x.findOrMake(dst, u)
				if target == nil {
					if delta < 0 {
						return nil // a dangling reference loaded as is
					}
					return ovsdb.NewError(ovsdb.TagReferentialIntegrity,
						"Table %s column %s row %s references nonexistent row %s in table %s.",
						t.name, c.Name, tr.uuid, u, dst.name)
				}
				target.nRefs += delta
				return nil
			})
		}
		switch {
		case tr.old != nil && tr.new == nil:
			return adjust(tr.old, -1, nil)
		case tr.old == nil && tr.new != nil:
			return adjust(tr.new, 1, nil)
		case tr.old != nil && tr.new != nil:
			removed, added := refDiff(t, tr.old, tr.new)
			if err := adjust(removed, -1, removed); err != nil {
				return err
			}
			return adjust(added, 1, added)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return x.eachRow(func(tt *txnTable, tr *txnRow) *ovsdb.Error {
		if tr.new == nil && tr.old != nil && tr.nRefs > 0 {
			return ovsdb.NewError(ovsdb.TagReferentialIntegrity,
				"cannot delete %s row %s because of %d remaining reference(s)", tt.t.name, tr.uuid, tr.nRefs)
		}
		return nil
	})
}

// refDiff returns, for the reference columns that differ, the elements
// removed from and added to each (ovsdb_datum_added_removed).
func refDiff(t *table, oldRow, newRow ovsdb.Row) (removed, added ovsdb.Row) {
	removed, added = ovsdb.Row{}, ovsdb.Row{}
	for _, c := range t.refCols {
		r, a, same := diffDatums(t.rowVal(oldRow, c.Name), t.rowVal(newRow, c.Name))
		if same {
			continue
		}
		removed[c.Name] = r
		added[c.Name] = a
	}
	return removed, added
}

// diffDatums returns the elements of canonical datums o and n (of one
// type) that only o holds and those that only n holds, a map's pairs
// matching on key and value, and whether there are none. It is
// subtract(o, n, true) and subtract(n, o, true) in one merge: a mutate
// that inserts one port into a switch of 200 would otherwise search the
// whole set twice.
func diffDatums(o, n ovsdb.Datum) (removed, added ovsdb.Datum, same bool) {
	if shared(o, n) {
		return ovsdb.Datum{}, ovsdb.Datum{}, true
	}
	isMap := o.Values != nil || n.Values != nil
	if isMap && (len(o.Values) != len(o.Keys) || len(n.Values) != len(n.Keys)) {
		// Not a well-formed map: the general path.
		if o.Equal(n) {
			return ovsdb.Datum{}, ovsdb.Datum{}, true
		}
		return subtract(o, n, true), subtract(n, o, true), false
	}
	if isMap {
		removed.Values, added.Values = []ovsdb.Atom{}, []ovsdb.Atom{}
	}
	put := func(d *ovsdb.Datum, from ovsdb.Datum, i int) {
		d.Keys = append(d.Keys, from.Keys[i])
		if isMap {
			d.Values = append(d.Values, from.Values[i])
		}
	}
	i, j := 0, 0
	for i < len(o.Keys) && j < len(n.Keys) {
		switch c := ovsdb.CompareAtoms(o.Keys[i], n.Keys[j]); {
		case c < 0:
			put(&removed, o, i)
			i++
		case c > 0:
			put(&added, n, j)
			j++
		default:
			if isMap && ovsdb.CompareAtoms(o.Values[i], n.Values[j]) != 0 {
				put(&removed, o, i)
				put(&added, n, j)
			}
			i++
			j++
		}
	}
	for ; i < len(o.Keys); i++ {
		put(&removed, o, i)
	}
	for ; j < len(n.Keys); j++ {
		put(&added, n, j)
	}
	return removed, added, len(removed.Keys) == 0 && len(added.Keys) == 0
}

// shared reports whether a and b are the same datum in memory (a column
// the transaction did not change), hence equal without comparing atoms.
func shared(a, b ovsdb.Datum) bool {
	same := func(x, y []ovsdb.Atom) bool {
		return len(x) == len(y) && (x == nil) == (y == nil) && (len(x) == 0 || &x[0] == &y[0])
	}
	return same(a.Keys, b.Keys) && same(a.Values, b.Values)
}

// collectGarbage deletes rows of non-root tables that nothing references
// any more, and what only they referenced (collect_garbage).
func (x *txn) collectGarbage() {
	_ = x.eachRow(func(tt *txnTable, tr *txnRow) *ovsdb.Error {
		if tr.new != nil && tr.nRefs == 0 {
			x.deleteGarbage(tt.t, tr)
		}
		return nil
	})
}

func (x *txn) deleteGarbage(t *table, tr *txnRow) {
	if t.ts.IsRoot || tr.new == nil {
		return
	}
	row := tr.new
	x.unorder(t, tr)
	tr.new = nil
	tr.owned = false
	tr.changed = true
	_ = x.forEachStrongRef(t, tr.uuid, row, func(_ *schema.Column, bt ovsdb.BaseType, u ovsdb.UUID) *ovsdb.Error {
		dst := x.db.tables[bt.RefTable]
		target := x.findOrMake(dst, u)
		if target == nil || target.new == nil {
			return nil
		}
		target.nRefs--
		if target.nRefs == 0 {
			x.deleteGarbage(dst, target)
		}
		return nil
	})
}

// checkMaxRows is check_max_rows.
func (x *txn) checkMaxRows() *ovsdb.Error {
	for _, tt := range x.order {
		maxRows := tt.t.ts.MaxRows
		if maxRows <= 0 {
			continue
		}
		n := int64(len(tt.t.rows))
		for _, tr := range tt.list {
			switch {
			case tr.dead:
			case tr.old == nil && tr.new != nil:
				n++
			case tr.old != nil && tr.new == nil:
				n--
			}
		}
		if n > maxRows {
			return ovsdb.NewError(ovsdb.TagConstraintViolation,
				"transaction causes \"%s\" table to contain %d rows, greater than the schema-defined limit of %d row(s)",
				tt.t.name, n, maxRows)
		}
	}
	return nil
}

// assessWeakRefs is assess_weak_refs, in one pass over the transaction's
// rows as ovsdb-server makes it: a deleted row queues the removal of the
// weak references to it on the rows holding them, and a row the
// transaction writes drops the references queued on it so far plus those
// it added that point to no row, then checks the column's minimum size.
// Like ovsdb-server, a referrer assessed before its target's deletion is
// queued keeps that reference.
func (x *txn) assessWeakRefs() *ovsdb.Error {
	queued := map[*txnRow]map[rowKey]bool{}
	return x.eachRow(func(tt *txnTable, tr *txnRow) *ovsdb.Error {
		t := tt.t
		if tr.old != nil && tr.new == nil {
			for src := range t.weakIn[tr.uuid] {
				st := x.db.tables[src.table]
				str := x.findOrMake(st, src.uuid)
				if str == nil {
					continue
				}
				if queued[str] == nil {
					queued[str] = map[rowKey]bool{}
				}
				queued[str][rowKey{t.name, tr.uuid}] = true
			}
		}
		if tr.new == nil {
			return nil
		}
		deleted := queued[tr]
		delete(queued, tr)
		for _, c := range t.refCols {
			kw := c.Type.Key.RefTable != "" && c.Type.Key.RefType == ovsdb.RefWeak
			vw := c.Type.Value.RefTable != "" && c.Type.Value.RefType == ovsdb.RefWeak
			if !kw && !vw {
				continue
			}
			d := t.rowVal(tr.new, c.Name)
			var old ovsdb.Datum
			if tr.old != nil {
				old = t.rowVal(tr.old, c.Name)
			}
			zero := false
			// drop reports whether element i goes: its target was deleted
			// (queued), or it is new in this transaction and its target
			// does not exist.
			drop := func(bt ovsdb.BaseType, a ovsdb.Atom, added bool) bool {
				u, _ := a.(ovsdb.UUID)
				self := u == tr.uuid && bt.RefTable == t.name
				if deleted[rowKey{bt.RefTable, u}] && !self {
					return true
				}
				if !added || self {
					return false
				}
				dst := x.db.tables[bt.RefTable]
				if dst != nil {
					if _, ok := x.get(dst, u); ok {
						return false
					}
				}
				if u.IsZero() {
					zero = true
				}
				return true
			}
			var keep []int
			for i := range d.Keys {
				var v ovsdb.Atom
				if d.Values != nil {
					v = d.Values[i]
				}
				added := tr.old == nil || !hasElement(old, d.Keys[i], v, d.Values != nil)
				gone := false
				if kw && drop(c.Type.Key, d.Keys[i], added) {
					gone = true
				}
				if vw && drop(c.Type.Value, v, added) {
					gone = true
				}
				if !gone {
					keep = append(keep, i)
				}
			}
			if len(keep) == len(d.Keys) {
				continue
			}
			nd := ovsdb.Datum{Keys: make([]ovsdb.Atom, 0, len(keep))}
			if d.Values != nil {
				nd.Values = make([]ovsdb.Atom, 0, len(keep))
			}
			for _, i := range keep {
				nd.Keys = append(nd.Keys, d.Keys[i])
				if d.Values != nil {
					nd.Values = append(nd.Values, d.Values[i])
				}
			}
			w := x.writable(t, tr.uuid)
			w.new[c.Name] = nd
			w.changed = true
			if int64(len(nd.Keys)) < c.Type.Min {
				if zero && tr.old == nil {
					return ovsdb.NewError(ovsdb.TagConstraintViolation,
						"Weak reference column \"%s\" in \"%s\" row %s (inserted within this transaction) contained all-zeros UUID (probably as the default value for this column) but deleting this value caused a constraint volation because this column is not allowed to be empty.",
						c.Name, t.name, tr.uuid)
				}
				inserted := ""
				if tr.old == nil {
					inserted = "(inserted within this transaction) "
				}
				return ovsdb.NewError(ovsdb.TagConstraintViolation,
					"Deletion of %d weak reference(s) to deleted (or never-existing) rows from column \"%s\" in \"%s\" row %s %scaused this column to become empty, but constraints on this column disallow an empty column.",
					len(d.Keys)-len(nd.Keys), c.Name, t.name, tr.uuid, inserted)
			}
		}
		return nil
	})
}

// checkIndexes is check_index_uniqueness.
func (x *txn) checkIndexes() *ovsdb.Error {
	var txnIdx map[*table][]map[string]*txnRow
	var buf []byte
	return x.eachRow(func(tt *txnTable, tr *txnRow) *ovsdb.Error {
		t := tt.t
		if tr.new == nil || len(t.indexCols) == 0 {
			return nil
		}
		if txnIdx == nil {
			txnIdx = map[*table][]map[string]*txnRow{}
		}
		idx := txnIdx[t]
		if idx == nil {
			idx = make([]map[string]*txnRow, len(t.indexCols))
			for i := range idx {
				idx[i] = make(map[string]*txnRow, tt.hm.n)
			}
			txnIdx[t] = idx
		}
		for i, cols := range t.indexCols {
			buf = t.indexKey(buf[:0], cols, tr.new)
			if other := idx[i][string(buf)]; other != nil {
				return x.duplicateIndex(t, cols, other.uuid, other, tr.uuid, tr)
			}
			if u, ok := t.indexes[i][string(buf)]; ok && u != tr.uuid {
				if _, inTxn := tt.rows[u]; !inTxn {
					return x.duplicateIndex(t, cols, u, nil, tr.uuid, tr)
				}
			}
			idx[i][string(buf)] = tr
		}
		return nil
	})
}

// duplicateIndex builds duplicate_index_row's error; a nil txnRow is a
// row the transaction did not touch.
func (x *txn) duplicateIndex(t *table, cols []*schema.Column, ua ovsdb.UUID, a *txnRow, ub ovsdb.UUID, b *txnRow) *ovsdb.Error {
	rowOf := func(u ovsdb.UUID, r *txnRow) ovsdb.Row {
		if r != nil {
			return r.new
		}
		return t.rowMap(t.rows[u].r)
	}
	// ovsdb-server puts the rows in the order of all their columns, in its
	// column iteration order, the greater first.
	ra, rb := rowOf(ua, a), rowOf(ub, b)
	for _, c := range t.hashCols {
		r := columnDatum(ua, ra, c.Name, c.Type).Compare(columnDatum(ub, rb, c.Name, c.Type))
		if r < 0 {
			ua, a, ub, b = ub, b, ua, a
		}
		if r != 0 {
			break
		}
	}
	values := func(row ovsdb.Row) string {
		parts := make([]string, len(cols))
		for i, c := range cols {
			parts[i] = datumText(c.Type, t.rowVal(row, c.Name))
		}
		return englishList(parts)
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = "\"" + c.Name + "\""
	}
	colWord := "column "
	if len(cols) > 1 {
		colWord = "columns "
	}
	describe := func(title string, u ovsdb.UUID, r *txnRow) string {
		s := title + " row, with UUID " + u.String() + ", "
		switch {
		case r == nil || !r.changed:
			return s + "existed in the database before this transaction and was not modified by the transaction."
		case r.old == nil:
			return s + "was inserted by this transaction."
		case t.indexEqual(cols, r.old, r.new):
			return s + "existed in the database before this transaction, which modified some of the row's columns but not any columns in this index."
		default:
			return s + "had the following index values before the transaction: " + values(r.old) + "."
		}
	}
	return ovsdb.NewError(ovsdb.TagConstraintViolation,
		"Transaction causes multiple rows in \"%s\" table to have identical values (%s) for index on %s%s.  %s  %s",
		t.name, values(rowOf(ua, a)), colWord, englishList(names), describe("First", ua, a), describe("Second", ub, b))
}

func (t *table) indexEqual(cols []*schema.Column, a, b ovsdb.Row) bool {
	for _, c := range cols {
		if !t.rowVal(a, c.Name).Equal(t.rowVal(b, c.Name)) {
			return false
		}
	}
	return true
}

// apply bumps _version of modified rows, writes every change to the
// Database and returns the changes.
func (x *txn) apply() []RowChange {
	n := 0
	for _, tt := range x.order {
		n += len(tt.rows)
	}
	changes := make([]RowChange, 0, n)
	insertedNodes := make([]*rnode, 0, n)
	_ = x.eachRow(func(tt *txnTable, tr *txnRow) *ovsdb.Error {
		switch {
		case tr.old == nil && tr.new == nil:
			return nil
		case tr.old != nil && tr.new != nil && !tr.changed:
			return nil
		case tr.old != nil && tr.new != nil:
			w := x.writable(tt.t, tr.uuid)
			w.new["_version"] = ovsdb.Datum{Keys: []ovsdb.Atom{x.newUUID()}}
		}
		changes = append(changes, RowChange{Table: tt.t.name, UUID: tr.uuid, Old: tr.old, New: tr.new})
		insertedNodes = append(insertedNodes, tr.node)
		return nil
	})
	// The rows are already in their tables' order (see rowOrder).
	for i, ch := range changes {
		t := x.db.tables[ch.Table]
		var nd *rnode
		if ch.Old == nil {
			nd = insertedNodes[i]
		} else if e := t.rows[ch.UUID]; e != nil {
			nd = e.node
		}
		x.db.setRowData(t, ch.UUID, ch.New, nd)
	}
	if len(changes) == 0 {
		return nil // no change: nil, not an empty slice
	}
	return changes
}
