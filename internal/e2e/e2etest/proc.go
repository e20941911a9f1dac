package e2etest

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeouts of the harness.
const (
	// ReadyTimeout bounds the wait for a started ovsdb-etcd to serve.
	ReadyTimeout = 60 * time.Second
	// StopTimeout bounds the wait for a SIGTERMed child before SIGKILL.
	StopTimeout = 15 * time.Second
	// ClientTimeout bounds one client command or call.
	ClientTimeout = 30 * time.Second
	// OutputTimeout bounds the wait for expected output of a child.
	OutputTimeout = 30 * time.Second
	// PollInterval paces probes that have no event to wait on.
	PollInterval = 50 * time.Millisecond
	// maxDump is how much of a child's output (its tail) a failed test
	// logs.
	maxDump = 32 << 10
)

// Buffer is a bytes.Buffer safe for a child's writer and the test; it
// wakes waiters on every write. The zero value is not usable: use
// NewBuffer.
type Buffer struct {
	mu      sync.Mutex // mu guards buf and changed
	buf     bytes.Buffer
	changed chan struct{}
}

// NewBuffer returns an empty Buffer.
func NewBuffer() *Buffer { return &Buffer{changed: make(chan struct{})} }

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.changed)
	b.changed = make(chan struct{})
	return b.buf.Write(p)
}

// snapshot returns the output so far and a channel closed on the next
// write.
func (b *Buffer) snapshot() (string, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String(), b.changed
}

// String returns the contents so far.
func (b *Buffer) String() string {
	s, _ := b.snapshot()
	return s
}

// Proc is one child process of a test, stopped in t.Cleanup. Its methods
// are called from the test goroutine only; the goroutine that waits for
// the child is owned by the Proc and ends when the child exits.
type Proc struct {
	t      testing.TB
	name   string
	bin    string
	args   []string
	cmd    *exec.Cmd
	out    *Buffer // every life's output, across Start
	exited chan struct{}
	err    error // valid after exited is closed
	killed bool  // the last life ended with Kill or Quit
}

// StartProc starts bin with args. The child is stopped in t.Cleanup; a
// child running the ovsdb-etcd binary must then exit cleanly on SIGTERM
// (other programs, such as ovsdb-client or ovn-northd, need not), no child
// may have reported a data race, and the output is logged when the test
// failed.
func StartProc(t testing.TB, name, bin string, args ...string) *Proc {
	t.Helper()
	p := &Proc{t: t, name: name, bin: bin, args: args, out: NewBuffer()}
	p.Start()
	t.Cleanup(func() {
		wasRunning := p.Running()
		if err := p.Stop(); err != nil && wasRunning && !p.killed && p.isOVSDBEtcd() {
			t.Errorf("%s: unclean exit on SIGTERM: %v", p.name, err)
		}
		if strings.Contains(p.out.String(), "WARNING: DATA RACE") {
			t.Errorf("%s: the race detector reported a data race", p.name)
		}
		if t.Failed() {
			p.DumpOutput()
		}
	})
	return p
}

// isOVSDBEtcd reports whether the child runs the binary under test.
func (p *Proc) isOVSDBEtcd() bool {
	return p.bin == binPath || strings.Contains(p.bin, "ovsdb-etcd")
}

// Start starts the child again with the same command line, after it
// exited (see Stop, Kill). Its output is appended to the earlier lives'.
func (p *Proc) Start() {
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

// Name is the name the child was started with.
func (p *Proc) Name() string { return p.name }

// Args returns a copy of the child's arguments.
func (p *Proc) Args() []string { return slices.Clone(p.args) }

// Output returns the child's output so far.
func (p *Proc) Output() string { return p.out.String() }

// Err is the exit error of the child's current life (nil for a clean
// exit); valid only once it exited (see Running).
func (p *Proc) Err() error {
	select {
	case <-p.exited:
		return p.err
	default:
		return nil
	}
}

// DumpOutput logs the tail of the child's output.
func (p *Proc) DumpOutput() {
	out := p.out.String()
	if len(out) > maxDump {
		out = "...\n" + out[len(out)-maxDump:]
	}
	p.t.Logf("%s (%s %s) output:\n%s", p.name, p.bin, strings.Join(p.args, " "), out)
}

// Running reports whether the child has not exited.
func (p *Proc) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM and waits, then SIGKILLs after StopTimeout. It
// returns the child's exit error (nil for a clean exit). It is idempotent.
func (p *Proc) Stop() error {
	if p.cmd == nil {
		return nil
	}
	if p.Running() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	timer := time.NewTimer(StopTimeout)
	defer timer.Stop()
	select {
	case <-p.exited:
		return p.err
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not exit %v after SIGTERM: %w", p.name, StopTimeout, p.err)
	}
}

// Kill sends SIGKILL and waits for the child.
func (p *Proc) Kill() {
	p.killed = true
	if p.Running() {
		_ = p.cmd.Process.Kill()
	}
	<-p.exited
}

// Quit sends SIGQUIT, so that a Go child prints its goroutines into its
// output, and waits for it to exit (SIGKILL after StopTimeout).
func (p *Proc) Quit() {
	if !p.Running() {
		return
	}
	p.killed = true
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	_ = p.Wait(StopTimeout)
	p.Kill()
}

// Restart stops the child (SIGTERM), failing the test on an unclean exit,
// and starts it again with the same command line.
func (p *Proc) Restart() {
	p.t.Helper()
	if err := p.Stop(); err != nil {
		p.t.Errorf("%s: unclean stop: %v", p.name, err)
	}
	p.Start()
}

// Wait waits at most timeout for the child to exit by itself and returns
// its exit error, or an error if it is still running.
func (p *Proc) Wait(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.exited:
		return p.err
	case <-timer.C:
		return fmt.Errorf("%s still running after %v", p.name, timeout)
	}
}

// WaitOutput waits until pred holds for the child's output so far and
// returns that output; it fails the test if the child exits first or
// after OutputTimeout.
func (p *Proc) WaitOutput(what string, pred func(string) bool) string {
	p.t.Helper()
	timer := time.NewTimer(OutputTimeout)
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
			p.t.Fatalf("%s: no %s after %v; output:\n%s", p.name, what, OutputTimeout, out)
		}
	}
}
