package ovsdb

import (
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// TestUUIDAppendText checks the hand-written hex against encoding/hex,
// appended after existing bytes.
func TestUUIDAppendText(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	us := []UUID{{}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	for range 1000 {
		var u UUID
		for i := range u {
			u[i] = byte(r.Uint32())
		}
		us = append(us, u)
	}
	for _, u := range us {
		h := hex.EncodeToString(u[:])
		want := "x" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
		if got := string(u.AppendText([]byte("x"))); got != want {
			t.Fatalf("AppendText = %q, want %q", got, want)
		}
		if got := u.String(); got != want[1:] {
			t.Fatalf("String = %q, want %q", got, want[1:])
		}
	}
}
