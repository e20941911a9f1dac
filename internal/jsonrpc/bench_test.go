package jsonrpc_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// transactMessage is a typical ovn-northd transaction: one insert of a
// row with a few columns.
func transactMessage(rows int) string {
	var ops []string
	for i := range rows {
		ops = append(ops, fmt.Sprintf(`{"op":"insert","table":"Logical_Switch_Port","uuid-name":"p%d","row":{"name":"port-%d","addresses":["set",["00:00:00:00:00:%02x 10.0.0.%d"]],"external_ids":["map",[["k","v"]]]}}`, i, i, i%256, i%256))
	}
	return `{"method":"transact","params":["OVN_Northbound",` + strings.Join(ops, ",") + `],"id":42}`
}

func BenchmarkDecode(b *testing.B) {
	for _, rows := range []int{1, 100} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			msg := transactMessage(rows)
			stream := strings.Repeat(msg, 64)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			var r strings.Reader
			d := jsonrpc.NewDecoder(&r)
			for i := 0; b.Loop(); i++ {
				if i%64 == 0 {
					r.Reset(stream)
					d = jsonrpc.NewDecoder(&r)
				}
				var m jsonrpc.Message
				if err := d.Decode(&m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, rows := range []int{1, 100} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			var m jsonrpc.Message
			if err := json.Unmarshal([]byte(transactMessage(rows)), &m); err != nil {
				b.Fatal(err)
			}
			enc := jsonrpc.NewEncoder(io.Discard)
			b.ReportAllocs()
			for b.Loop() {
				if err := enc.Encode(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeParams(b *testing.B) {
	var m jsonrpc.Message
	if err := jsonrpc.NewDecoder(bytes.NewReader([]byte(transactMessage(100)))).Decode(&m); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.DecodeParams(); err != nil {
			b.Fatal(err)
		}
	}
}
