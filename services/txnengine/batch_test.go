package txnengine

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/txn"
)

// TestBatchValues checks the etcd values a batch puts: each equals the
// encoding of the row the database now holds (an inserted row's change
// lacks the columns at their defaults, which must not change the bytes),
// and values encoded into the shared arena never overwrite each other,
// also when a row changes twice in one batch.
func TestBatchValues(t *testing.T) {
	data, err := os.ReadFile(nbSchemaPath)
	if err != nil {
		t.Fatalf("read the OVN NB schema (apt-get install -y ovn-common): %v", err)
	}
	s, err := schema.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	db := txn.NewDatabase(s)
	l := keys.Default()
	b := newBatch(l)
	run := func(ops string) txn.Result {
		t.Helper()
		v, err := decodeOps([]byte(ops))
		if err != nil {
			t.Fatal(err)
		}
		res := txn.Execute(db, v, txn.Options{})
		if replyFailed(res.Reply) {
			t.Fatalf("%s failed: %v", ops, res.Reply)
		}
		if err := b.add("OVN_Northbound", db, res.Changes, nil); err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := run(`[{"op":"insert","table":"Logical_Switch","row":{"name":"sw"}}]`)
	sw := res.Changes[0].UUID
	for i := range 60 {
		run(fmt.Sprintf(`[{"op":"insert","table":"Logical_Switch_Port","uuid-name":"p","row":{"name":"p%d","addresses":["set",["00:00:00:00:00:%02x 10.0.0.%d"]],"options":["map",[["k","v"]]],"type":""}},`+
			`{"op":"mutate","table":"Logical_Switch","where":[["_uuid","==",["uuid","%s"]]],"mutations":[["ports","insert",["set",[["named-uuid","p"]]]]]}]`, i, i, i, sw))
	}
	ops := b.etcdOps(time.Now())
	if want := 1 + 60 + 1; len(ops) != want { // switch, ports, commit key
		t.Fatalf("%d etcd ops, want %d", len(ops), want)
	}
	n := 0
	for _, op := range ops {
		key := string(op.KeyBytes())
		if key == l.Commit("OVN_Northbound") {
			continue
		}
		found := false
		for _, name := range []string{"Logical_Switch", "Logical_Switch_Port"} {
			db.Range(name, func(u ovsdb.UUID, row ovsdb.Row) bool {
				if l.Row("OVN_Northbound", name, u) != key {
					return true
				}
				want, err := s.Tables[name].EncodeRow(row)
				if err != nil {
					t.Fatal(err)
				}
				if got := string(op.ValueBytes()); got != string(want) {
					t.Errorf("value of %s:\n got %s\nwant %s", key, got, want)
				}
				found = true
				return false
			})
		}
		if !found {
			t.Errorf("op for unknown key %s", key)
		}
		n++
	}
	if n != 61 {
		t.Errorf("%d row values checked, want 61", n)
	}
}
