package jsonrpc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Default limits of a Decoder.
const (
	// DefaultMaxMessageSize bounds one message's bytes (leading whitespace
	// excluded).
	DefaultMaxMessageSize = 32 << 20
	// DefaultMaxDepth bounds the nesting of objects and arrays, as
	// ovsdb-server's JSON parser does (it allows 1000 levels).
	DefaultMaxDepth = 1000
)

// Framing errors. After one of them the stream cannot be resynchronized and
// every later Decode returns the same error; the caller closes the
// connection.
var (
	ErrMessageTooLarge = errors.New("jsonrpc: message exceeds size limit")
	ErrTooDeep         = errors.New("jsonrpc: message nesting exceeds depth limit")
	ErrBadStart        = errors.New("jsonrpc: message does not start with '{' or '['")
)

// SyntaxError is a complete JSON value that does not parse as a message.
// The stream stays aligned after it.
type SyntaxError struct {
	Raw []byte // the offending bytes (truncated to 256)
	Err error
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("jsonrpc: invalid message: %v", e.Err) }
func (e *SyntaxError) Unwrap() error { return e.Err }

// Decoder reads messages one at a time from a byte stream. It finds the end
// of each JSON value with an iterative scanner that tracks only the
// bracket depth and string state, so its memory is bounded by MaxSize and
// its stack by a constant. It is not safe for concurrent use.
type Decoder struct {
	r        *bufio.Reader
	maxSize  int
	maxDepth int
	buf      []byte
	err      error // sticky framing or I/O error
}

// DecoderOption configures a Decoder.
type DecoderOption func(*Decoder)

// WithMaxSize sets the largest accepted message in bytes.
func WithMaxSize(n int) DecoderOption { return func(d *Decoder) { d.maxSize = n } }

// WithMaxDepth sets the deepest accepted nesting of arrays and objects.
func WithMaxDepth(n int) DecoderOption { return func(d *Decoder) { d.maxDepth = n } }

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader, opts ...DecoderOption) *Decoder {
	d := &Decoder{r: bufio.NewReaderSize(r, 64<<10), maxSize: DefaultMaxMessageSize, maxDepth: DefaultMaxDepth}
	for _, o := range opts {
		o(d)
	}
	return d
}

// ReadRaw returns the bytes of the next JSON object or array on the stream.
// The slice is valid until the next call. At a clean end of stream between
// messages it returns io.EOF; in the middle of one, io.ErrUnexpectedEOF.
func (d *Decoder) ReadRaw() ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	raw, err := d.scan()
	if err != nil {
		d.err = err
		return nil, err
	}
	return raw, nil
}

func (d *Decoder) scan() ([]byte, error) {
	d.buf = d.buf[:0]
	// Skip whitespace between messages.
	for {
		c, err := d.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			continue
		}
		if c != '{' && c != '[' {
			return nil, fmt.Errorf("%w (got %q)", ErrBadStart, c)
		}
		if err := d.r.UnreadByte(); err != nil {
			return nil, err
		}
		break
	}
	depth := 0
	inString, escape := false, false
	for {
		chunk, err := d.r.Peek(max(d.r.Buffered(), 1))
		if len(chunk) == 0 {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		end := -1
	scan:
		for i, c := range chunk {
			switch {
			case inString:
				switch {
				case escape:
					escape = false
				case c == '\\':
					escape = true
				case c == '"':
					inString = false
				}
			case c == '"':
				inString = true
			case c == '{' || c == '[':
				depth++
				if depth > d.maxDepth {
					return nil, ErrTooDeep
				}
			case c == '}' || c == ']':
				depth--
				if depth == 0 {
					end = i + 1
					break scan
				}
			}
		}
		n := len(chunk)
		if end >= 0 {
			n = end
		}
		if len(d.buf)+n > d.maxSize {
			return nil, fmt.Errorf("%w of %d bytes", ErrMessageTooLarge, d.maxSize)
		}
		d.buf = append(d.buf, chunk[:n]...)
		if _, err := d.r.Discard(n); err != nil {
			return nil, err
		}
		if end >= 0 {
			return d.buf, nil
		}
	}
}

// Decode reads the next message into m. A framing or I/O error is sticky
// (see ErrMessageTooLarge); a *SyntaxError is not.
func (d *Decoder) Decode(m *Message) error {
	raw, err := d.ReadRaw()
	if err != nil {
		return err
	}
	if err := m.UnmarshalJSON(raw); err != nil {
		return &SyntaxError{Raw: append([]byte(nil), raw[:min(len(raw), 256)]...), Err: err}
	}
	return nil
}
