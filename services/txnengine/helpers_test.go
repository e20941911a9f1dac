package txnengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
)

// testTimeout bounds every wait of these tests.
const testTimeout = 30 * time.Second

func TestMain(m *testing.M) {
	etcdtest.VerifyTestMain(m)
}

const testSchema = `{
  "name": "Test",
  "version": "%s",
  "tables": {
    "T": {
      "columns": {
        "name": {"type": "string"},
        "n": {"type": "integer"}
      },
      "indexes": [["name"]],
      "isRoot": true
    }
  }
}`

// writeSchema writes the test schema with version v into dir.
func writeSchema(t *testing.T, dir, v string) string {
	t.Helper()
	p := filepath.Join(dir, "test-"+v+".ovsschema")
	if err := os.WriteFile(p, fmt.Appendf(nil, testSchema, v), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testEtcd is a single-member embedded etcd (internal/etcdtest), with
// etcdtest's raised limits unless opts change them.
type testEtcd struct {
	c *etcdtest.Cluster
}

const (
	testMaxTxnOps       = etcdtest.DefaultMaxTxnOps
	testMaxRequestBytes = etcdtest.DefaultMaxRequestBytes
)

func startEtcd(t *testing.T, opts ...etcdtest.Option) *testEtcd {
	t.Helper()
	return &testEtcd{c: etcdtest.NewServer(t, opts...)}
}

func (e *testEtcd) client(t *testing.T) *clientv3.Client {
	t.Helper()
	return e.c.Client(t)
}

// testEngine is an Engine with its own registry and, optionally, a gRPC
// server on a unix socket.
type testEngine struct {
	*Engine
	reg  *prometheus.Registry
	addr string
}

func testConfig(t *testing.T, cli *clientv3.Client, schemaFile, addr string) Config {
	t.Helper()
	cfg := NewConfig()
	cfg.EtcdClient = cli
	cfg.SchemaFiles = []string{schemaFile}
	cfg.Listen = addr
	cfg.LeaseTTL = 2 * time.Second
	cfg.CompactionInterval = 0
	cfg.MaxTxnOps = testMaxTxnOps
	cfg.MaxRequestBytes = testMaxRequestBytes
	cfg.CommitTimeout = 5 * time.Second
	return cfg
}

// newTestEngine starts an engine; with serve it also serves gRPC on a
// unix socket. Both stop at cleanup.
func newTestEngine(t *testing.T, cfg Config, serve bool, opts ...Option) *testEngine {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	e, err := New(t.Context(), cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	te := &testEngine{Engine: e, reg: reg, addr: cfg.Listen}
	var once sync.Once
	stopServer := func() {}
	if serve {
		lis, err := Listen(cfg.Listen)
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer()
		e.Register(srv)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = srv.Serve(lis)
		}()
		stopServer = func() {
			srv.Stop()
			<-done
		}
	}
	t.Cleanup(func() {
		once.Do(func() {
			e.Close()
			stopServer()
		})
	})
	return te
}

// leadingEngine starts etcd and an engine on the test schema that does
// not serve gRPC, after mutate (if any) adjusts its config, and waits
// until it leads. It returns the engine and an etcd client.
func leadingEngine(t *testing.T, mutate func(*Config)) (*testEngine, *clientv3.Client) {
	t.Helper()
	cli := startEtcd(t).client(t)
	cfg := testConfig(t, cli, writeSchema(t, t.TempDir(), "1.0.0"), "unix:unused")
	if mutate != nil {
		mutate(&cfg)
	}
	e := newTestEngine(t, cfg, false)
	waitLeader(t, e.Engine)
	return e, cli
}

// leaderAndStandby starts etcd, a leading engine and a standby, both
// serving gRPC, and a Client; it returns them with an etcd client.
func leaderAndStandby(t *testing.T) (leader, standby *testEngine, c *Client, cli *clientv3.Client) {
	t.Helper()
	cli = startEtcd(t).client(t)
	dir := t.TempDir()
	schema := writeSchema(t, dir, "1.0.0")
	leader = newTestEngine(t, testConfig(t, cli, schema, "unix:"+filepath.Join(dir, "e1.sock")), true)
	waitLeader(t, leader.Engine)
	standby = newTestEngine(t, testConfig(t, cli, schema, "unix:"+filepath.Join(dir, "e2.sock")), true)
	c, err := NewClient(t.Context(), cli, NewClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return leader, standby, c, cli
}

func waitLeader(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	if err := e.WaitLeader(ctx); err != nil {
		t.Fatalf("WaitLeader: %v", err)
	}
}

// transact runs ops (Go values marshalled to JSON) and returns the
// decoded result array.
func transact(t *testing.T, e *Engine, ops ...any) ([]any, int64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	data, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.Transact(ctx, Request{Database: "Test", Operations: data})
	if err != nil {
		return nil, 0, err
	}
	var res []any
	if err := json.Unmarshal(resp.Result, &res); err != nil {
		t.Fatalf("result %s: %v", resp.Result, err)
	}
	return res, resp.Revision, nil
}

func mustTransact(t *testing.T, e *Engine, ops ...any) ([]any, int64) {
	t.Helper()
	res, rev, err := transact(t, e, ops...)
	if err != nil {
		t.Fatalf("transact: %v", err)
	}
	for i, r := range res {
		if m, ok := r.(map[string]any); ok && m["error"] != nil {
			t.Fatalf("transact: op %d failed: %v (result %v)", i, m, res)
		}
	}
	return res, rev
}

func insertOp(name string, n int) map[string]any {
	return map[string]any{"op": "insert", "table": "T", "row": map[string]any{"name": name, "n": n}}
}

func selectAll() map[string]any {
	return map[string]any{"op": "select", "table": "T", "where": []any{}, "columns": []any{"name", "n"}}
}

// rowNames returns the names of the rows of a select result.
func rowNames(t *testing.T, res any) map[string]int {
	t.Helper()
	rows := res.(map[string]any)["rows"].([]any)
	out := map[string]int{}
	for _, r := range rows {
		out[r.(map[string]any)["name"].(string)]++
	}
	return out
}

// etcdRows returns the row values of table T in etcd, by key.
func etcdRows(t *testing.T, cli *clientv3.Client) map[string]string {
	t.Helper()
	resp, err := cli.Get(t.Context(), keys.Default().Table("Test", "T"), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = string(kv.Value)
	}
	return out
}

// etcdNames counts the rows of T in etcd by name.
func etcdNames(t *testing.T, cli *clientv3.Client) map[string]int {
	t.Helper()
	out := map[string]int{}
	for k, v := range etcdRows(t, cli) {
		var row map[string]any
		if err := json.Unmarshal([]byte(v), &row); err != nil {
			t.Fatalf("row %s: %v", k, err)
		}
		name, _ := row["name"].(string)
		out[name]++
	}
	return out
}

// metric returns the single metric of family name in reg.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			return m
		}
	}
	return &dto.Metric{}
}

