package main

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
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
		e, err := startEmbeddedEtcd(ctx, log, dir, embeddedMaxTxnOps, embeddedMaxRequestBytes)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		cli, err := clientv3.New(etcdClientConfig(e.endpoints, embeddedMaxRequestBytes, nil))
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

func TestWaitForSchemas(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	want := map[string]*schema.Database{"A": {}}
	tests := []struct {
		name     string
		failures int   // calls answering errNoSchemas before success
		other    error // returned at once instead, if set
		cancel   bool  // ctx ends while waiting
		wantErr  error
	}{
		{name: "present at once", failures: 0},
		{name: "stored later", failures: 3},
		{name: "other error not retried", other: errors.New("boom"), wantErr: nil},
		{name: "gives up when ctx ends", failures: 1 << 30, cancel: true, wantErr: context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			calls := 0
			load := func(context.Context) (map[string]*schema.Database, error) {
				calls++
				if tc.other != nil {
					return nil, tc.other
				}
				if calls <= tc.failures {
					if tc.cancel && calls == 2 {
						cancel()
					}
					return nil, errNoSchemas
				}
				return want, nil
			}
			got, err := waitForSchemas(log, time.Millisecond, load)(ctx)
			switch {
			case tc.other != nil:
				if !errors.Is(err, tc.other) || calls != 1 {
					t.Errorf("err %v after %d calls, want %v after 1", err, calls, tc.other)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) || !errors.Is(err, errNoSchemas) {
					t.Errorf("err %v, want %v and errNoSchemas", err, tc.wantErr)
				}
			default:
				if err != nil || got["A"] == nil || calls != tc.failures+1 {
					t.Errorf("got %v, %v after %d calls", got, err, calls)
				}
			}
		})
	}
}
