package txnengine

import (
	"bytes"
	"testing"
)

// TestNewRowUUIDOrdered: new row UUIDs are distinct, RFC 9562 version 7
// with the RFC 4122 variant, and increase, so their etcd keys do too.
func TestNewRowUUIDOrdered(t *testing.T) {
	prev := newRowUUID()
	for range 1000 {
		u := newRowUUID()
		if u[6]>>4 != 7 || u[8]>>6 != 2 {
			t.Fatalf("%s: version %d variant %b, want 7 and 10", u, u[6]>>4, u[8]>>6)
		}
		if bytes.Compare(u[:], prev[:]) <= 0 {
			t.Fatalf("%s does not follow %s", u, prev)
		}
		if u.String() <= prev.String() {
			t.Fatalf("key text %s does not sort after %s", u, prev)
		}
		prev = u
	}
}
