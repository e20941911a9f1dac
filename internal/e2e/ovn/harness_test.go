package ovn

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

// Schemas and databases of the tests.
const (
	nbSchema = "/usr/share/ovn/ovn-nb.ovsschema"
	sbSchema = "/usr/share/ovn/ovn-sb.ovsschema"
	nbDB     = "OVN_Northbound"
	sbDB     = "OVN_Southbound"
)

// allInOne is one `ovsdb-etcd all-in-one` child on an embedded etcd (or on
// the etcd endpoints given in its extra arguments).
type allInOne struct {
	t    testing.TB
	dir  string
	sock string
	p    *e2etest.Proc
}

// startAllInOne starts all-in-one serving NB and SB on a punix socket with
// its own embedded etcd (unless extra names --etcd-endpoints) and waits
// until it serves.
func startAllInOne(t testing.TB, extra ...string) *allInOne {
	t.Helper()
	dir := e2etest.ShortDir(t)
	a := &allInOne{t: t, dir: dir, sock: filepath.Join(dir, "db.sock")}
	args := []string{"all-in-one", "--remote", "punix:" + a.sock, "--log-level", "warn",
		"--schema", nbSchema, "--schema", sbSchema}
	if !containsArg(extra, "--etcd-endpoints") {
		args = append(args, "--data-dir", filepath.Join(dir, "data"))
	}
	args = append(args, extra...)
	a.p = e2etest.StartProc(t, "all-in-one", e2etest.Bin(), args...)
	e2etest.WaitServing(t, a.p, a.Addr(), nbDB, sbDB)
	return a
}

func containsArg(args []string, a string) bool {
	for _, x := range args {
		if x == a || strings.HasPrefix(x, a+"=") {
			return true
		}
	}
	return false
}

// Addr is the OVSDB address of the punix remote.
func (a *allInOne) Addr() string { return "unix:" + a.sock }

// roles is ovsdb-etcd as separate processes on a one-member in-process
// etcd: one txnengine, one monitorhub and any number of frontends.
type roles struct {
	t       testing.TB
	dir     string
	eps     string
	hubSock string
	hub     *e2etest.Proc
	// hubMetrics is the URL of the monitorhub's /metrics.
	hubMetrics string
	frontends  []*e2etest.Proc
	socks      []string
}

// rolesFrontends is how many frontends startRoles starts.
const rolesFrontends = 2

// startRoles starts etcd, a txnengine, a monitorhub and rolesFrontends
// frontends and waits until every frontend serves NB and SB.
func startRoles(t testing.TB) *roles {
	t.Helper()
	n := rolesFrontends
	r := &roles{t: t, dir: e2etest.ShortDir(t)}
	cluster := etcdtest.NewServer(t)
	r.eps = strings.Join(cluster.Endpoints(), ",")
	engineSock := filepath.Join(r.dir, "engine.sock")
	e2etest.StartProc(t, "txnengine", e2etest.Bin(), "txnengine", "--etcd-endpoints", r.eps, "--log-level", "warn",
		"--listen", "unix:"+engineSock, "--lease-ttl", "2s",
		"--max-request-bytes", fmt.Sprint(etcdtest.DefaultMaxRequestBytes),
		"--schema", nbSchema, "--schema", sbSchema)
	r.hubSock = filepath.Join(r.dir, "hub.sock")
	hubPort := e2etest.FreePort(t)
	r.hubMetrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", hubPort)
	r.hub = e2etest.StartProc(t, "monitorhub", e2etest.Bin(), "monitorhub", "--etcd-endpoints", r.eps, "--log-level", "warn",
		"--listen", "unix:"+r.hubSock, "--metrics-listen", fmt.Sprintf("127.0.0.1:%d", hubPort))
	for i := range n {
		sock := filepath.Join(r.dir, fmt.Sprintf("fe%d.sock", i))
		p := e2etest.StartProc(t, fmt.Sprintf("frontend-%d", i), e2etest.Bin(), "frontend", "--etcd-endpoints", r.eps,
			"--log-level", logLevel(), "--monitorhub", "unix:"+r.hubSock, "--remote", "punix:"+sock)
		r.frontends = append(r.frontends, p)
		r.socks = append(r.socks, sock)
	}
	for i := range n {
		e2etest.WaitServing(t, r.frontends[i], r.Addr(i), nbDB, sbDB)
	}
	return r
}

// Addr is frontend i's OVSDB address.
func (r *roles) Addr(i int) string { return "unix:" + r.socks[i] }

// restartFrontend stops frontend i with SIGTERM, runs between while it is
// down, then starts it again and waits until it serves.
func (r *roles) restartFrontend(i int, between func()) { //nolint:unparam // every test restarts frontend 0 so far; any may be
	r.t.Helper()
	p := r.frontends[i]
	if err := p.Stop(); err != nil {
		r.t.Errorf("%s: unclean stop: %v", p.Name(), err)
	}
	if between != nil {
		between()
	}
	p.Start()
	e2etest.WaitServing(r.t, p, r.Addr(i), nbDB, sbDB)
}

// logLevel is the log level of the role processes: $OVN_E2E_LOG_LEVEL,
// or warn.
func logLevel() string {
	if l := os.Getenv("OVN_E2E_LOG_LEVEL"); l != "" {
		return l
	}
	return "warn"
}

// dial connects a JSON-RPC client to addr, closed in t.Cleanup.
func dial(t testing.TB, addr string, opts ...jsonrpc.ClientOption) *jsonrpc.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), e2etest.ClientTimeout)
	defer cancel()
	c, err := jsonrpc.Dial(ctx, addr, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// call makes one call and fails the test on error.
func call(t testing.TB, c *jsonrpc.Client, method string, params ...any) json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), e2etest.ClientTimeout)
	defer cancel()
	raw, err := c.Call(ctx, method, params...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return raw
}

// transact sends one transaction over a fresh connection, fails the test
// if any operation failed, and returns the results.
func transact(t testing.TB, addr, db string, ops ...any) []map[string]any {
	t.Helper()
	res := e2etest.Transact(t, addr, db, ops...)
	raw, _ := json.Marshal(res) // for messages only
	for i, r := range res {
		if r != nil && r["error"] != nil {
			t.Fatalf("transact on %s: op %d failed: %s", addr, i, raw)
		}
	}
	if len(res) < len(ops) {
		t.Fatalf("transact on %s: short result %s", addr, raw)
	}
	return res
}

// run runs a client program with a timeout and fails the test on error.
func run(t testing.TB, bin string, args ...string) string {
	t.Helper()
	out, err := refserver.RunClient(t.Context(), e2etest.ClientTimeout, bin, args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}
