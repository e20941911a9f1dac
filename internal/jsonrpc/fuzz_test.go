package jsonrpc_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
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
			if uerr := json.Unmarshal(b, &m2); uerr != nil {
				t.Fatalf("decode re-encoded %s: %v", b, uerr)
			}
			if m2.Method != m.Method || m2.IsNotification() != m.IsNotification() {
				t.Fatalf("round trip changed %+v into %+v", m, m2)
			}
			b2, err := jsonrpc.AppendMessage(nil, m)
			if err != nil {
				t.Fatalf("AppendMessage %+v: %v", m, err)
			}
			var m3 jsonrpc.Message
			if err := json.Unmarshal(b2, &m3); err != nil || m3.Method != m.Method || m3.IsNotification() != m.IsNotification() {
				t.Fatalf("AppendMessage %+v wrote %s: %v", m, b2, err)
			}
		}
	})
}

// refMessage is what refUnmarshal makes of a message.
type refMessage struct {
	jsonrpc.Message
	hasMethod  bool // a non-null "method"
	unexpected bool // a member other than the five of JSON-RPC 1.0
}

// refUnmarshal is the obvious implementation Message.UnmarshalJSON must
// agree with: encoding/json into a map of raw members.
func refUnmarshal(data []byte) (refMessage, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return refMessage{}, err
	}
	m := refMessage{Message: jsonrpc.Message{Params: raw["params"], Result: raw["result"], Error: raw["error"], ID: raw["id"]}}
	for k := range raw {
		switch k {
		case "method", "params", "result", "error", "id":
		default:
			m.unexpected = true
		}
	}
	if meth, ok := raw["method"]; ok && string(meth) != "null" {
		if err := json.Unmarshal(meth, &m.Method); err != nil {
			return m, err
		}
		m.hasMethod = true
	}
	return m, nil
}

// FuzzMessageUnmarshal checks the map-free member walk of
// Message.UnmarshalJSON against refUnmarshal.
func FuzzMessageUnmarshal(f *testing.F) {
	for _, s := range []string{
		`{"method":"echo","params":[],"id":0}`,
		`{"id":1,"result":{"a":[1,{"b":"}"}]},"error":null}`,
		` { "me\u0074hod" : "x\"y" , "params" : [ 1 , "]" ] , "id" : "7" , "extra" : {} } `,
		`{"method":"a","method":"b","id":1,"id":2}`,
		`{"method":null,"params":true,"id":-1.5e3}`,
		`{"method":5}`,
		`{"method":""}`,
		`[1]`,
		`{}`,
		`{"a":}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := refUnmarshal(data)
		var got jsonrpc.Message
		gerr := got.UnmarshalJSON(data)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: error %v, reference error %v", data, gerr, werr)
		}
		if werr != nil {
			return
		}
		if got.Method != want.Method || !bytes.Equal(got.Params, want.Params) || !bytes.Equal(got.Result, want.Result) ||
			!bytes.Equal(got.Error, want.Error) || !bytes.Equal(got.ID, want.ID) {
			t.Fatalf("%q: got %+v, reference %+v", data, got, want)
		}
		if got.IsRequest() != want.hasMethod {
			t.Fatalf("%q: IsRequest %v, reference has method %v", data, got.IsRequest(), want.hasMethod)
		}
		cerr := got.CheckOVSDB()
		if flagged := cerr != nil && strings.Contains(cerr.Error(), "unexpected member"); flagged != want.unexpected {
			t.Fatalf("%q: CheckOVSDB %v, reference unexpected member %v", data, cerr, want.unexpected)
		}
	})
}
