package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

// selectRows returns the rows of table (every column) on addr.
func selectRows(t testing.TB, addr, db, table string) []map[string]any {
	t.Helper()
	res := e2etest.Transact(t, addr, db, map[string]any{"op": "select", "table": table, "where": []any{}})
	if len(res) != 1 || res[0]["rows"] == nil {
		t.Fatalf("select %s on %s: %v", table, addr, res)
	}
	var rows []map[string]any
	for _, r := range res[0]["rows"].([]any) {
		rows = append(rows, r.(map[string]any))
	}
	return rows
}

// uuidOf returns the UUID string of a row's _uuid (["uuid","..."]).
func uuidOf(t testing.TB, row map[string]any) string {
	t.Helper()
	u, ok := row["_uuid"].([]any)
	if !ok || len(u) != 2 {
		t.Fatalf("row without _uuid: %v", row)
	}
	return u[1].(string)
}

// checkRowsInEtcd asserts that every row of table on addr is in etcd under
// the documented key <prefix>/<service>/<db>/<table>/<uuid>, as a JSON
// object carrying the row's columns, and that etcd holds no other row of
// the table.
func checkRowsInEtcd(t *testing.T, cli *clientv3.Client, prefix, addr, db, table string) {
	t.Helper()
	rows := selectRows(t, addr, db, table)
	ctx, cancel := context.WithTimeout(t.Context(), e2etest.ClientTimeout)
	defer cancel()
	tablePrefix := fmt.Sprintf("%s/%s/%s/", prefix, db, table)
	resp, err := cli.Get(ctx, tablePrefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("etcd get %s: %v", tablePrefix, err)
	}
	inEtcd := map[string]map[string]any{}
	for _, kv := range resp.Kvs {
		var v map[string]any
		if err := json.Unmarshal(kv.Value, &v); err != nil {
			t.Errorf("etcd key %s: value is not a JSON object: %v", kv.Key, err)
			continue
		}
		inEtcd[strings.TrimPrefix(string(kv.Key), tablePrefix)] = v
	}
	if len(inEtcd) != len(rows) {
		t.Errorf("%s: %d rows served, %d keys under %s: %v", table, len(rows), len(inEtcd), tablePrefix, slices.Sorted(maps.Keys(inEtcd)))
	}
	for _, r := range rows {
		u := uuidOf(t, r)
		v, ok := inEtcd[u]
		if !ok {
			t.Errorf("%s row %s not in etcd at %s%s", table, u, tablePrefix, u)
			continue
		}
		if name, ok := r["name"]; ok && fmt.Sprint(v["name"]) != fmt.Sprint(name) {
			t.Errorf("%s row %s: etcd holds name %v, server says %v", table, u, v["name"], name)
		}
		if _, ok := v["_version"]; !ok {
			t.Errorf("%s row %s: etcd value has no _version: %v", table, u, v)
		}
	}
}

// dumpExact is ovsdb-client dump of the whole OVN_Northbound database, not
// normalized: after a restart even the UUIDs must be the same.
func dumpExact(t *testing.T, addr string) string {
	t.Helper()
	return refserver.MustRunClient(t, e2etest.ClientTimeout, "ovsdb-client", "dump", addr, "OVN_Northbound")
}

// TestAllInOneMatchesOVSDBServer runs the issue 4 client script against a
// real ovsdb-server and against all-in-one, compares the outputs, checks
// that the rows are in etcd under the documented keys, and that they
// survive a restart.
func TestAllInOneMatchesOVSDBServer(t *testing.T) {
	ref := refserver.Start(t, refserver.Options{Schemas: []string{nbSchema}, Clustered: true})
	a := startAllInOne(t, []string{nbSchema})

	steps := append(slices.Clone(nbScript), monitorSteps...)
	want := runScript(t, ref.Addr(), nbScript)
	maps.Copy(want, runMonitorScript(t, ref.Addr()))
	got := runScript(t, a.Addr(), nbScript)
	maps.Copy(got, runMonitorScript(t, a.Addr()))
	compareOutputs(t, steps, want, got, "ovsdb-server", "ovsdb-etcd")
	logOutputs(t, steps, got)

	cli := a.etcdClient(t)
	const prefix = "ovsdb/default"
	for _, table := range []string{"Logical_Switch", "Logical_Switch_Port", "ACL", "Logical_Router", "Logical_Router_Port", "Load_Balancer"} {
		checkRowsInEtcd(t, cli, prefix, a.Addr(), "OVN_Northbound", table)
	}
	ctx, cancel := context.WithTimeout(t.Context(), e2etest.ClientTimeout)
	defer cancel()
	if resp, err := cli.Get(ctx, prefix+"/OVN_Northbound/_schema"); err != nil || len(resp.Kvs) != 1 {
		t.Errorf("schema not stored at %s/OVN_Northbound/_schema: %v", prefix, err)
	}

	before := dumpExact(t, a.Addr())
	a.restart()
	if after := dumpExact(t, a.Addr()); after != before {
		t.Errorf("dump differs after restart:\n--- before:\n%s\n--- after:\n%s", before, after)
	}
	// The restarted server still transacts, on the same data.
	refserver.MustRunClient(t, e2etest.ClientTimeout, "ovn-nbctl", "--db="+a.Addr(), "--no-leader-only", "ls-add", "after-restart")
	out := refserver.MustRunClient(t, e2etest.ClientTimeout, "ovn-nbctl", "--db="+a.Addr(), "--no-leader-only", "--bare", "--columns=name", "list", "Logical_Switch")
	if !strings.Contains(out, "after-restart") || !strings.Contains(out, "sw0") {
		t.Errorf("after restart, switches are %q", out)
	}
}

