package refserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// Timeouts of the harness.
const (
	// ReadyTimeout bounds the wait for a started server to serve every
	// database (and, when clustered, to elect itself leader).
	ReadyTimeout = 20 * time.Second
	// StopTimeout bounds the wait for a SIGTERMed server to exit before it
	// is killed.
	StopTimeout = 5 * time.Second
	// pollInterval paces the readiness probe, which has no event to wait on.
	pollInterval = 20 * time.Millisecond
)

// Install hints printed when a binary is missing.
const installHint = "install it with: apt-get install -y openvswitch-common openvswitch-switch ovn-common ovn-central"

// Options say which databases the server serves.
type Options struct {
	// Schemas are paths of .ovsschema files, one database each.
	Schemas []string
	// Clustered creates each database as a one-member Raft cluster
	// (ovsdb-tool create-cluster), as ovsdb-etcd presents itself.
	Clustered bool
	// ExtraArgs are appended to the ovsdb-server command line.
	ExtraArgs []string
}

// Server is one running ovsdb-server. Its methods must be called from the
// test goroutine (they may call t.Fatal).
type Server struct {
	t       testing.TB
	opts    Options
	dir     string
	sock    string
	log     string
	dbs     []string // database file paths
	dbNames []string

	// mu guards cmd and exited.
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current process has been waited for
}

// Start creates the databases and starts ovsdb-server on a unix socket. It
// waits until every database answers and stops the server in t.Cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if len(opts.Schemas) == 0 {
		t.Fatal("refserver: no schemas given")
	}
	for _, bin := range []string{"ovsdb-server", "ovsdb-tool"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("refserver: %s not found in PATH (%v); %s", bin, err, installHint)
		}
	}
	s := &Server{t: t, opts: opts, dir: shortTempDir(t)}
	s.sock = filepath.Join(s.dir, "db.sock")
	s.log = filepath.Join(s.dir, "ovsdb-server.log")
	for i, schemaPath := range opts.Schemas {
		name, err := schemaName(schemaPath)
		if err != nil {
			t.Fatalf("refserver: %v", err)
		}
		db := filepath.Join(s.dir, fmt.Sprintf("db%d.db", i))
		args := []string{"create", db, schemaPath}
		if opts.Clustered {
			args = []string{"create-cluster", db, schemaPath, "unix:" + filepath.Join(s.dir, fmt.Sprintf("db%d.raft", i))}
		}
		if out, err := exec.Command("ovsdb-tool", args...).CombinedOutput(); err != nil {
			t.Fatalf("refserver: ovsdb-tool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		s.dbs = append(s.dbs, db)
		s.dbNames = append(s.dbNames, name)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			s.dumpLog()
		}
	})
	s.start()
	return s
}

// shortTempDir returns t.TempDir(), or a shorter temporary directory when
// that path would make unix socket paths exceed the 107-byte limit.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if len(dir) < 70 {
		return dir
	}
	dir, err := os.MkdirTemp("", "refsrv") //nolint:usetesting // t.TempDir() above is too long for a unix socket path
	if err != nil {
		t.Fatalf("refserver: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func schemaName(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read schema: %w", err)
	}
	var sch struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(data, &sch); err != nil {
		return "", fmt.Errorf("schema %s: %w", path, err)
	}
	if sch.Name == "" {
		return "", fmt.Errorf("schema %s has no name", path)
	}
	return sch.Name, nil
}

func (s *Server) start() {
	s.t.Helper()
	args := []string{
		"--remote=punix:" + s.sock,
		"--unixctl=" + filepath.Join(s.dir, "ctl"),
		"--log-file=" + s.log,
		"--no-chdir",
		"-vconsole:off",
	}
	args = append(args, s.opts.ExtraArgs...)
	args = append(args, s.dbs...)
	cmd := exec.Command("ovsdb-server", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("refserver: start ovsdb-server: %v", err)
	}
	exited := make(chan struct{})
	waitErr := make(chan error, 1)
	go func() {
		waitErr <- cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	if err := s.waitReady(exited); err != nil {
		s.Stop()
		var werr error
		select {
		case werr = <-waitErr:
		default:
		}
		s.dumpLog()
		s.t.Fatalf("refserver: ovsdb-server not ready: %v (exit: %v)\noutput:\n%s", err, werr, out.String())
	}
}

// waitReady polls the socket until _Server reports every database
// connected and leader. There is no event to wait on, so it polls with a
// deadline.
func (s *Server) waitReady(exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var last error
	for {
		if last = s.probe(ctx); last == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("ovsdb-server exited: last probe: %w", last)
		case <-ctx.Done():
			return fmt.Errorf("timed out after %v: last probe: %w", ReadyTimeout, last)
		case <-tick.C:
		}
	}
}

