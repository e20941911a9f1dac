package ovn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

// Schemas and timeouts of the harness.
const (
	nbSchema = "/usr/share/ovn/ovn-nb.ovsschema"
	sbSchema = "/usr/share/ovn/ovn-sb.ovsschema"
	nbDB     = "OVN_Northbound"
	sbDB     = "OVN_Southbound"

	// readyTimeout bounds the wait for a started ovsdb-etcd to serve.
	readyTimeout = 60 * time.Second
	// stopTimeout bounds the wait for a SIGTERMed child before SIGKILL.
	stopTimeout = 15 * time.Second
	// clientTimeout bounds one client command or call.
	clientTimeout = 30 * time.Second
	// outputTimeout bounds the wait for expected output of a child.
	outputTimeout = 30 * time.Second
	// pollInterval paces readiness probes, which have no event to wait on.
	pollInterval = 50 * time.Millisecond
)

// outBuffer collects a child's output and wakes waiters on every write.
type outBuffer struct {
	mu      sync.Mutex // mu guards buf and changed
	buf     bytes.Buffer
	changed chan struct{}
}

func newOutBuffer() *outBuffer { return &outBuffer{changed: make(chan struct{})} }

func (b *outBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.changed)
	b.changed = make(chan struct{})
	return b.buf.Write(p)
}

// snapshot returns the output so far and a channel closed on the next
// write.
func (b *outBuffer) snapshot() (string, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String(), b.changed
}

func (b *outBuffer) String() string {
	s, _ := b.snapshot()
	return s
}

// proc is one child process of a test, stopped in t.Cleanup. Its methods
// are called from the test goroutine; the goroutine that waits for the
// child is owned by the proc and ends when the child exits.
type proc struct {
	t      testing.TB
	name   string
	bin    string
	args   []string
	cmd    *exec.Cmd
	out    *outBuffer
	exited chan struct{}
	err    error // valid after exited is closed
	killed bool
}

// startProc starts bin with args; its output is logged if the test fails.
func startProc(t testing.TB, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, bin: bin, args: args}
	p.start()
	t.Cleanup(func() {
		wasRunning := p.running()
		if err := p.stop(); err != nil && wasRunning && !p.killed && strings.Contains(p.bin, "ovsdb-etcd") {
			t.Errorf("%s: unclean exit on SIGTERM: %v", p.name, err)
		}
		if strings.Contains(p.out.String(), "WARNING: DATA RACE") {
			t.Errorf("%s: the race detector reported a data race", p.name)
		}
		if t.Failed() {
			p.dumpOutput()
		}
	})
	return p
}

func (p *proc) start() {
	p.t.Helper()
	p.killed = false
	p.out = newOutBuffer()
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.exited = make(chan struct{})
	cmd, exited := p.cmd, p.exited
	go func() {
		p.err = cmd.Wait()
		close(exited)
	}()
}

func (p *proc) dumpOutput() {
	out := p.out.String()
	const maxOut = 16 << 10
	if len(out) > maxOut {
		out = "...\n" + out[len(out)-maxOut:]
	}
	p.t.Logf("%s (%s %s) output:\n%s", p.name, p.bin, strings.Join(p.args, " "), out)
}

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits, then SIGKILLs after stopTimeout. It
// returns the child's exit error and is idempotent.
func (p *proc) stop() error {
	if p.cmd == nil {
		return nil
	}
	if p.running() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-p.exited:
		return p.err
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not exit %v after SIGTERM: %w", p.name, stopTimeout, p.err)
	}
}

// quit sends SIGQUIT, so that a Go child prints its goroutines into its
// output, and waits for it to exit.
func (p *proc) quit() {
	if !p.running() {
		return
	}
	p.killed = true
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	if p.wait(stopTimeout) != nil {
		p.kill()
	}
}

// wait waits at most timeout for the child to exit and reports whether it
// did not.
func (p *proc) wait(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.exited:
		return nil
	case <-timer.C:
		return fmt.Errorf("%s still running after %v", p.name, timeout)
	}
}

// kill sends SIGKILL and waits for the child.
func (p *proc) kill() {
	p.killed = true
	if p.running() {
		_ = p.cmd.Process.Kill()
	}
	<-p.exited
}

// waitOutput waits until pred holds for the child's output so far and
// returns that output; it fails the test after outputTimeout.
func (p *proc) waitOutput(what string, pred func(string) bool) string {
	p.t.Helper()
	timer := time.NewTimer(outputTimeout)
	defer timer.Stop()
	for {
		out, changed := p.out.snapshot()
		if pred(out) {
			return out
		}
		select {
		case <-changed:
		case <-p.exited:
			if out = p.out.String(); pred(out) {
				return out
			}
			p.t.Fatalf("%s exited (%v) before %s; output:\n%s", p.name, p.err, what, out)
		case <-timer.C:
			p.t.Fatalf("%s: no %s after %v; output:\n%s", p.name, what, outputTimeout, out)
		}
	}
}

