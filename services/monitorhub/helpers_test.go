package monitorhub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
)

// testTimeout bounds every wait of a test.
const testTimeout = 30 * time.Second

var testLayout = keys.Default()

func testConfig() Config {
	cfg := NewConfig()
	cfg.ProgressInterval = 50 * time.Millisecond
	cfg.DiscoveryInterval = 100 * time.Millisecond
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Registerer = prometheus.NewRegistry()
	return cfg
}

// env is one embedded etcd and a client of it.
type env struct {
	t   *testing.T
	c   *etcdtest.Cluster
	cli *clientv3.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := etcdtest.NewServer(t)
	return &env{t: t, c: c, cli: c.Client(t)}
}

func (e *env) createDB(db string) {
	e.t.Helper()
	e.put(testLayout.Schema(db), `{"name":"`+db+`"}`)
}

func (e *env) put(key, val string) int64 {
	e.t.Helper()
	resp, err := e.cli.Put(e.t.Context(), key, val)
	if err != nil {
		e.t.Fatalf("put %s: %v", key, err)
	}
	return resp.Header.Revision
}

// txn commits ops in one etcd Txn and returns its revision.
//
// etcd answers "request timed out" when a proposal is not applied within
// its request timeout (5 s plus two election timeouts: 7 s for
// etcdtest.NewServer), which an 8 MiB, 10,000-op Txn can exceed under
// -race on two busy cores. The Txn is still in raft then and applies
// later: its outcome is unknown, not failed (STYLE.md, Errors), so txn
// resolves it from etcd, as the txnengine does: it watches the first op's
// key from the revision etcd had before the Txn, and the Txn's revision
// is that of the first change. Only a Txn whose first op is a put can be
// resolved that way; any other error fails the test.
func (e *env) txn(ops ...clientv3.Op) int64 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), testTimeout)
	defer cancel()
	before, err := e.cli.Get(ctx, testLayout.Service(), clientv3.WithCountOnly())
	if err != nil {
		e.t.Fatalf("txn: read revision: %v", err)
	}
	resp, err := e.cli.Txn(ctx).Then(ops...).Commit()
	if err == nil {
		return resp.Header.Revision
	}
	if !errors.Is(err, rpctypes.ErrTimeout) || len(ops) == 0 || !ops[0].IsPut() {
		e.t.Fatalf("txn: %v", err)
	}
	key := string(ops[0].KeyBytes())
	e.t.Logf("txn: %v; outcome unknown, watching %s from revision %d", err, key, before.Header.Revision+1)
	for wresp := range e.cli.Watch(ctx, key, clientv3.WithRev(before.Header.Revision+1)) {
		if werr := wresp.Err(); werr != nil {
			e.t.Fatalf("txn: resolve outcome: watch %s: %v", key, werr)
		}
		if len(wresp.Events) > 0 {
			return wresp.Events[0].Kv.ModRevision
		}
	}
	e.t.Fatalf("txn: outcome unknown after %v: %v", testTimeout, err)
	return 0
}

func rowKeyOf(db, table, id string) string {
	u, err := ovsdb.ParseUUID(id)
	if err != nil {
		panic(err)
	}
	return testLayout.Row(db, table, u)
}

func newUUID() string { return uuid.NewString() }

func mustUUID(id string) ovsdb.UUID {
	u, err := ovsdb.ParseUUID(id)
	if err != nil {
		panic(err)
	}
	return u
}

// putRow writes a row and returns the revision.
func (e *env) putRow(db, table, id, val string) int64 {
	e.t.Helper()
	return e.put(rowKeyOf(db, table, id), val)
}

func (e *env) deleteRow(db, table, id string) int64 {
	e.t.Helper()
	resp, err := e.cli.Delete(e.t.Context(), rowKeyOf(db, table, id))
	if err != nil {
		e.t.Fatalf("delete: %v", err)
	}
	return resp.Header.Revision
}

// startHub starts a hub on cli and closes it at cleanup.
func startHub(t *testing.T, cfg Config, cli *clientv3.Client) *Hub {
	t.Helper()
	h, err := New(cfg, cli)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// grpcHub is a hub served over gRPC on a unix socket.
type grpcHub struct {
	h    *Hub
	srv  *grpc.Server
	done chan struct{}
	once sync.Once
}

func serveHub(t *testing.T, cfg Config, cli *clientv3.Client, sock string) *grpcHub {
	t.Helper()
	h := startHub(t, cfg, cli)
	lis, err := Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	g := &grpcHub{h: h, srv: grpc.NewServer(), done: make(chan struct{})}
	h.Register(g.srv)
	go func() { defer close(g.done); _ = g.srv.Serve(lis) }()
	t.Cleanup(g.stop)
	return g
}

func (g *grpcHub) stop() {
	g.once.Do(func() {
		g.h.Close()
		g.srv.Stop()
		<-g.done
	})
}

// hubClient serves a hub with the test config on a new socket and
// returns a Client of it.
func hubClient(t *testing.T, cli *clientv3.Client) *Client {
	t.Helper()
	sock := sockPath(t)
	serveHub(t, testConfig(), cli, sock)
	c, err := NewClient(dial(t, sock))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dial(t *testing.T, sock string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+sock,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32)),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.5, MaxDelay: 200 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func sockPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "hub.sock")
}

