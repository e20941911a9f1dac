package jsonrpc

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Encoder writes messages to a stream, one Write per message, with no
// separator (as ovsdb-server does). It is safe for concurrent use.
type Encoder struct {
	mu sync.Mutex // mu guards w, so messages never interleave
	w  io.Writer
}

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w} }

// Encode writes one message.
func (e *Encoder) Encode(m Message) error {
	b, err := AppendMessage(nil, m)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", kind(m), err)
	}
	return e.WriteRaw(b)
}

// AppendMessage appends the encoding of m (the same bytes as
// json.Marshal(m), without re-encoding the raw members) to buf. Raw
// members are checked to be valid JSON so a bad one can never corrupt the
// stream.
func AppendMessage(buf []byte, m Message) ([]byte, error) {
	if m.Method != "" {
		name, err := json.Marshal(m.Method)
		if err != nil {
			return nil, err
		}
		params := m.Params
		if len(params) == 0 {
			params = json.RawMessage("[]")
		}
		buf = append(buf, `{"method":`...)
		buf = append(buf, name...)
		if buf, err = appendRaw(buf, `,"params":`, params); err != nil {
			return nil, err
		}
		if buf, err = appendRaw(buf, `,"id":`, orNull(m.ID)); err != nil {
			return nil, err
		}
		return append(buf, '}'), nil
	}
	var err error
	if buf, err = appendRaw(buf, `{"id":`, orNull(m.ID)); err != nil {
		return nil, err
	}
	if buf, err = appendRaw(buf, `,"result":`, orNull(m.Result)); err != nil {
		return nil, err
	}
	if buf, err = appendRaw(buf, `,"error":`, orNull(m.Error)); err != nil {
		return nil, err
	}
	return append(buf, '}'), nil
}

func appendRaw(buf []byte, prefix string, raw json.RawMessage) ([]byte, error) {
	if !json.Valid(raw) {
		return nil, fmt.Errorf("member%s is not valid JSON", strings.TrimSuffix(prefix, ":"))
	}
	buf = append(buf, prefix...)
	return append(buf, raw...), nil
}

// WriteRaw writes an already encoded message.
func (e *Encoder) WriteRaw(b []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.w.Write(b); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	return nil
}

func kind(m Message) string {
	if m.Method != "" {
		return fmt.Sprintf("%q request", m.Method)
	}
	return "response"
}