// eventually polls cond until it holds or the test timeout passes. Used
// only where no event exists to wait on (metrics, queue lengths).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// faultKV wraps the real KV; its Txn commits may drop their response or
// fail before sending, once, for Txns whose ops match.
type faultKV struct {
	clientv3.KV
	mu sync.Mutex
	// mu guards the fields below.
	dropAfter  bool // apply, then report an error
	failBefore bool // report an error without sending
	gate       func()
	commits    int
	// dropProbe: apply the next Txn that writes only the batch marker
	// (resolveUnknown's probe), then report an error.
	dropProbe bool
}

var errInjected = errors.New("injected: connection lost")

// holdNextCommit makes the next matching commit wait until release is
// called; reached is closed once it waits. release is idempotent and also
// runs at t's cleanup, registered after the engine's (newTestEngine) and
// so run before its Close: a test that fails while the commit is held
// must not leave Close waiting for that commit forever (a failed
// TestGroupCommit once hung the package until the 30 m test timeout).
func (f *faultKV) holdNextCommit(t *testing.T) (reached <-chan struct{}, release func()) {
	t.Helper()
	r, rel := make(chan struct{}), make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(rel) }) }
	t.Cleanup(release)
	f.mu.Lock()
	f.gate = func() {
		close(r)
		<-rel
	}
	f.mu.Unlock()
	return r, release
}

