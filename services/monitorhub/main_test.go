package monitorhub

import (
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
)

// TestMain checks for leaked goroutines (goleak), waiting out the
// embedded etcd's peer connections that close after a member restart.
func TestMain(m *testing.M) {
	etcdtest.VerifyTestMain(m)
}
