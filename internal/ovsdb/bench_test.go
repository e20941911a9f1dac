package ovsdb

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func benchSetText(n int) string {
	var b strings.Builder
	b.WriteString(`["set",[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `["uuid","%08x-89ab-cdef-0123-456789abcdef"]`, (i*7919)%100000)
	}
	b.WriteString(`]]`)
	return b.String()
}

func BenchmarkParseDatum(b *testing.B) {
	cases := []struct{ name, typ, value string }{
		{"integer", `"integer"`, `12345`},
		{"string", `"string"`, `"logical-switch-port-0001"`},
		{"uuid-set-100", `{"key":{"type":"uuid","refTable":"T"},"min":0,"max":"unlimited"}`, benchSetText(100)},
		{"map-10", `{"key":"string","value":"string","min":0,"max":"unlimited"}`,
			`["map",[["j","1"],["i","2"],["h","3"],["g","4"],["f","5"],["e","6"],["d","7"],["c","8"],["b","9"],["a","0"]]]`},
	}
	for _, tc := range cases {
		typ := mustType(b, tc.typ)
		v := decode(b, tc.value)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseDatum(typ, v, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDatumJSON(b *testing.B) {
	typ := mustType(b, `{"key":{"type":"uuid","refTable":"T"},"min":0,"max":"unlimited"}`)
	d, err := ParseDatum(typ, decode(b, benchSetText(100)), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("uuid-set-100", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = DatumJSON(typ, d)
		}
	})
	b.Run("uuid-set-100-marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(DatumJSON(typ, d)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uuid-set-100-AppendDatum", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 8192)
		for b.Loop() {
			buf = AppendDatum(buf[:0], typ, d)
		}
	})
	b.Run("uuid-set-100-AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 8192)
		for b.Loop() {
			buf = AppendJSON(buf[:0], DatumJSON(typ, d))
		}
	})
}

func BenchmarkUUIDAppendText(b *testing.B) {
	u := UUID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = u.AppendText(buf[:0])
	}
}
