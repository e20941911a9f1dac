package ovn

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

// binEnv names an environment variable giving a prebuilt binary to test
// instead of building one.
const binEnv = "OVSDB_ETCD_E2E_BIN"

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if bin := os.Getenv(binEnv); bin != "" {
		binPath = bin
		return runTests(m)
	}
	dir, err := os.MkdirTemp("", "ovn-bin")
	if err != nil {
		fmt.Fprintf(os.Stderr, "ovn: %v\n", err)
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
		fmt.Fprintf(os.Stderr, "ovn: build ovsdb-etcd: %v\n", err)
		return 1
	}
	return runTests(m)
}

// leakWait bounds the wait for goroutines to end after the tests: the
// in-process etcd's peer connections may outlive Close by a few seconds.
const leakWait = 15 * time.Second

// runTests runs the tests and then checks for leaked goroutines.
func runTests(m *testing.M) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	deadline := time.Now().Add(leakWait)
	for {
		err := goleak.Find()
		if err == nil {
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "ovn: goleak: %v\n", err)
			return 1
		}
	}
}
