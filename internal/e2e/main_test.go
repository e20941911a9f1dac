package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// buildTimeout bounds the one `go build` of the binary under test.
const buildTimeout = 5 * time.Minute

// binPath is the ovsdb-etcd binary that TestMain built.
var binPath string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

// binEnv names an environment variable that, when set, gives a prebuilt
// ovsdb-etcd binary to test instead of building one (for debugging a
// binary built elsewhere).
const binEnv = "OVSDB_ETCD_E2E_BIN"

// requiredBins and requiredFiles are the dependencies of the tests. A
// missing one fails the run: the differential comparisons would otherwise
// compare two identical "not found" errors.
var (
	requiredBins  = []string{"ovsdb-server", "ovsdb-tool", "ovsdb-client", "ovn-nbctl"}
	requiredFiles = []string{nbSchema, sbSchema}
)

func checkDeps() error {
	for _, b := range requiredBins {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("%s not found (%w): install openvswitch-common openvswitch-switch ovn-common ovn-central (make deps)", b, err)
		}
	}
	for _, f := range requiredFiles {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%w: install ovn-central (make deps)", err)
		}
	}
	return nil
}

func testMain(m *testing.M) int {
	if err := checkDeps(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	if bin := os.Getenv(binEnv); bin != "" {
		binPath = bin
		return runTests(m)
	}
	dir, err := os.MkdirTemp("", "e2e-bin")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "ovsdb-etcd")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	args := []string{"build", "-o", binPath}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.CommandContext(ctx, "go", append(args, "github.com/ovsdb-etcd/ovsdb-etcd/cmd/ovsdb-etcd")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build ovsdb-etcd: %v\n", err)
		return 1
	}
	return runTests(m)
}

// runTests runs the tests and then checks for leaked goroutines.
func runTests(m *testing.M) int {
	code := m.Run()
	if code == 0 {
		if err := findLeaks(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: goleak: %v\n", err)
			return 1
		}
	}
	return code
}

// leakWait bounds the wait for goroutines to end after the tests: the
// peer connections of an in-process multi-member etcd outlive Close by up
// to rafthttp's 5 s read timeout (see internal/etcdtest), which goleak's
// own ~1 s of retries does not cover.
const leakWait = 15 * time.Second

func findLeaks() error {
	deadline := time.Now().Add(leakWait)
	for {
		// Find itself retries with backoff for about a second.
		err := goleak.Find()
		if err == nil || time.Now().After(deadline) {
			return err
		}
	}
}
