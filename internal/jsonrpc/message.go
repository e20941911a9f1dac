package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
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

	// hasMethod: the parsed message had a non-null "method" (which may be
	// the empty string); unexpected: the first member that is none of
	// method, params, result, error and id. Both are for CheckOVSDB.
	hasMethod  bool
	unexpected string
}

var jsonNull = json.RawMessage("null")

// IsRequest reports whether m is a request or notification.
func (m *Message) IsRequest() bool { return m.Method != "" || m.hasMethod }

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

// UnmarshalJSON parses one message object. Unknown members are ignored, a
// repeated member counts once with its last value (as encoding/json does);
// "method" must be a string when present.
func (m *Message) UnmarshalJSON(data []byte) error {
	if !json.Valid(data) {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		return errors.New("jsonrpc: invalid JSON")
	}
	return m.parseValid(data)
}

// parseValid fills m from data, which must be valid JSON. It walks the
// top-level members without building a map, copying only the member
// values it keeps, since the caller may reuse data.
func (m *Message) parseValid(data []byte) error {
	*m = Message{}
	i := skipSpace(data, 0)
	if data[i] != '{' {
		return ErrNotObject
	}
	var method []byte
	hasMethod := false
	i++
	for {
		i = skipSpace(data, i)
		if data[i] == '}' {
			break
		}
		ks := i
		i = endOfString(data, i)
		key := data[ks:i]
		i = skipSpace(data, i) + 1 // ':'
		i = skipSpace(data, i)
		vs := i
		i = endOfValue(data, i)
		val := data[vs:i]
		switch keyName(key) {
		case "method":
			method, hasMethod = val, true
		case "params":
			m.Params = append(json.RawMessage(nil), val...)
		case "result":
			m.Result = append(json.RawMessage(nil), val...)
		case "error":
			m.Error = append(json.RawMessage(nil), val...)
		case "id":
			m.ID = append(json.RawMessage(nil), val...)
		default:
			if m.unexpected == "" {
				m.unexpected = string(key)
			}
		}
		i = skipSpace(data, i)
		if data[i] == ',' {
			i++
			continue
		}
		break // '}'
	}
	if hasMethod && !isNull(method) {
		if err := unquote(method, &m.Method); err != nil {
			return fmt.Errorf("jsonrpc: \"method\" is not a string: %w", err)
		}
		m.hasMethod = true
	}
	return nil
}

// CheckOVSDB applies ovsdb-server's rules for a received message
// (lib/jsonrpc.c, jsonrpc_msg_from_json and jsonrpc_msg_is_valid), with
// its wording: no members but method, params, result, error and id;
// params, if not null, an array; and, by kind (a non-null result makes a
// reply, else a non-null error an error reply, else a non-null id a
// request, else a notification), exactly the members that kind has, null
// counting as absent. ovsdb-server drops a client that sends a message
// that breaks them.
func (m *Message) CheckOVSDB() error {
	if m.unexpected != "" {
		return fmt.Errorf("message has unexpected member %s", m.unexpected)
	}
	if !isNull(m.Params) && bytes.TrimSpace(m.Params)[0] != '[' {
		return errors.New(`"params" must be JSON array`)
	}
	has := [5]bool{m.IsRequest(), !isNull(m.Params), !isNull(m.Result), !isNull(m.Error), !isNull(m.ID)}
	var kind string
	var want [5]bool // method, params, result, error, id
	switch {
	case has[2]:
		kind, want = "reply", [5]bool{false, false, true, false, true}
	case has[3]:
		kind, want = "error", [5]bool{false, false, false, true, true}
	case has[4]:
		kind, want = "request", [5]bool{true, true, false, false, true}
	default:
		kind, want = "notification", [5]bool{true, true, false, false, false}
	}
	for i, name := range [5]string{"method", "params", "result", "error", "id"} {
		if has[i] != want[i] {
			must := " not"
			if want[i] {
				must = ""
			}
			return fmt.Errorf("%s must%s have \"%s\"", kind, must, name)
		}
	}
	return nil
}

// IsReply reports whether m is a reply (a non-null result), not an error
// reply, request or notification.
func (m *Message) IsReply() bool { return !isNull(m.Result) }

// keyName returns a member name; names with escapes are decoded.
func keyName(quoted []byte) string {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return string(quoted[1 : len(quoted)-1])
	}
	var s string
	_ = json.Unmarshal(quoted, &s)
	return s
}

// unquote decodes a JSON string value into s.
func unquote(v []byte, s *string) error {
	// encoding/json replaces invalid UTF-8 with U+FFFD: leave those to it.
	if len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v) {
		*s = string(v[1 : len(v)-1])
		return nil
	}
	return json.Unmarshal(v, s)
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// endOfString returns the index just past the string starting at i.
func endOfString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// endOfValue returns the index just past the JSON value starting at i.
func endOfValue(data []byte, i int) int {
	switch data[i] {
	case '"':
		return endOfString(data, i)
	case '{', '[':
		depth := 0
		for ; i < len(data); i++ {
			switch data[i] {
			case '"':
				i = endOfString(data, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for ; i < len(data); i++ {
		switch data[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
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

// ErrParamsNotArray: a message's params are not a JSON array.
var ErrParamsNotArray = errors.New("jsonrpc: params are not an array")

// ParamsArray returns the elements of m.Params, a JSON array, as raw
// values without decoding them, as json.Unmarshal into []json.RawMessage
// would. A Message from Decode or UnmarshalJSON holds valid JSON, so the
// elements are only delimited, not validated again (a transact's params
// are its whole transaction). Absent or null params are an empty array.
func (m *Message) ParamsArray() ([]json.RawMessage, error) {
	if isNull(m.Params) {
		return nil, nil
	}
	data := m.Params
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, ErrParamsNotArray
	}
	var out []json.RawMessage
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return []json.RawMessage{}, nil
	}
	for i < len(data) {
		vs := i
		i = endOfValue(data, i)
		out = append(out, data[vs:i:i])
		i = skipSpace(data, i)
		if i >= len(data) || data[i] != ',' {
			break
		}
		i = skipSpace(data, i+1)
	}
	if i >= len(data) || data[i] != ']' {
		return nil, fmt.Errorf("jsonrpc: params: malformed array")
	}
	return out, nil
}
