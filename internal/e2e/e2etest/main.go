package e2etest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
)

// buildTimeout bounds the one `go build` of the binary under test.
const buildTimeout = 5 * time.Minute

// BinEnv names an environment variable that, when set, gives a prebuilt
// ovsdb-etcd binary to test instead of building one (for debugging a
// binary built elsewhere).
const BinEnv = "OVSDB_ETCD_E2E_BIN"

// binPath is the ovsdb-etcd binary that Main built; set once by Main
// before any test runs.
var binPath string

// Bin returns the path of the ovsdb-etcd binary under test. It is valid
// only in tests run by Main.
func Bin() string { return binPath }

// Main is the body of a TestMain: it runs every check (a failing one fails
// the run: tests must not skip on a missing dependency), builds
// cmd/ovsdb-etcd unless $OVSDB_ETCD_E2E_BIN names a binary, runs the tests
// and, if they passed, fails the run when goroutines are still running
// after etcdtest.LeakWait. name prefixes its messages and its temporary
// directory. It returns the exit code for os.Exit.
func Main(m *testing.M, name string, checks ...func() error) int {
	for _, check := range checks {
		if err := check(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			return 1
		}
	}
	if bin := os.Getenv(BinEnv); bin != "" {
		binPath = bin
		return runTests(m, name)
	}
	dir, err := os.MkdirTemp("", name+"-bin")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "ovsdb-etcd")
	if err := build(binPath); err != nil {
		fmt.Fprintf(os.Stderr, "%s: build ovsdb-etcd: %v\n", name, err)
		return 1
	}
	return runTests(m, name)
}

// build builds cmd/ovsdb-etcd into path, with -race under -race.
func build(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	args := []string{"build", "-o", path}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "github.com/ovsdb-etcd/ovsdb-etcd/cmd/ovsdb-etcd")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// runTests runs the tests and then checks for leaked goroutines.
func runTests(m *testing.M, name string) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	if err := findLeaks(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: goleak: %v\n", name, err)
		return 1
	}
	return 0
}

// findLeaks retries goleak.Find for up to etcdtest.LeakWait: the peer
// connections of an in-process multi-member etcd outlive Close by up to
// rafthttp's 5 s read timeout, which goleak's own ~1 s of retries does
// not cover.
func findLeaks() error {
	deadline := time.Now().Add(etcdtest.LeakWait)
	for {
		// Find itself retries with backoff for about a second.
		err := goleak.Find()
		if err == nil || time.Now().After(deadline) {
			return err
		}
	}
}
