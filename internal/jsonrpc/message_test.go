package jsonrpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// TestParamsArray: ParamsArray splits valid params exactly as
// json.Unmarshal into []json.RawMessage does.
func TestParamsArray(t *testing.T) {
	for _, params := range []string{
		`[]`, ` [ ] `, `["OVN_Northbound"]`, `["db", {"op":"insert","row":{"name":"a]b,c\"}"}}]`,
		` [ "db" , [1, [2, {"x": "]"}]] , null , true , -1.5e3 , "\\\"" ] `,
		`["a","b\\\\",{"c":[]},[[[]]]]`,
	} {
		m := &Message{}
		if err := m.UnmarshalJSON([]byte(`{"method":"transact","params":` + params + `,"id":1}`)); err != nil {
			t.Fatalf("%s: %v", params, err)
		}
		got, err := m.ParamsArray()
		if err != nil {
			t.Fatalf("%s: %v", params, err)
		}
		var want []json.RawMessage
		if err := json.Unmarshal([]byte(params), &want); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d elements, want %d", params, len(got), len(want))
		}
		for i := range want {
			if string(got[i]) != string(want[i]) {
				t.Errorf("%s: element %d = %s, want %s", params, i, got[i], want[i])
			}
		}
	}
	for _, params := range []string{`{"a":1}`, `"x"`, `3`} {
		m := &Message{}
		if err := m.UnmarshalJSON([]byte(`{"method":"m","params":` + params + `,"id":1}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := m.ParamsArray(); !errors.Is(err, ErrParamsNotArray) {
			t.Errorf("params %s: err %v, want ErrParamsNotArray", params, err)
		}
	}
	if got, err := (&Message{}).ParamsArray(); err != nil || len(got) != 0 {
		t.Errorf("absent params: %v %v, want none", got, err)
	}
}

// TestCheckOVSDB: ovsdb-server's rules for received messages, with its
// wording (lib/jsonrpc.c).
func TestCheckOVSDB(t *testing.T) {
	tests := []struct{ msg, want string }{
		{`{"method":"echo","params":[],"id":1}`, ""},
		{`{"method":"","params":[],"id":1}`, ""},
		{`{"method":"update","params":[1],"id":null}`, ""},
		{`{"method":"cancel","params":[1]}`, ""},
		{`{"id":"echo","result":[],"error":null}`, ""},
		{`{"id":1,"result":null,"error":{"error":"x"}}`, ""},
		{`{"method":"echo","params":[],"id":1,"foo":2}`, `message has unexpected member "foo"`},
		{`{"method":"echo","params":{},"id":1}`, `"params" must be JSON array`},
		{`{"method":"echo","id":1}`, `request must have "params"`},
		{`{"params":[],"id":1}`, `request must have "method"`},
		{`{"method":"echo","params":[],"id":1,"result":1}`, `reply must not have "method"`},
		{`{"result":[],"id":null}`, `reply must have "id"`},
		{`{"error":"x","params":[],"id":1}`, `error must not have "params"`},
		{`{}`, `notification must have "method"`},
	}
	for _, tc := range tests {
		var m Message
		if err := json.Unmarshal([]byte(tc.msg), &m); err != nil {
			t.Fatalf("%s: %v", tc.msg, err)
		}
		err := m.CheckOVSDB()
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("%s: CheckOVSDB = %v, want %q", tc.msg, err, tc.want)
		}
	}
}
