package schema

import "github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"

// TEMPORARY: signatures the data-model helper must implement.

// Parse parses and validates a schema document; an invalid schema gets an
// error naming the table and column at fault.
func Parse(data []byte) (*Database, error) { panic("unimplemented") }

// JSON renders the schema as ovsdb-server's get_schema reply.
func (d *Database) JSON() any { panic("unimplemented") }

// EncodeRow renders a stored row as the etcd value of DESIGN.md: a JSON
// object with every column of t in OVSDB notation plus "_version".
func (t *Table) EncodeRow(row ovsdb.Row) ([]byte, error) { panic("unimplemented") }

// DecodeRow parses an etcd value written by EncodeRow.
func (t *Table) DecodeRow(data []byte) (ovsdb.Row, error) { panic("unimplemented") }
