package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// Database is a parsed, validated database schema.
type Database struct {
	Name    string
	Version string // "" when the schema has none
	Cksum   string // "" when the schema has none
	Tables  map[string]*Table

	// TableNames lists Tables' names in byte order.
	TableNames []string
}

// Table is one table's schema.
type Table struct {
	Name    string
	Columns map[string]*Column // user columns plus "_uuid" and "_version"
	MaxRows int64              // 0: unlimited
	IsRoot  bool
	Indexes [][]string // each a list of column names

	// Mutable is false when the schema says the table is immutable
	// ("mutable": false at table level: rows may be inserted and deleted
	// but not modified).
	Mutable bool
	// ColumnNames lists the user columns (not "_uuid" or "_version") in
	// byte order.
	ColumnNames []string

	// codec is the precomputed row encoding, built once by Parse or on
	// first use for a Table built by hand.
	codecOnce sync.Once
	codec     []codecColumn
}

// Column is one column's schema.
type Column struct {
	Name      string
	Type      ovsdb.Type
	Ephemeral bool
	Mutable   bool
}

// Implicit column names.
const (
	ColumnUUID    = "_uuid"
	ColumnVersion = "_version"
)

// Parse parses and validates a schema document as ovsdb-server's
// ovsdb_schema_from_json does; an invalid schema gets an error naming the
// table and column at fault that wraps ovsdb-server's *ovsdb.Error.
func Parse(data []byte) (*Database, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("parse schema: trailing data after the schema object")
	}
	db, err := FromJSON(v)
	if err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	return db, nil
}

// FromJSON builds a schema from its JSON value (decoded with UseNumber).
func FromJSON(v any) (*Database, error) {
	p, err := ovsdb.NewParser(v, "database schema")
	if err != nil {
		return nil, err
	}
	name := p.Member("name", ovsdb.PID)
	version := p.Member("version", ovsdb.PString|ovsdb.POptional)
	cksum := p.Member("cksum", ovsdb.PString|ovsdb.POptional)
	tables := p.Member("tables", ovsdb.PObject)
	if err := p.Finish(); err != nil {
		return nil, err
	}
	db := &Database{Name: name.(string), Tables: map[string]*Table{}}
	if version != nil {
		db.Version = version.(string)
		if !validVersion(db.Version) {
			return nil, schemaError(v, "schema version %q not in format x.y.z", db.Version)
		}
	}
	if cksum != nil {
		db.Cksum = cksum.(string)
	}
	tm := tables.(map[string]any)
	for name := range tm {
		db.TableNames = append(db.TableNames, name)
	}
	slices.Sort(db.TableNames)
	for _, name := range db.TableNames {
		if strings.HasPrefix(name, "_") {
			return nil, fmt.Errorf("table %q: %w", name, schemaError(v, `names beginning with "_" are reserved`))
		}
		if !ovsdb.IsID(name) {
			return nil, fmt.Errorf("table %q: %w", name, schemaError(v, "name must be a valid id"))
		}
		t, err := parseTable(name, tm[name])
		if err != nil {
			return nil, fmt.Errorf("table %q: %w", name, err)
		}
		db.Tables[name] = t
	}
	// "isRoot" came after the first schemas, which had no garbage
	// collection: with no root table at all, every table is a root.
	anyRoot := false
	for _, t := range db.Tables {
		anyRoot = anyRoot || t.IsRoot
	}
	if !anyRoot {
		for _, t := range db.Tables {
			t.IsRoot = true
		}
	}
	for _, tname := range db.TableNames {
		t := db.Tables[tname]
		for _, cname := range t.ColumnNames {
			c := t.Columns[cname]
			for _, side := range []struct {
				name string
				base *ovsdb.BaseType
			}{{"key", &c.Type.Key}, {"value", &c.Type.Value}} {
				b := side.base
				if b.Type != ovsdb.TypeUUID || b.RefTable == "" {
					continue
				}
				ref, ok := db.Tables[b.RefTable]
				if !ok {
					return nil, fmt.Errorf("table %q column %q: %w", tname, cname,
						ovsdb.NewError(ovsdb.TagSyntaxError, "column %s %s refers to undefined table %s", cname, side.name, b.RefTable))
				}
				// A strong reference to a non-root table keeps its target
				// alive, so it must survive a restart: never ephemeral.
				if b.RefType == ovsdb.RefStrong && !ref.IsRoot {
					c.Ephemeral = false
				}
			}
		}
		t.codecOnce.Do(t.buildCodec)
	}
	return db, nil
}

