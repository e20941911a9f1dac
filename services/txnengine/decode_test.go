package txnengine

import (
	"reflect"
	"testing"
)

// decodeCases are operations arrays; fast says whether decodeFast takes
// them (the others fall back to encoding/json).
var decodeCases = []struct {
	name string
	in   string
	fast bool
}{
	{name: "empty", in: `[]`, fast: true},
	{name: "spaces", in: " \t\r\n[ ] \n", fast: true},
	{name: "insert", in: `[{"op":"insert","table":"T","row":{"name":"a","n":1,"r":-1.5e+3,"b":true,"x":null}}]`, fast: true},
	{name: "nested", in: `[[[],{}],{"a":[1,[2,[3]]]},"s"]`, fast: true},
	{name: "numbers", in: `[0,-0,10,-12.25,1e5,1E-5,0.5e+10,123456789012345678901234567890]`, fast: true},
	{name: "duplicate keys", in: `[{"a":1,"a":2}]`, fast: true},
	{name: "escapes", in: `["a\"b\\c\/d\b\f\n\r\t", "\u0041\u00e9\u20ac\u0000", "outport == \"lsp1\""]`, fast: true},
	{name: "utf8", in: `["héllo wörld €", "日本"]`, fast: true},
	{name: "surrogate pair", in: `["\ud83d\ude00"]`},
	{name: "lone surrogate", in: `["\ud83d"]`},
	{name: "invalid utf8", in: "[\"a\xffb\"]"},
	{name: "control char", in: "[\"a\nb\"]"},
	{name: "bad escape", in: `["\x"]`},
	{name: "object", in: `{"op":"insert"}`},
	{name: "scalar", in: `1`},
	{name: "trailing data", in: `[1] 2`},
	{name: "trailing bracket", in: `[1] ]`},
	{name: "truncated", in: `[{"op":`},
	{name: "leading zero", in: `[01]`},
	{name: "bare minus", in: `[-]`},
	{name: "dot", in: `[1.]`},
	{name: "exponent", in: `[1e]`},
	{name: "trailing comma", in: `[1,]`},
	{name: "missing colon", in: `[{"a" 1}]`},
	{name: "bad literal", in: `[tru]`},
	{name: "literal suffix", in: `[truex]`},
	{name: "empty input", in: ``},
	{name: "bom", in: "\xef\xbb\xbf[]"},
}

// TestDecodeOps checks decodeOps against encoding/json (decodeOpsStd):
// the same values, or the same error.
func TestDecodeOps(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := decodeFast([]byte(tc.in)); ok != tc.fast {
				t.Errorf("decodeFast ok = %v, want %v", ok, tc.fast)
			}
			checkDecode(t, []byte(tc.in))
		})
	}
}

func checkDecode(t *testing.T, in []byte) {
	t.Helper()
	got, gerr := decodeOps(in)
	want, werr := decodeOpsStd(in)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("decodeOps(%q) error %v, encoding/json's %v", in, gerr, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeOps(%q) = %#v, encoding/json gives %#v", in, got, want)
	}
}

// FuzzDecodeOps: decodeOps must agree with encoding/json on any input.
func FuzzDecodeOps(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDecode(t, in)
	})
}

// BenchmarkDecodeOps decodes tools/ovsdb-bench's 100-row transaction.
func BenchmarkDecodeOps(b *testing.B) {
	in := benchSwitchTxn("", "bench")
	for _, tc := range []struct {
		name   string
		decode func([]byte) ([]any, error)
	}{{"fast", decodeOps}, {"encoding-json", decodeOpsStd}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := tc.decode(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestMaxCommon(t *testing.T) {
	for s := range common {
		if len(s) > maxCommon {
			t.Errorf("common string %q is longer than maxCommon %d", s, maxCommon)
		}
	}
}
