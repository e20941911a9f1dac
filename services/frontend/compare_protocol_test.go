package frontend

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

// protocolOutcome sends msg on a new connection, then an echo request, and
// reports whether the server answered the echo ("answered") or closed the
// connection ("closed"), with the first message it sent, if any.
func protocolOutcome(t *testing.T, sock, msg string) string {
	t.Helper()
	rc := dialRaw(t, sock)
	rc.send(msg)
	// ovsdb-server may close before reading the echo: a failed write
	// then means the same as a close.
	_ = rc.c.SetWriteDeadline(time.Now().Add(testTimeout))
	if _, err := rc.c.Write([]byte(`{"method":"echo","params":["probe"],"id":"probe"}`)); err != nil {
		return "closed"
	}
	_ = rc.c.SetReadDeadline(time.Now().Add(testTimeout))
	for {
		b, err := rc.dec.ReadRaw()
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
			return "closed"
		default:
			t.Fatalf("%s: read: %v", msg, err)
		}
		if string(b) == `{"id":"probe","result":["probe"],"error":null}` {
			return "answered"
		}
	}
}

// TestCompareMalformedMessagesWithOVSDBServer: JSON-RPC messages that are
// valid JSON but not valid messages make the frontend drop the
// connection exactly where ovsdb-server does (jsonrpc_msg_from_json:
// "received bad JSON-RPC message"), and only there.
func TestCompareMalformedMessagesWithOVSDBServer(t *testing.T) {
	ref := refserver.Start(t, refserver.Options{Schemas: []string{testSchemaPath}})
	env := startServer(t, func(c *Config) { c.InactivityProbeInterval = 0 })
	msgs := []string{
		`{"method":"echo","params":[],"id":1,"foo":2}`,
		`{"method":"echo","params":{},"id":1}`,
		`{"method":"echo","params":"x","id":1}`,
		`{"method":5,"params":[],"id":1}`,
		`{"method":"echo","id":1}`,
		`{"params":[],"id":1}`,
		`{"id":1}`,
		`{}`,
		`[1,2]`,
		`"x"`,
		`{"method":"echo","params":[]}`,
		`{"method":"echo","params":[],"id":null}`,
		`{"method":"echo","params":[],"id":1,"result":1}`,
		`{"result":[],"id":7}`,
		`{"result":[],"error":null,"id":7}`,
		`{"result":[],"id":null}`,
		`{"error":"x","id":7}`,
		`{"error":"x","result":null,"id":7}`,
		`{"error":null,"result":null,"id":7}`,
		`{"method":"","params":[],"id":1}`,
		`{"method":"echo","params":[],"id":{"a":1}}`,
	}
	for _, m := range msgs {
		want := protocolOutcome(t, ref.SocketPath(), m)
		got := protocolOutcome(t, env.sock, m)
		if got != want {
			t.Errorf("%s: ovsdb-server %s, frontend %s", m, want, got)
		}
	}
}
