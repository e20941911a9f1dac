package frontend

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// Sentinels.
var (
	// ErrClosed is returned by Serve after Close.
	ErrClosed = errors.New("frontend: server closed")
	// errProtocol ends a session whose client broke the JSON-RPC protocol
	// (ovsdb-server drops such connections with "Protocol error").
	errProtocol = errors.New("frontend: protocol error")
)

// JSON-RPC "error" members that ovsdb-server sends as bare strings rather
// than error objects.
const (
	errStrUnknownMethod     = "unknown method"
	errStrUnknownMonitor    = "unknown monitor"
	errStrInvalidParameters = "invalid parameters"
)

// ovsJSON renders v as ovsdb-server prints JSON in "syntax" members:
// compact, object members sorted (encoding/json sorts map keys), and no
// HTML escaping.
func ovsJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// marshal is json.Marshal without HTML escaping, for everything sent to
// clients.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// syntaxError is ovsdb-server's ovsdb_syntax_error(json, NULL, details):
// the offending JSON goes in "syntax" (omitted when nil).
func syntaxError(offending any, details string) *ovsdb.Error {
	e := &ovsdb.Error{Tag: ovsdb.TagSyntaxError, Details: details}
	if offending != nil {
		e.Syntax = ovsJSON(offending)
	}
	return e
}

// rawValue decodes raw JSON for use in a "syntax" member, or nil.
func rawValue(raw json.RawMessage) any {
	v, err := jsonrpc.DecodeValue(raw)
	if err != nil {
		return nil
	}
	return v
}