// TestAllInOneRefusesChangedSchemaVersion restarts all-in-one on the same
// data with a schema of another version: it must exit non-zero, saying
// why, and the stored data must be untouched.
func TestAllInOneRefusesChangedSchemaVersion(t *testing.T) {
	dir := e2etest.ShortDir(t)
	v1 := filepath.Join(dir, "v1.ovsschema")
	v2 := filepath.Join(dir, "v2.ovsschema")
	const schemaFmt = `{"name":"Simple","version":"%s","tables":{"T":{"columns":{"name":{"type":"string"}},"isRoot":true}}}`
	if err := os.WriteFile(v1, fmt.Appendf(nil, schemaFmt, "1.0.0"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(v2, fmt.Appendf(nil, schemaFmt, "2.0.0"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAllInOne(t, []string{v1})
	e2etest.Transact(t, a.Addr(), "Simple", map[string]any{"op": "insert", "table": "T", "row": map[string]any{"name": "kept"}})
	if err := a.p.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	args := slices.Clone(a.p.Args())
	for i := range args {
		if args[i] == v1 {
			args[i] = v2
		}
	}
	p := e2etest.StartProc(t, "all-in-one v2", e2etest.Bin(), args...)
	err := p.Wait(e2etest.ReadyTimeout)
	if err == nil || p.Running() {
		t.Fatalf("all-in-one with a changed schema version: exit %v, want a failure", err)
	}
	if out := p.Output(); !strings.Contains(out, "version") {
		t.Errorf("refusal does not mention the version:\n%s", out)
	}
	if _, statErr := os.Stat(a.sock); statErr == nil {
		t.Errorf("punix socket %s exists although the server refused to start", a.sock)
	}

	// The same schema again still serves the old data.
	a.p.Start()
	e2etest.WaitServing(t, a.p, a.Addr(), a.dbs...)
	rows := selectRows(t, a.Addr(), "Simple", "T")
	if len(rows) != 1 || rows[0]["name"] != "kept" {
		t.Errorf("after the refused start, rows are %v", rows)
	}
}

// TestRolesMatchOVSDBServer is TestAllInOneMatchesOVSDBServer with the
// three roles as separate processes (two txnengines) on a 3-member etcd
// cluster, and a restart of every process.
func TestRolesMatchOVSDBServer(t *testing.T) {
	ref := refserver.Start(t, refserver.Options{Schemas: []string{nbSchema}, Clustered: true})
	r := startRoles(t, []string{nbSchema}, 2)

	steps := append(slices.Clone(nbScript), monitorSteps...)
	want := runScript(t, ref.Addr(), nbScript)
	maps.Copy(want, runMonitorScript(t, ref.Addr()))
	got := runScript(t, r.Addr(), nbScript)
	maps.Copy(got, runMonitorScript(t, r.Addr()))
	compareOutputs(t, steps, want, got, "ovsdb-server", "ovsdb-etcd roles")

	for _, table := range []string{"Logical_Switch", "Logical_Switch_Port", "ACL", "Logical_Router", "Logical_Router_Port", "Load_Balancer"} {
		checkRowsInEtcd(t, r.cli, "ovsdb/default", r.Addr(), "OVN_Northbound", table)
	}
	before := dumpExact(t, r.Addr())
	r.restartAll()
	if after := dumpExact(t, r.Addr()); after != before {
		t.Errorf("dump differs after restarting every process:\n--- before:\n%s\n--- after:\n%s", before, after)
	}
	refserver.MustRunClient(t, e2etest.ClientTimeout, "ovn-nbctl", "--db="+r.Addr(), "--no-leader-only", "ls-add", "after-restart")
	checkRowsInEtcd(t, r.cli, "ovsdb/default", r.Addr(), "OVN_Northbound", "Logical_Switch")
}

// TestAllInOneSurvivesSIGKILL kills all-in-one with SIGKILL: the stale
// punix socket (and the embedded etcd's) left behind must be replaced on
// the next start, and every acknowledged row must still be there.
func TestAllInOneSurvivesSIGKILL(t *testing.T) {
	a := startAllInOne(t, []string{nbSchema})
	const n = 20
	for i := range n {
		if o, err := classify(mustMarshal(t, e2etest.Transact(t, a.Addr(), "OVN_Northbound",
			map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": fmt.Sprintf("k%02d", i)}}))); o != acked {
			t.Fatalf("insert %d: %v", i, err)
		}
	}
	a.p.Kill()
	if _, err := os.Stat(a.sock); err != nil {
		t.Fatalf("after SIGKILL the socket should be left behind: %v", err)
	}
	a.p.Start()
	e2etest.WaitServing(t, a.p, a.Addr(), a.dbs...)
	if rows := selectRows(t, a.Addr(), "OVN_Northbound", "Logical_Switch"); len(rows) != n {
		t.Errorf("%d rows after SIGKILL and restart, want %d", len(rows), n)
	}
}

func mustMarshal(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAllInOneOnSharedCluster runs two all-in-one instances with
// --etcd-endpoints on one etcd cluster: one txnengine leads, the other
// instance's frontend transacts through it, both see the same rows, and
// when the leading instance stops the other one takes over.
func TestAllInOneOnSharedCluster(t *testing.T) {
	cluster := etcdtest.NewServer(t)
	eps := cluster.Endpoints()
	a := startAllInOneOn(t, eps, []string{nbSchema}, "--lease-ttl", "2s", "--max-request-bytes", fmt.Sprint(etcdtest.DefaultMaxRequestBytes))
	b := startAllInOneOn(t, eps, []string{nbSchema}, "--lease-ttl", "2s", "--max-request-bytes", fmt.Sprint(etcdtest.DefaultMaxRequestBytes))

	e2etest.Transact(t, b.Addr(), "OVN_Northbound", map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "via-b"}})
	e2etest.Transact(t, a.Addr(), "OVN_Northbound", map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "via-a"}})
	for _, srv := range []*allInOne{a, b} {
		out := refserver.MustRunClient(t, e2etest.ClientTimeout, "ovn-nbctl", "--db="+srv.Addr(), "--no-leader-only", "--bare", "--columns=name", "find", "Logical_Switch")
		if !strings.Contains(out, "via-a") || !strings.Contains(out, "via-b") {
			t.Errorf("%s sees switches %q, want via-a and via-b", srv.Addr(), out)
		}
	}
	// Whichever instance leads, stopping a first leaves b serving alone.
	if err := a.p.Stop(); err != nil {
		t.Fatalf("stop a: %v", err)
	}
	e2etest.Transact(t, b.Addr(), "OVN_Northbound", map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "after-a"}})
	if rows := selectRows(t, b.Addr(), "OVN_Northbound", "Logical_Switch"); len(rows) != 3 {
		t.Errorf("b serves %d switches, want 3", len(rows))
	}
}

// TestAllInOneSideBySide starts three all-in-one instances at once on one
// machine: no fixed ports or paths may collide, and each keeps its own
// data.
func TestAllInOneSideBySide(t *testing.T) {
	const n = 3
	var as []*allInOne
	for range n {
		as = append(as, startAllInOne(t, []string{nbSchema}))
	}
	for i, a := range as {
		e2etest.Transact(t, a.Addr(), "OVN_Northbound", map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": fmt.Sprintf("own-%d", i)}})
	}
	for i, a := range as {
		rows := selectRows(t, a.Addr(), "OVN_Northbound", "Logical_Switch")
		if len(rows) != 1 || rows[0]["name"] != fmt.Sprintf("own-%d", i) {
			t.Errorf("instance %d serves %v, want only own-%d", i, rows, i)
		}
	}
}
