package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Message is one JSON-RPC 1.0 message. A request or notification has
// Method set (a notification has a null or absent ID); a response has no
// Method and carries Result and Error, one of them null. Fields hold raw
// JSON so that callers decode them with the types (and UseNumber) they
// need; an absent member is nil.
type Message struct {
	Method string
	Params json.RawMessage
	Result json.RawMessage
	Error  json.RawMessage
	ID     json.RawMessage
}

var jsonNull = json.RawMessage("null")

// IsRequest reports whether m is a request or notification.
func (m *Message) IsRequest() bool { return m.Method != "" }

// IsNotification reports whether m is a request whose id is null or absent.
func (m *Message) IsNotification() bool { return m.IsRequest() && isNull(m.ID) }

// HasError reports whether m is a response with a non-null error.
func (m *Message) HasError() bool { return !isNull(m.Error) }

func isNull(r json.RawMessage) bool {
	return len(bytes.TrimSpace(r)) == 0 || bytes.Equal(bytes.TrimSpace(r), jsonNull)
}

func orNull(r json.RawMessage) json.RawMessage {
	if len(r) == 0 {
		return jsonNull
	}
	return r
}

// MarshalJSON writes a request as {"method","params","id"} and a response
// as {"id","result","error"}, with null for absent members, as ovsdb-server
// does.
func (m Message) MarshalJSON() ([]byte, error) {
	if m.Method != "" {
		params := m.Params
		if len(params) == 0 {
			params = json.RawMessage("[]")
		}
		return json.Marshal(struct {
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			ID     json.RawMessage `json:"id"`
		}{m.Method, params, orNull(m.ID)})
	}
	return json.Marshal(struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}{orNull(m.ID), orNull(m.Result), orNull(m.Error)})
}

// ErrNotObject is returned for a message that is valid JSON but not an
// object.
var ErrNotObject = errors.New("jsonrpc: message is not a JSON object")

// UnmarshalJSON parses one message object. Unknown members are ignored;
// "method" must be a string when present.
func (m *Message) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return ErrNotObject
		}
		return err
	}
	*m = Message{Params: raw["params"], Result: raw["result"], Error: raw["error"], ID: raw["id"]}
	if meth, ok := raw["method"]; ok && !isNull(meth) {
		if err := json.Unmarshal(meth, &m.Method); err != nil {
			return fmt.Errorf("jsonrpc: \"method\" is not a string: %w", err)
		}
		if m.Method == "" {
			return errors.New("jsonrpc: empty \"method\"")
		}
	}
	return nil
}

// DecodeValue decodes raw JSON with json.Decoder.UseNumber into nil, bool,
// json.Number, string, []any or map[string]any, the representation the
// ovsdb and txn packages take.
func DecodeValue(raw json.RawMessage) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode JSON value: %w", err)
	}
	return v, nil
}

// DecodeParams decodes m.Params as a JSON array (UseNumber). Absent params
// decode as an empty array.
func (m *Message) DecodeParams() ([]any, error) {
	if isNull(m.Params) {
		return []any{}, nil
	}
	v, err := DecodeValue(m.Params)
	if err != nil {
		return nil, err
	}
	a, ok := v.([]any)
	if !ok {
		return nil, errors.New("jsonrpc: \"params\" is not an array")
	}
	return a, nil
}

// NewRequest builds a request with the given id (nil for a notification)
// and params, each marshalled with encoding/json.
func NewRequest(id any, method string, params ...any) (Message, error) {
	if params == nil {
		params = []any{}
	}
	p, err := json.Marshal(params)
	if err != nil {
		return Message{}, fmt.Errorf("marshal params of %q: %w", method, err)
	}
	m := Message{Method: method, Params: p}
	if id != nil {
		if m.ID, err = json.Marshal(id); err != nil {
			return Message{}, fmt.Errorf("marshal id of %q: %w", method, err)
		}
	}
	return m, nil
}

// NewResponse builds a reply to the request with id: result when rpcErr is
// nil, otherwise a null result and the error.
func NewResponse(id json.RawMessage, result, rpcErr any) (Message, error) {
	m := Message{ID: orNull(id), Result: jsonNull, Error: jsonNull}
	var err error
	if rpcErr != nil {
		if m.Error, err = json.Marshal(rpcErr); err != nil {
			return Message{}, fmt.Errorf("marshal error: %w", err)
		}
		return m, nil
	}
	if m.Result, err = json.Marshal(result); err != nil {
		return Message{}, fmt.Errorf("marshal result: %w", err)
	}
	return m, nil
}
