package txnengine

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// TestAppendJSON checks appendJSON against json.Marshal on the values a
// result holds and on the odd ones it leaves to json.Marshal.
func TestAppendJSON(t *testing.T) {
	cases := []struct {
		name string
		v    any
	}{
		{name: "result", v: []any{
			map[string]any{"uuid": []any{"uuid", "0b9e3b0e-2f5d-4a7c-9a38-2b1b1b9f2f33"}},
			map[string]any{"count": int64(3)},
			map[string]any{"rows": []any{map[string]any{"name": "a", "n": int64(-7), "r": json.Number("1.5"), "b": true,
				"s": []any{"set", []any{}}, "m": []any{"map", []any{[]any{"k", "v"}}}}}},
			ovsdb.NewError(ovsdb.TagConstraintViolation, "bad <value> & \"quotes\"").JSON(),
			nil,
		}},
		{name: "html and control characters", v: []any{"<a href=\"x\">&</a>", "tab\there\nnewline\x01", "\u2028\u2029"}},
		{name: "unicode", v: []any{"héllo €", "日本", "\xff\xfe invalid"}},
		{name: "keys needing escapes", v: map[string]any{"<k>": int64(1), "a\"b": int64(2), "z": int64(3), "A": int64(4)}},
		{name: "numbers", v: []any{json.Number("0"), json.Number("-0.5e-10"), json.Number("12345678901234567890"), int(42), int64(math.MinInt64)}},
		{name: "empty number", v: []any{json.Number("")}},
		{name: "nil containers", v: []any{[]any(nil), map[string]any(nil), []any{}, map[string]any{}}},
		{name: "other types", v: []any{float64(1.5), float64(1e21), "x", []string{"a"}, map[string]int{"b": 1}, ovsdb.UUID{1}}},
		{name: "many keys", v: map[string]any{"j": 1, "i": 2, "h": 3, "g": 4, "f": 5, "e": 6, "d": 7, "c": 8, "b": 9, "a": 10}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, werr := json.Marshal(tc.v)
			got, gerr := appendJSON(nil, tc.v)
			if (werr == nil) != (gerr == nil) || string(got) != string(want) {
				t.Fatalf("appendJSON = %s, %v\njson.Marshal = %s, %v", got, gerr, want, werr)
			}
		})
	}
	for _, bad := range []any{json.Number("1x"), []any{math.NaN()}} {
		if _, err := appendJSON(nil, bad); err == nil {
			t.Errorf("appendJSON(%v) succeeded; json.Marshal fails", bad)
		}
	}
}

// FuzzAppendJSON: appendJSON must write json.Marshal's bytes for any
// decoded JSON value.
func FuzzAppendJSON(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(`[{"<":"&>","b":["\u2028",1.50,-0,1e400]}]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := decodeOpsStd(in)
		if err != nil {
			return
		}
		want, werr := json.Marshal(v)
		got, gerr := appendJSON(nil, v)
		if (werr == nil) != (gerr == nil) || string(got) != string(want) {
			t.Fatalf("appendJSON(%q) = %s, %v\njson.Marshal = %s, %v", in, got, gerr, want, werr)
		}
	})
}

// BenchmarkEncodeReply encodes the result of a 100-row transaction.
func BenchmarkEncodeReply(b *testing.B) {
	reply := make([]any, 101)
	for i := range 100 {
		reply[i] = map[string]any{"uuid": []any{"uuid", ovsdb.UUID{byte(i), 1, 2, 3}.String()}}
	}
	reply[100] = map[string]any{"count": int64(1)}
	for _, tc := range []struct {
		name   string
		encode func([]any) ([]byte, error)
	}{
		{"encodeReply", func(r []any) ([]byte, error) { d, _, err := encodeReply(r, nil); return d, err }},
		{"json.Marshal", func(r []any) ([]byte, error) { return json.Marshal(normalizeReply(r)) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tc.encode(reply); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