func (f *faultKV) Txn(ctx context.Context) clientv3.Txn {
	return &faultTxn{Txn: f.KV.Txn(ctx), f: f}
}

type faultTxn struct {
	clientv3.Txn
	f      *faultKV
	writes bool // puts a row (not only the marker or engine metadata)
	marker bool // puts the batch marker
}

func (x *faultTxn) If(cs ...clientv3.Cmp) clientv3.Txn {
	x.Txn = x.Txn.If(cs...)
	return x
}

func (x *faultTxn) Then(ops ...clientv3.Op) clientv3.Txn {
	for _, op := range ops {
		if op.IsPut() && len(op.KeyBytes()) > 0 && !isMarkerOrMeta(string(op.KeyBytes())) {
			x.writes = true
		}
		if op.IsPut() && strings.HasPrefix(string(op.KeyBytes()), strings.TrimSuffix(keys.Default().Marker(0), "0")) {
			x.marker = true
		}
	}
	x.Txn = x.Txn.Then(ops...)
	return x
}

func (x *faultTxn) Else(ops ...clientv3.Op) clientv3.Txn {
	x.Txn = x.Txn.Else(ops...)
	return x
}

func isMarkerOrMeta(key string) bool {
	l := keys.Default()
	return len(key) >= len(l.TxnEngine()) && key[:len(l.TxnEngine())] == l.TxnEngine()
}

func (x *faultTxn) Commit() (*clientv3.TxnResponse, error) {
	if !x.writes {
		x.f.mu.Lock()
		drop := x.marker && x.f.dropProbe
		if drop {
			x.f.dropProbe = false
		}
		x.f.mu.Unlock()
		resp, err := x.Txn.Commit()
		if drop && err == nil {
			return nil, errInjected
		}
		return resp, err
	}
	x.f.mu.Lock()
	x.f.commits++
	drop, fail, gate := x.f.dropAfter, x.f.failBefore, x.f.gate
	x.f.dropAfter, x.f.failBefore, x.f.gate = false, false, nil
	x.f.mu.Unlock()
	if gate != nil {
		gate()
	}
	if fail {
		return nil, errInjected
	}
	resp, err := x.Txn.Commit()
	if drop && err == nil {
		return nil, errInjected
	}
	return resp, err
}

func startEtcdB(b *testing.B) *etcdtest.Cluster {
	b.Helper()
	return etcdtest.NewServer(b)
}

func writeSchemaB(b *testing.B) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "test.ovsschema")
	if err := os.WriteFile(p, fmt.Appendf(nil, testSchema, "1.0.0"), 0o600); err != nil {
		b.Fatal(err)
	}
	return p
}

// waitReached waits until a held commit reached its gate (what names it),
// then returns the term and its count of taken requests, from which a
// test counts the requests the commit loop takes next.
func waitReached(t *testing.T, e *Engine, reached <-chan struct{}, what string) (*term, int64) {
	t.Helper()
	select {
	case <-reached:
	case <-time.After(testTimeout):
		t.Fatalf("%s never reached the gate", what)
	}
	tm := e.currentTerm()
	return tm, tm.took.Load()
}

// faultEngine starts a single-member etcd and a leading engine (no gRPC)
// whose etcd KV goes through a faultKV, all stopped at cleanup.
func faultEngine(t *testing.T) (*testEngine, *clientv3.Client, *faultKV) {
	t.Helper()
	etcd := startEtcd(t)
	cli := etcd.client(t)
	cfg := testConfig(t, cli, writeSchema(t, t.TempDir(), "1.0.0"), "unix:unused")
	fkv := &faultKV{}
	e := newTestEngine(t, cfg, false, WithKVWrapper(func(kv clientv3.KV) clientv3.KV {
		fkv.KV = kv
		return fkv
	}))
	waitLeader(t, e.Engine)
	return e, cli, fkv
}
