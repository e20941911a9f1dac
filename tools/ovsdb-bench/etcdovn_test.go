package main

import (
	"os"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

// TestOVNValues checks that the OVN-sized floor writes rows that decode as
// the schema's Logical_Switch_Port and Logical_Switch rows, with a switch
// of n ports at index n.
func TestOVNValues(t *testing.T) {
	const nb = "/usr/share/ovn/ovn-nb.ovsschema"
	v, err := newOVNValues(nb)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(nb)
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	port, err := s.Tables[lspTable].DecodeRow([]byte(v.port))
	if err != nil {
		t.Fatalf("port row %s: %v", v.port, err)
	}
	if got := port["name"].Keys; len(got) != 1 || got[0] != rowName(63, 99999, 0) {
		t.Errorf("port name %v", got)
	}
	if len(v.switches) != portsPerSwitch+1 {
		t.Fatalf("%d switch values, want %d", len(v.switches), portsPerSwitch+1)
	}
	for _, n := range []int{0, 1, portsPerSwitch} {
		row, err := s.Tables["Logical_Switch"].DecodeRow([]byte(v.switches[n]))
		if err != nil {
			t.Fatalf("switch with %d ports: %v", n, err)
		}
		if got := len(row["ports"].Keys); got != n {
			t.Errorf("switch value %d has %d ports", n, got)
		}
	}
}
