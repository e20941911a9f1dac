package frontend

import (
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
)

// TestMain checks for leaked goroutines (etcdtest's variant of goleak,
// which waits out embedded etcd's slow-closing connections).
func TestMain(m *testing.M) { etcdtest.VerifyTestMain(m) }
