package jsonrpc

import (
	"encoding/json"
	"errors"
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
