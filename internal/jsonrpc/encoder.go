package jsonrpc

import (
	"encoding/json"
	"fmt"
	"io"
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
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", kind(m), err)
	}
	return e.WriteRaw(b)
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