// schemaError is a syntax error about the JSON value v.
func schemaError(v any, format string, args ...any) *ovsdb.Error {
	e := ovsdb.NewError(ovsdb.TagSyntaxError, format, args...)
	e.Syntax = ovsdb.JSONString(v)
	return e
}

// validVersion reports whether s is "x.y.z" with decimal numbers.
func validVersion(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return false
		}
	}
	return true
}

func parseTable(name string, v any) (*Table, error) {
	p, err := ovsdb.NewParser(v, "table schema for table "+name)
	if err != nil {
		return nil, err
	}
	columns := p.Member("columns", ovsdb.PObject)
	mutable := p.Member("mutable", ovsdb.PBool|ovsdb.POptional)
	maxRows := p.Member("maxRows", ovsdb.PInteger|ovsdb.POptional)
	isRoot := p.Member("isRoot", ovsdb.PBool|ovsdb.POptional)
	indexes := p.Member("indexes", ovsdb.PArray|ovsdb.POptional)
	if err := p.Finish(); err != nil {
		return nil, err
	}
	t := &Table{Name: name, Columns: map[string]*Column{}, Mutable: true}
	if maxRows != nil {
		n := ovsdb.Int(maxRows)
		if n <= 0 {
			return nil, schemaError(v, "maxRows must be at least 1")
		}
		if n < ovsdb.Unlimited {
			t.MaxRows = n
		}
	}
	if mutable != nil {
		t.Mutable = mutable.(bool)
	}
	if isRoot != nil {
		t.IsRoot = isRoot.(bool)
	}
	cm := columns.(map[string]any)
	if len(cm) == 0 {
		return nil, schemaError(v, "table must have at least one column")
	}
	for cname := range cm {
		t.ColumnNames = append(t.ColumnNames, cname)
	}
	slices.Sort(t.ColumnNames)
	for _, cname := range t.ColumnNames {
		if strings.HasPrefix(cname, "_") {
			return nil, fmt.Errorf("column %q: %w", cname, schemaError(v, `names beginning with "_" are reserved`))
		}
		if !ovsdb.IsID(cname) {
			return nil, fmt.Errorf("column %q: %w", cname, schemaError(v, "name must be a valid id"))
		}
		c, err := parseColumn(cname, cm[cname])
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", cname, err)
		}
		t.Columns[cname] = c
	}
	uuidType := ovsdb.ScalarType(ovsdb.TypeUUID)
	t.Columns[ColumnUUID] = &Column{Name: ColumnUUID, Type: uuidType}
	t.Columns[ColumnVersion] = &Column{Name: ColumnVersion, Type: uuidType, Ephemeral: true}
	if indexes != nil {
		for _, iv := range indexes.([]any) {
			idx, err := parseIndex(t, iv)
			if err != nil {
				return nil, err
			}
			if len(idx) == 0 {
				return nil, schemaError(v, "index must have at least one column")
			}
			for _, cname := range idx {
				if t.Columns[cname].Ephemeral {
					return nil, fmt.Errorf("column %q: %w", cname,
						schemaError(v, "ephemeral columns (such as %s) may not be indexed", cname))
				}
			}
			t.Indexes = append(t.Indexes, idx)
		}
	}
	return t, nil
}