// recorder collects the events of a Client subscription and lets a test
// wait for a revision.
type recorder struct {
	mu     sync.Mutex
	events []Event
	rev    int64
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) fn(ev Event) error {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.rev = ev.Rev
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) snapshotEvents() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// waitRev waits until an event at or past rev arrived.
func (r *recorder) waitRev(t *testing.T, rev int64) {
	t.Helper()
	deadline := time.NewTimer(testTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		got := r.rev
		r.mu.Unlock()
		if got >= rev {
			return
		}
		select {
		case <-r.notify:
		case <-deadline.C:
			t.Fatalf("timed out waiting for revision %d (at %d)", rev, got)
		}
	}
}

// updates returns the update events only.
func (r *recorder) updates() []Event {
	var out []Event
	for _, ev := range r.snapshotEvents() {
		if ev.Kind == EventUpdate {
			out = append(out, ev)
		}
	}
	return out
}

// subscribe runs Client.Subscribe from revision 0 in a goroutine owned
// by the test.
func subscribe(t *testing.T, conn grpc.ClientConnInterface, db string, fn func(Event) error) {
	t.Helper()
	c, err := NewClient(conn, WithRetries(100, 10*time.Millisecond, 200*time.Millisecond),
		WithClientLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Subscribe(ctx, db, 0, fn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Subscribe returned %v, want context.Canceled", err)
		}
	})
}

// waitFor polls cond (for state that has no event to wait on, such as a
// metric) until it holds or the test timeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(testTimeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func changeString(c Change) string {
	return fmt.Sprintf("%s/%s %q->%q", c.Table, c.UUID, c.Old, c.New)
}

func withPrefix() clientv3.OpOption { return clientv3.WithPrefix() }

// fakeSender records what serve sends, without gRPC.
type fakeSender struct {
	mu      sync.Mutex
	snapRev int64
	snapped bool
	rows    []Row
	ups     []*Update
	rev     int64
	notify  chan struct{}
	once    sync.Once
}

func (f *fakeSender) ch() chan struct{} {
	f.once.Do(func() { f.notify = make(chan struct{}, 1) })
	return f.notify
}

func (f *fakeSender) poke() {
	select {
	case f.ch() <- struct{}{}:
	default:
	}
}

func (f *fakeSender) snapshot(rev int64, rows []Row, last bool) error {
	f.mu.Lock()
	f.snapRev = rev
	f.rows = append(f.rows, rows...)
	if last {
		f.snapped = true
		f.rev = rev
	}
	f.mu.Unlock()
	f.poke()
	return nil
}

func (f *fakeSender) update(u *Update) error {
	f.mu.Lock()
	f.ups = append(f.ups, u)
	f.rev = u.Rev
	f.mu.Unlock()
	f.poke()
	return nil
}

func (f *fakeSender) progress(rev int64) error {
	f.mu.Lock()
	f.rev = rev
	f.mu.Unlock()
	f.poke()
	return nil
}

func (f *fakeSender) updatesAt() []*Update {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ups)
}

func (f *fakeSender) snapshotRev() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snapRev
}

func (f *fakeSender) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(testTimeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		ok := cond()
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-f.ch():
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (f *fakeSender) waitSnapshot(t *testing.T) {
	t.Helper()
	f.wait(t, "snapshot", func() bool { return f.snapped })
}

func (f *fakeSender) waitRev(t *testing.T, rev int64) {
	t.Helper()
	f.wait(t, fmt.Sprintf("revision %d", rev), func() bool { return f.rev >= rev })
}

// runServe runs h.serve on database NB in a goroutine stopped at cleanup.
func runServe(t *testing.T, h *Hub, from int64, s sender) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.serve(ctx, "NB", from, s) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("serve returned %v, want context.Canceled", err)
		}
	})
}

// gaugeValue reads a gauge.
func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		panic(err)
	}
	return m.GetGauge().GetValue()
}

// gathered sums the values of the named metric in reg.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return sum
}

// counterValue reads a counter.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

func withRev(rev int64) clientv3.OpOption { return clientv3.WithRev(rev) }
