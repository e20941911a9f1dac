package main

import (
	"context"
	"fmt"
	"os"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

// switchPrefix holds the OVN-sized floor's switch rows, apart from the
// row keys that the watchers and checks count.
const switchPrefix = "ovsdb-bench/switch/"

// ovnValues are the etcd values ovsdb-etcd writes for the OVN writers'
// transaction (tools/ovsdb-bench/ovsdb.go): a new Logical_Switch_Port row,
// and its Logical_Switch row rewritten with one more port set element per
// new port. The "etcd-ovn" system puts exactly these bytes in one plain
// Txn per transaction: the physical floor of this workload, where "etcd"
// puts 200 bytes.
type ovnValues struct {
	port     string
	switches []string // switches[n]: the switch row with n ports
}

// newOVNValues encodes the rows with the schema's own row codec, as the
// txnengine does.
func newOVNValues(schemaPath string) (*ovnValues, error) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		return nil, fmt.Errorf("OVN-sized values: %w", err)
	}
	s, err := schema.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("OVN-sized values: %w", err)
	}
	lsp, ls := s.Tables[lspTable], s.Tables["Logical_Switch"]
	if lsp == nil || ls == nil {
		return nil, fmt.Errorf("OVN-sized values: %s lacks %s or Logical_Switch", schemaPath, lspTable)
	}
	version := ovsdb.NewSet(ovsdb.UUID{1, 2, 3})
	port, err := lsp.EncodeRow(ovsdb.Row{"name": ovsdb.NewSet(rowName(63, 99999, 0)), schema.ColumnVersion: version})
	if err != nil {
		return nil, fmt.Errorf("OVN-sized values: %w", err)
	}
	v := &ovnValues{port: string(port)}
	var ports []ovsdb.Atom
	for n := 0; n <= portsPerSwitch; n++ {
		row, err := ls.EncodeRow(ovsdb.Row{
			"name":               ovsdb.NewSet(fmt.Sprintf("bench-sw-%d-%d", 63, 9999)),
			"ports":              ovsdb.NewSet(ports...),
			schema.ColumnVersion: version,
		})
		if err != nil {
			return nil, fmt.Errorf("OVN-sized values: %w", err)
		}
		v.switches = append(v.switches, string(row))
		ports = append(ports, ovsdb.UUID{byte(n), byte(n >> 8), 0xaa, 0x55, 7})
	}
	return v, nil
}

// txn puts the values of writer w's transaction seq with rows ports: the
// port rows under benchPrefix (counted by the watchers and checks) and the
// writer's current switch, in one Txn.
func (v *ovnValues) txn(ctx context.Context, cli *clientv3.Client, w, seq, rows int) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	every := max(1, portsPerSwitch/rows)
	ops := make([]clientv3.Op, 0, rows+1)
	for k := range rows {
		ops = append(ops, clientv3.OpPut(benchPrefix+rowName(w, seq, k), v.port))
	}
	n := min((seq%every+1)*rows, len(v.switches)-1)
	ops = append(ops, clientv3.OpPut(fmt.Sprintf("%s%d-%d", switchPrefix, w, seq/every), v.switches[n]))
	return commitOps(cctx, cli, w, seq, ops)
}