// parseIndex is ovsdb_column_set_from_json.
func parseIndex(t *Table, v any) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, schemaError(v, "array of distinct column names expected")
	}
	var idx []string
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, schemaError(v, "array of distinct column names expected")
		}
		if _, ok := t.Columns[s]; !ok {
			return nil, fmt.Errorf("column %q: %w", s, schemaError(v, "%s is not a valid column name", s))
		}
		if slices.Contains(idx, s) {
			return nil, fmt.Errorf("column %q: %w", s, schemaError(v, "array of distinct column names expected"))
		}
		idx = append(idx, s)
	}
	return idx, nil
}

func parseColumn(name string, v any) (*Column, error) {
	p, err := ovsdb.NewParser(v, "schema for column "+name)
	if err != nil {
		return nil, err
	}
	mutable := p.Member("mutable", ovsdb.PBool|ovsdb.POptional)
	ephemeral := p.Member("ephemeral", ovsdb.PBool|ovsdb.POptional)
	tv := p.Member("type", ovsdb.PString|ovsdb.PObject)
	if err = p.Finish(); err != nil {
		return nil, err
	}
	typ, err := ovsdb.ParseType(tv)
	if err != nil {
		return nil, err
	}
	c := &Column{Name: name, Type: typ, Mutable: true}
	if mutable != nil {
		c.Mutable = mutable.(bool)
	}
	if ephemeral != nil {
		c.Ephemeral = ephemeral.(bool)
	}
	// A weak reference changes when its target goes away, so it can never
	// be immutable.
	if typ.Key.IsWeakRef() || typ.Value.IsWeakRef() {
		c.Mutable = true
	}
	return c, nil
}

// JSON renders the schema as ovsdb-server's get_schema reply.
func (d *Database) JSON() any {
	m := map[string]any{"name": d.Name}
	if d.Version != "" {
		m["version"] = d.Version
	}
	if d.Cksum != "" {
		m["cksum"] = d.Cksum
	}
	// Without garbage collection every table was a root; when all tables
	// are roots, "isRoot" is left out.
	allRoot := true
	for _, t := range d.Tables {
		allRoot = allRoot && t.IsRoot
	}
	tables := make(map[string]any, len(d.Tables))
	for name, t := range d.Tables {
		tables[name] = t.json(allRoot)
	}
	m["tables"] = tables
	return m
}

func (t *Table) json(defaultIsRoot bool) any {
	m := map[string]any{}
	if !t.Mutable {
		m["mutable"] = false
	}
	if t.IsRoot != defaultIsRoot {
		m["isRoot"] = t.IsRoot
	}
	cols := make(map[string]any, len(t.ColumnNames))
	for _, name := range t.ColumnNames {
		cols[name] = t.Columns[name].JSON()
	}
	m["columns"] = cols
	if t.MaxRows != 0 {
		m["maxRows"] = t.MaxRows
	}
	if len(t.Indexes) > 0 {
		idx := make([]any, len(t.Indexes))
		for i, cols := range t.Indexes {
			names := make([]any, len(cols))
			for j, c := range cols {
				names[j] = c
			}
			idx[i] = names
		}
		m["indexes"] = idx
	}
	return m
}

// JSON renders the column as ovsdb_column_to_json does.
func (c *Column) JSON() any {
	m := map[string]any{"type": c.Type.JSON()}
	if !c.Mutable {
		m["mutable"] = false
	}
	if c.Ephemeral {
		m["ephemeral"] = true
	}
	return m
}

// Table returns the named table, or nil.
func (d *Database) Table(name string) *Table { return d.Tables[name] }

// Column returns the named column (including "_uuid" and "_version"), or
// nil.
func (t *Table) Column(name string) *Column { return t.Columns[name] }

// MarshalJSON writes the get_schema form with exact reals and sorted
// members, so equal schemas marshal to equal bytes and parse back
// unchanged (suitable for storing and comparing schemas).
func (d *Database) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.JSON())
}
