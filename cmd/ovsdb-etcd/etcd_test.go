package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
)

// TestEmbeddedEtcdRestart starts the embedded etcd, writes schemas and rows
// as the txnengine lays them out, restarts etcd on the same directory and
// checks that the data is still there and that the frontend's schema
// loader finds exactly the databases.
func TestEmbeddedEtcdRestart(t *testing.T) {
	dir := t.TempDir()
	if len(dir) > maxUnixSocketPath-20 {
		t.Logf("temp dir %q is long: etcd listens on loopback ports", dir)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	l, err := keys.New("ovsdb", "svc")
	if err != nil {
		t.Fatal(err)
	}
	withClient := func(f func(cli *clientv3.Client)) {
		t.Helper()
		e, err := startEmbeddedEtcd(ctx, log, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		cli, err := clientv3.New(etcdClientConfig(e.endpoints, embeddedMaxRequestBytes))
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		f(cli)
	}
	withClient(func(cli *clientv3.Client) {
		for _, kv := range [][2]string{
			{l.Schema("A"), `{"name":"A","version":"1.0.0","tables":{"T":{"columns":{"name":{"type":"string"}}}}}`},
			{l.Service() + "A/T/0d5e2c3a-0000-4000-8000-000000000001", `{"name":"x","_version":["uuid","0d5e2c3a-0000-4000-8000-000000000002"]}`},
			{l.Schema("B"), `{"name":"B","version":"1.0.0","tables":{"T":{"columns":{"name":{"type":"string"}}}}}`},
			{l.Lock("some-lock"), "owner"},
			{"ovsdb/other/C/_schema", `{"name":"C","version":"1.0.0","tables":{"T":{"columns":{"name":{"type":"string"}}}}}`},
		} {
			if _, err := cli.Put(ctx, kv[0], kv[1]); err != nil {
				t.Fatal(err)
			}
		}
	})
	withClient(func(cli *clientv3.Client) {
		resp, err := cli.Get(ctx, l.Service(), clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Count != 4 {
			t.Errorf("after restart %d keys under %s, want 4", resp.Count, l.Service())
		}
		schemas, err := etcdSchemaLoader(cli, l)(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(schemas) != 2 || schemas["A"] == nil || schemas["B"] == nil {
			t.Errorf("loaded schemas %v, want A and B", schemas)
		}
	})
}
