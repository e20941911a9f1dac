package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
)

// TestMain checks the dependencies, builds the binary under test and
// checks for leaked goroutines after the tests (e2etest.Main).
func TestMain(m *testing.M) {
	os.Exit(e2etest.Main(m, "e2e", checkDeps))
}

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
