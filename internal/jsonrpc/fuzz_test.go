package jsonrpc_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// FuzzDecoder checks that arbitrary bytes never panic the decoder, never
// exceed its limits, and that every accepted message re-encodes to a
// message that decodes to the same thing.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{
		`{"method":"echo","params":[],"id":0}`,
		`{"id":1,"result":[{"uuid":["uuid","2d6a3d5e-8d27-4c21-b9a7-07cbb3c5eb1f"]}],"error":null}`,
		` {"method":"update","params":[null,{"T":{}}],"id":null}` + "\n" + `{"method":"a"}`,
		`{"method":"x\"}{","params":["\\","]"],"id":"["}`,
		`[[[[[[]]]]]]`,
		`{"method":`,
		`}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := jsonrpc.NewDecoder(bytes.NewReader(data), jsonrpc.WithMaxSize(4096), jsonrpc.WithMaxDepth(32))
		for range 64 {
			var m jsonrpc.Message
			err := d.Decode(&m)
			var se *jsonrpc.SyntaxError
			if errors.As(err, &se) {
				continue
			}
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, jsonrpc.ErrTooDeep) ||
					errors.Is(err, jsonrpc.ErrMessageTooLarge) || errors.Is(err, jsonrpc.ErrBadStart) {
					return
				}
				t.Fatalf("unexpected error %v", err)
			}
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatalf("re-encode %+v: %v", m, err)
			}
			var m2 jsonrpc.Message
			if err := json.Unmarshal(b, &m2); err != nil {
				t.Fatalf("decode re-encoded %s: %v", b, err)
			}
			if m2.Method != m.Method || m2.IsNotification() != m.IsNotification() {
				t.Fatalf("round trip changed %+v into %+v", m, m2)
			}
		}
	})
}