// shortDir returns a fresh temporary directory whose path is short enough
// for unix sockets inside it.
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ovn") //nolint:usetesting // t.TempDir() paths can be too long for unix sockets
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitServing polls addr with list_dbs until it lists every database in
// want, the child p (if any) exits, or readyTimeout passes.
func waitServing(t testing.TB, p *proc, addr string, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var last error
	for {
		if last = probeDBs(ctx, addr, want); last == nil {
			return
		}
		var exited <-chan struct{}
		if p != nil {
			exited = p.exited
		}
		select {
		case <-exited:
			t.Fatalf("%s exited before serving %s: %v (last probe: %v)", p.name, addr, p.err, last)
		case <-ctx.Done():
			if p != nil {
				p.quit()
			}
			t.Fatalf("%s not serving after %v: %v", addr, readyTimeout, last)
		case <-tick.C:
		}
	}
}

func probeDBs(ctx context.Context, addr string, want []string) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := jsonrpc.Dial(pctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	raw, err := c.Call(pctx, "list_dbs")
	if err != nil {
		return err
	}
	for _, db := range want {
		if !bytes.Contains(raw, []byte(`"`+db+`"`)) {
			return errors.New("list_dbs " + string(raw) + " lacks " + db)
		}
	}
	return nil
}

// allInOne is one `ovsdb-etcd all-in-one` child on an embedded etcd (or on
// the etcd endpoints given in its extra arguments).
type allInOne struct {
	t    testing.TB
	dir  string
	sock string
	p    *proc
}

// startAllInOne starts all-in-one serving NB and SB on a punix socket with
// its own embedded etcd (unless extra names --etcd-endpoints) and waits
// until it serves.
func startAllInOne(t testing.TB, extra ...string) *allInOne {
	t.Helper()
	dir := shortDir(t)
	a := &allInOne{t: t, dir: dir, sock: filepath.Join(dir, "db.sock")}
	args := []string{"all-in-one", "--remote", "punix:" + a.sock, "--log-level", "warn",
		"--schema", nbSchema, "--schema", sbSchema}
	if !containsArg(extra, "--etcd-endpoints") {
		args = append(args, "--data-dir", filepath.Join(dir, "data"))
	}
	args = append(args, extra...)
	a.p = startProc(t, "all-in-one", binPath, args...)
	waitServing(t, a.p, a.Addr(), nbDB, sbDB)
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
	hub     *proc
	// hubMetrics is the URL of the monitorhub's /metrics.
	hubMetrics string
	frontends  []*proc
	socks      []string
}

// rolesFrontends is how many frontends startRoles starts.
const rolesFrontends = 2

// startRoles starts etcd, a txnengine, a monitorhub and rolesFrontends
// frontends and waits until every frontend serves NB and SB.
func startRoles(t testing.TB) *roles {
	t.Helper()
	n := rolesFrontends
	r := &roles{t: t, dir: shortDir(t)}
	cluster := etcdtest.NewServer(t)
	r.eps = strings.Join(cluster.Endpoints(), ",")
	engineSock := filepath.Join(r.dir, "engine.sock")
	startProc(t, "txnengine", binPath, "txnengine", "--etcd-endpoints", r.eps, "--log-level", "warn",
		"--listen", "unix:"+engineSock, "--lease-ttl", "2s",
		"--max-request-bytes", fmt.Sprint(etcdtest.DefaultMaxRequestBytes),
		"--schema", nbSchema, "--schema", sbSchema)
	r.hubSock = filepath.Join(r.dir, "hub.sock")
	hubPort := freePort(t)
	r.hubMetrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", hubPort)
	r.hub = startProc(t, "monitorhub", binPath, "monitorhub", "--etcd-endpoints", r.eps, "--log-level", "warn",
		"--listen", "unix:"+r.hubSock, "--metrics-listen", fmt.Sprintf("127.0.0.1:%d", hubPort))
	for i := range n {
		sock := filepath.Join(r.dir, fmt.Sprintf("fe%d.sock", i))
		p := startProc(t, fmt.Sprintf("frontend-%d", i), binPath, "frontend", "--etcd-endpoints", r.eps,
			"--log-level", logLevel(), "--monitorhub", "unix:"+r.hubSock, "--remote", "punix:"+sock)
		r.frontends = append(r.frontends, p)
		r.socks = append(r.socks, sock)
	}
	for i := range n {
		waitServing(t, r.frontends[i], r.Addr(i), nbDB, sbDB)
	}
	return r
}

// Addr is frontend i's OVSDB address.
func (r *roles) Addr(i int) string { return "unix:" + r.socks[i] }

// restartFrontend stops frontend i with SIGTERM, runs between while it is
// down, then starts it again and waits until it serves.
func (r *roles) restartFrontend(i int, between func()) {
	r.t.Helper()
	p := r.frontends[i]
	if err := p.stop(); err != nil {
		r.t.Errorf("%s: unclean stop: %v", p.name, err)
	}
	if between != nil {
		between()
	}
	p.start()
	waitServing(r.t, p, r.Addr(i), nbDB, sbDB)
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
	ctx, cancel := context.WithTimeout(t.Context(), clientTimeout)
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
	ctx, cancel := context.WithTimeout(t.Context(), clientTimeout)
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
	ctx, cancel := context.WithTimeout(t.Context(), clientTimeout)
	defer cancel()
	c, err := jsonrpc.Dial(ctx, addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	raw, err := c.Call(ctx, "transact", append([]any{db}, ops...)...)
	if err != nil {
		t.Fatalf("transact on %s: %v", addr, err)
	}
	var res []map[string]any
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("transact on %s: decode %s: %v", addr, raw, err)
	}
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
	out, err := refserver.RunClient(t.Context(), clientTimeout, bin, args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}
