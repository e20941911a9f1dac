package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
)

// dbNameOf returns the database name of a schema file.
func dbNameOf(t testing.TB, schemaFile string) string {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("read schema (is ovn-central installed?): %v", err)
	}
	var s struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(data, &s); err != nil || s.Name == "" {
		t.Fatalf("schema %s has no name: %v", schemaFile, err)
	}
	return s.Name
}

// allInOne is one `ovsdb-etcd all-in-one` child process on an embedded etcd
// in its own directory.
type allInOne struct {
	t       testing.TB
	dir     string
	dataDir string
	sock    string
	dbs     []string
	p       *e2etest.Proc
}

// startAllInOne starts all-in-one serving schemas on a punix socket (plus
// any extra arguments, such as more remotes) and waits until it serves.
func startAllInOne(t testing.TB, schemas []string, extra ...string) *allInOne {
	t.Helper()
	return startAllInOneOn(t, nil, schemas, extra...)
}

// startAllInOneOn is startAllInOne on the etcd cluster at endpoints
// (--etcd-endpoints), or on an embedded etcd when endpoints is empty.
func startAllInOneOn(t testing.TB, endpoints []string, schemas []string, extra ...string) *allInOne {
	t.Helper()
	dir := e2etest.ShortDir(t)
	a := &allInOne{t: t, dir: dir, dataDir: filepath.Join(dir, "data"), sock: filepath.Join(dir, "db.sock")}
	args := []string{"all-in-one", "--remote", "punix:" + a.sock, "--log-level", "warn"}
	if len(endpoints) > 0 {
		a.dataDir = ""
		args = append(args, "--etcd-endpoints", strings.Join(endpoints, ","))
	} else {
		args = append(args, "--data-dir", a.dataDir)
	}
	for _, s := range schemas {
		args = append(args, "--schema", s)
		a.dbs = append(a.dbs, dbNameOf(t, s))
	}
	args = append(args, extra...)
	a.p = e2etest.StartProc(t, "all-in-one", e2etest.Bin(), args...)
	e2etest.WaitServing(t, a.p, a.Addr(), a.dbs...)
	return a
}

// Addr is the OVSDB address of the punix remote.
func (a *allInOne) Addr() string { return "unix:" + a.sock }

// restart stops all-in-one with SIGTERM (it must exit cleanly), starts it
// again on the same data directory and waits until it serves.
func (a *allInOne) restart() {
	a.t.Helper()
	a.p.Restart()
	e2etest.WaitServing(a.t, a.p, a.Addr(), a.dbs...)
}

// etcdClient connects to the embedded etcd through its unix socket.
func (a *allInOne) etcdClient(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{"unix://" + filepath.Join(a.dataDir, "etcd-client.sock")},
		DialTimeout: e2etest.ClientTimeout,
	})
	if err != nil {
		t.Fatalf("connect to the embedded etcd: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}
