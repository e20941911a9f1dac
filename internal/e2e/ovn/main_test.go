package ovn

import (
	"os"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
)

// TestMain builds the binary under test and checks for leaked goroutines
// after the tests (e2etest.Main).
func TestMain(m *testing.M) {
	os.Exit(e2etest.Main(m, "ovn"))
}
