package jsonrpc_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

func decodeAll(t *testing.T, r io.Reader, opts ...jsonrpc.DecoderOption) ([]jsonrpc.Message, error) {
	t.Helper()
	d := jsonrpc.NewDecoder(r, opts...)
	var out []jsonrpc.Message
	for {
		var m jsonrpc.Message
		if err := d.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, m)
	}
}

func TestDecoder(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		methods []string // "" for a response
		wantErr error
	}{
		{name: "empty", in: ""},
		{name: "whitespace only", in: " \n\t\r "},
		{name: "one request", in: `{"method":"echo","params":[],"id":0}`, methods: []string{"echo"}},
		{name: "back to back", in: `{"method":"a","params":[],"id":1}{"id":1,"result":[],"error":null}`, methods: []string{"a", ""}},
		{name: "whitespace between", in: "  {\"method\":\"a\",\"params\":[],\"id\":1}\n\n {\"method\":\"b\",\"params\":[],\"id\":null}\n", methods: []string{"a", "b"}},
		{name: "brackets in strings", in: `{"method":"x}]\"{[","params":["}}}\\","{"],"id":"]"}`, methods: []string{"x}]\"{["}},
		{name: "truncated", in: `{"method":"a","params":[`, wantErr: io.ErrUnexpectedEOF},
		{name: "truncated in string", in: `{"method":"a\"}`, wantErr: io.ErrUnexpectedEOF},
		{name: "garbage", in: `hello`, wantErr: jsonrpc.ErrBadStart},
		{name: "number", in: `42`, wantErr: jsonrpc.ErrBadStart},
		{name: "garbage after message", in: `{"method":"a","params":[],"id":1} x`, methods: []string{"a"}, wantErr: jsonrpc.ErrBadStart},
		{name: "array is not an object", in: `[1,2]`, wantErr: jsonrpc.ErrNotObject},
		{name: "mismatched brackets", in: `{"method":"a"]`, wantErr: &jsonrpc.SyntaxError{}},
		{name: "bad literal", in: `{"method":nul}`, wantErr: &jsonrpc.SyntaxError{}},
		{name: "method not string", in: `{"method":1,"params":[],"id":1}`, wantErr: &jsonrpc.SyntaxError{}},
		{name: "too deep", in: strings.Repeat("[", 10000) + strings.Repeat("]", 10000), wantErr: jsonrpc.ErrTooDeep},
		{name: "deep within limit", in: `{"method":"a","params":` + strings.Repeat("[", 900) + strings.Repeat("]", 900) + `,"id":1}`, methods: []string{"a"}},
	}
	for _, tc := range tests {
		for _, oneByte := range []bool{false, true} {
			name := tc.name
			if oneByte {
				name += "/one byte reads"
			}
			t.Run(name, func(t *testing.T) {
				var r io.Reader = strings.NewReader(tc.in)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				msgs, err := decodeAll(t, r)
				// A *SyntaxError in the table stands for any syntax error;
				// other errors must match with errors.Is.
				var wantSyntax, se *jsonrpc.SyntaxError
				switch {
				case tc.wantErr == nil:
					if err != nil {
						t.Fatalf("unexpected error %v", err)
					}
				case errors.As(tc.wantErr, &wantSyntax):
					if !errors.As(err, &se) {
						t.Fatalf("error = %v, want a *SyntaxError", err)
					}
				default:
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("error = %v, want %v", err, tc.wantErr)
					}
				}
				var got []string
				for _, m := range msgs {
					got = append(got, m.Method)
				}
				if strings.Join(got, ",") != strings.Join(tc.methods, ",") {
					t.Fatalf("methods = %q, want %q", got, tc.methods)
				}
			})
		}
	}
}

func TestDecoderSizeLimit(t *testing.T) {
	big := `{"method":"transact","params":["` + strings.Repeat("x", 1<<20) + `"],"id":1}`
	msgs, err := decodeAll(t, strings.NewReader(`{"method":"a","params":[],"id":1}`+big), jsonrpc.WithMaxSize(64<<10))
	if !errors.Is(err, jsonrpc.ErrMessageTooLarge) {
		t.Fatalf("error = %v, want ErrMessageTooLarge", err)
	}
	if len(msgs) != 1 {
		t.Fatalf("decoded %d messages before the big one, want 1", len(msgs))
	}
	// The error is sticky.
	d := jsonrpc.NewDecoder(strings.NewReader(big), jsonrpc.WithMaxSize(100))
	var m jsonrpc.Message
	for range 2 {
		if err := d.Decode(&m); !errors.Is(err, jsonrpc.ErrMessageTooLarge) {
			t.Fatalf("error = %v, want ErrMessageTooLarge", err)
		}
	}
}

