package listen

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
)

// ErrNotSocket is returned when a unix socket path holds another kind of file.
var ErrNotSocket = errors.New("listen: path exists and is not a socket")

// Addr listens on "unix:PATH" (see Unix) or on a TCP "host:port".
func Addr(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return Unix(path)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return l, nil
}

// Unix listens on a unix socket at path, replacing a stale socket file.
// Closing the listener removes the file only if it is still this
// listener's: Go's default unlinks whatever is at path, which deleted the
// socket of a successor that had already replaced it.
func Unix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%w: %s", ErrNotSocket, path)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on unix:%s: %w", path, err)
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	fi, err := os.Lstat(path)
	if err != nil {
		_ = ul.Close()
		return nil, fmt.Errorf("listen on unix:%s: %w", path, err)
	}
	return &unixListener{UnixListener: ul, path: path, file: fi}, nil
}

// unixListener removes its own socket file on Close.
type unixListener struct {
	*net.UnixListener
	path string
	file os.FileInfo
	once sync.Once
}

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		if cur, serr := os.Lstat(l.path); serr == nil && os.SameFile(cur, l.file) {
			_ = os.Remove(l.path)
		}
	})
	return err
}
