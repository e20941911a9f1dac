package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// Timeouts of the harness.
const (
	// readyTimeout bounds the wait for a started ovsdb-etcd to serve.
	readyTimeout = 60 * time.Second
	// stopTimeout bounds the wait for a SIGTERMed child before SIGKILL.
	stopTimeout = 15 * time.Second
	// clientTimeout bounds one ovsdb-client / ovn-nbctl run.
	clientTimeout = 30 * time.Second
	// pollInterval paces readiness probes, which have no event to wait on.
	pollInterval = 50 * time.Millisecond
)

// syncBuffer is a bytes.Buffer safe for a child's writer and the test.
type syncBuffer struct {
	mu  sync.Mutex // mu guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is one child process of a test. Its methods are called from the
// test goroutine only; the goroutine that waits for the child is owned by
// the proc and ends when the child exits.
type proc struct {
	t      testing.TB
	name   string
	bin    string
	args   []string
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
	err    error // valid after exited is closed
	killed bool  // the last run ended with kill
}

// startProc starts bin with args. The child is stopped in t.Cleanup and its
// output is logged when the test failed.
func startProc(t testing.TB, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, bin: bin, args: args, out: &syncBuffer{}}
	p.start()
	t.Cleanup(func() {
		wasRunning := p.running()
		if err := p.stop(); err != nil && wasRunning && !p.killed {
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
	const maxOut = 32 << 10
	if len(out) > maxOut {
		out = "...\n" + out[len(out)-maxOut:]
	}
	p.t.Logf("%s (%s %s) output:\n%s", p.name, p.bin, strings.Join(p.args, " "), out)
}

// running reports whether the child has not exited.
func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits, then SIGKILLs after stopTimeout. It returns
// the child's exit error (nil for a clean exit). It is idempotent.
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

// kill sends SIGKILL and waits for the child.
func (p *proc) kill() {
	p.killed = true
	if p.running() {
		_ = p.cmd.Process.Kill()
	}
	<-p.exited
}

// restart stops the child (SIGTERM) and starts it again with the same
// command line.
func (p *proc) restart() {
	p.t.Helper()
	if err := p.stop(); err != nil {
		p.t.Errorf("%s: unclean stop: %v", p.name, err)
	}
	p.start()
}

// wait waits for the child to exit by itself, at most timeout.
func (p *proc) wait(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.exited:
		return p.err
	case <-timer.C:
		return fmt.Errorf("%s still running after %v", p.name, timeout)
	}
}

// shortDir returns a fresh temporary directory whose path is short enough
// for unix sockets inside it (t.TempDir() of a subtest may not be).
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "e2e") //nolint:usetesting // t.TempDir() of a subtest can exceed the unix socket path limit
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

// waitServing polls addr with list_dbs until it answers with every
// database in want, the child exits, or readyTimeout passes.
func waitServing(t testing.TB, p *proc, addr string, want []string) {
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