// A 64 MiB stream must be rejected after reading about the limit, without
// buffering the whole message.
func TestDecoderRejectsHugeMessageEarly(t *testing.T) {
	r := &countingReader{r: io.MultiReader(strings.NewReader(`{"method":"transact","params":["`), zeroReader{})}
	d := jsonrpc.NewDecoder(io.LimitReader(r, 64<<20), jsonrpc.WithMaxSize(1<<20))
	var m jsonrpc.Message
	if err := d.Decode(&m); !errors.Is(err, jsonrpc.ErrMessageTooLarge) {
		t.Fatalf("error = %v, want ErrMessageTooLarge", err)
	}
	if r.n > 2<<20 {
		t.Fatalf("read %d bytes before rejecting a message over 1 MiB", r.n)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestMessageRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		msg  jsonrpc.Message
		want string
	}{
		{
			name: "request",
			msg:  jsonrpc.Message{Method: "transact", Params: json.RawMessage(`["db",{"op":"comment","comment":"x"}]`), ID: json.RawMessage(`7`)},
			want: `{"method":"transact","params":["db",{"op":"comment","comment":"x"}],"id":7}`,
		},
		{
			name: "notification",
			msg:  jsonrpc.Message{Method: "update", Params: json.RawMessage(`[null,{}]`)},
			want: `{"method":"update","params":[null,{}],"id":null}`,
		},
		{
			name: "response",
			msg:  jsonrpc.Message{ID: json.RawMessage(`"a"`), Result: json.RawMessage(`{}`)},
			want: `{"id":"a","result":{},"error":null}`,
		},
		{
			name: "error response",
			msg:  jsonrpc.Message{ID: json.RawMessage(`1`), Error: json.RawMessage(`{"error":"unknown method"}`)},
			want: `{"id":1,"result":null,"error":{"error":"unknown method"}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := jsonrpc.NewEncoder(&buf).Encode(tc.msg); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tc.want {
				t.Fatalf("encoded %s, want %s", buf.String(), tc.want)
			}
			msgs, err := decodeAll(t, &buf)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("decode: %v, %d messages", err, len(msgs))
			}
			got := msgs[0]
			if got.Method != tc.msg.Method || got.IsNotification() != tc.msg.IsNotification() || got.HasError() != tc.msg.HasError() {
				t.Fatalf("round trip = %+v, want %+v", got, tc.msg)
			}
		})
	}
}

func TestDecodeParamsUsesNumber(t *testing.T) {
	m := jsonrpc.Message{Method: "x", Params: json.RawMessage(`[9007199254740993, 1.5]`)}
	p, err := m.DecodeParams()
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := p[0].(json.Number); !ok || n.String() != "9007199254740993" {
		t.Fatalf("params[0] = %#v, want json.Number 9007199254740993", p[0])
	}
	if _, err := (&jsonrpc.Message{Params: json.RawMessage(`{}`)}).DecodeParams(); err == nil {
		t.Fatal("object params accepted")
	}
}

func TestEncodeRejectsInvalidRaw(t *testing.T) {
	tests := []struct {
		name string
		msg  jsonrpc.Message
	}{
		{name: "bad params", msg: jsonrpc.Message{Method: "x", Params: json.RawMessage(`[1,`)}},
		{name: "bad id", msg: jsonrpc.Message{Method: "x", ID: json.RawMessage(`{`)}},
		{name: "bad result", msg: jsonrpc.Message{ID: json.RawMessage(`1`), Result: json.RawMessage(`nul`)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := jsonrpc.NewEncoder(&buf).Encode(tc.msg); err == nil || buf.Len() != 0 {
				t.Fatalf("Encode = %v, wrote %q; want an error and nothing written", err, buf.String())
			}
		})
	}
}
