package listen_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/listen"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// shortDir keeps socket paths under the 108-byte limit of sun_path.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lsn") //nolint:usetesting // t.TempDir() paths can be too long for a unix socket
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func TestCloseRemovesItsSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "s.sock")
	l := mustListen(t, path)
	dialOK(t, path)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left after Close: %v", err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(shortDir(t), "s.sock")
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = stale.Close()
	l := mustListen(t, path)
	defer l.Close()
	dialOK(t, path)
}

// TestSuccessorKeepsItsSocket: a restart that replaced the socket before
// the old listener closed keeps serving on the path.
func TestSuccessorKeepsItsSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "s.sock")
	old := mustListen(t, path)
	succ := mustListen(t, path)
	defer succ.Close()
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	dialOK(t, path)
}

func TestOtherFileRefused(t *testing.T) {
	path := filepath.Join(shortDir(t), "s.sock")
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := listen.Unix(path); !errors.Is(err, listen.ErrNotSocket) {
		t.Fatalf("Unix on a regular file = %v, want ErrNotSocket", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "data" {
		t.Fatalf("the file was touched: %q, %v", b, err)
	}
}

func TestAddrTCP(t *testing.T) {
	l, err := listen.Addr("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
}

func mustListen(t *testing.T, path string) net.Listener {
	t.Helper()
	l, err := listen.Addr("unix:" + path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func dialOK(t *testing.T, path string) {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	_ = c.Close()
}
