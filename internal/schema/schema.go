package schema

import "github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"

// Database is a parsed, validated database schema.
type Database struct {
	Name    string
	Version string // "" when the schema has none
	Cksum   string // "" when the schema has none
	Tables  map[string]*Table
}

// Table is one table's schema.
type Table struct {
	Name    string
	Columns map[string]*Column // user columns plus "_uuid" and "_version"
	MaxRows int64              // 0: unlimited
	IsRoot  bool
	Indexes [][]string // each a list of column names
}

// Column is one column's schema.
type Column struct {
	Name      string
	Type      ovsdb.Type
	Ephemeral bool
	Mutable   bool
}