func (s *Server) probe(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := jsonrpc.Dial(pctx, s.Addr())
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.Call(pctx, "transact", "_Server", map[string]any{
		"op": "select", "table": "Database", "where": []any{}, "columns": []string{"name", "connected", "leader"},
	})
	if err != nil {
		return err
	}
	var reply []struct {
		Rows []struct {
			Name      string `json:"name"`
			Connected bool   `json:"connected"`
			Leader    bool   `json:"leader"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(res, &reply); err != nil {
		return fmt.Errorf("bad _Server reply %s: %w", res, err)
	}
	if len(reply) != 1 {
		return fmt.Errorf("bad _Server reply %s: %d results, want 1", res, len(reply))
	}
	ready := map[string]bool{}
	for _, r := range reply[0].Rows {
		ready[r.Name] = r.Connected && r.Leader
	}
	for _, name := range s.dbNames {
		if !ready[name] {
			return fmt.Errorf("database %s not ready: %s", name, res)
		}
	}
	return nil
}

// Addr returns the server's OVSDB address, "unix:/path/db.sock".
func (s *Server) Addr() string { return "unix:" + s.sock }

// SocketPath returns the path of the unix socket.
func (s *Server) SocketPath() string { return s.sock }

// Dir returns the directory holding the database files, socket and log.
func (s *Server) Dir() string { return s.dir }

// DBNames returns the names of the databases, in the order of Schemas.
func (s *Server) DBNames() []string { return append([]string(nil), s.dbNames...) }

// LogPath returns the path of the server's log file.
func (s *Server) LogPath() string { return s.log }

// Stop stops the server: SIGTERM, then SIGKILL after StopTimeout. It is
// idempotent; the database files are kept for Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(StopTimeout):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Restart stops the server and starts it again on the same files and
// socket, waiting until it is ready.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Dial connects a JSON-RPC client to the server, closed in t.Cleanup.
func (s *Server) Dial(ctx context.Context, opts ...jsonrpc.ClientOption) *jsonrpc.Client {
	s.t.Helper()
	c, err := jsonrpc.Dial(ctx, s.Addr(), opts...)
	if err != nil {
		s.t.Fatalf("refserver: %v", err)
	}
	s.t.Cleanup(func() { c.Close() })
	return c
}

func (s *Server) dumpLog() {
	data, err := os.ReadFile(s.log)
	if err != nil {
		s.t.Logf("refserver: no ovsdb-server log: %v", err)
		return
	}
	const maxLog = 16 << 10
	if len(data) > maxLog {
		data = append([]byte("...\n"), data[len(data)-maxLog:]...)
	}
	s.t.Logf("refserver: ovsdb-server log %s:\n%s", s.log, data)
}

// RunClient runs a client binary such as ovsdb-client or ovn-nbctl with a
// timeout and returns its standard output. A non-zero exit, a timeout or a
// missing binary is returned as an error carrying standard error; use
// MustRunClient to fail the test instead.
func RunClient(ctx context.Context, timeout time.Duration, bin string, args ...string) (string, error) {
	if _, err := exec.LookPath(bin); err != nil {
		return "", fmt.Errorf("%s not found in PATH (%w); %s", bin, err, installHint)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\nstderr: %s", bin, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// MustRunClient is RunClient that fails the test on error, including a
// missing binary.
func MustRunClient(t testing.TB, timeout time.Duration, bin string, args ...string) string {
	t.Helper()
	out, err := RunClient(context.Background(), timeout, bin, args...)
	if err != nil {
		t.Fatalf("refserver: %v", err)
	}
	return out
}
