package frontend

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 20 * time.Second

const testSchemaPath = "testdata/test.ovsschema"

type testEnv struct {
	srv  *Server
	be   *fakeBackend
	sock string
}

// shortDir is a temp dir with a short path (unix socket paths are
// limited to about 100 bytes).
func shortDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "fe") //nolint:usetesting // t.TempDir paths are too long for unix sockets
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// startServer serves the test schema on a unix socket with a fake
// backend.
func startServer(t testing.TB, mutate func(*Config)) *testEnv {
	t.Helper()
	return startServerWith(t, mutate, nil)
}

// startServerWith is startServer with the Transactor wrapped by wrap.
func startServerWith(t testing.TB, mutate func(*Config), wrap func(Transactor) Transactor) *testEnv {
	t.Helper()
	sch := loadSchema(t)
	return startServerOn(t, newFakeBackend(t, map[string]*schema.Database{sch.Name: sch}), mutate, wrap)
}

// startServerOn starts a server on an existing backend (for restarts).
func startServerOn(t testing.TB, be *fakeBackend, mutate func(*Config), wrap func(Transactor) Transactor) *testEnv {
	t.Helper()
	schemas := be.schemas
	env := &testEnv{be: be, sock: filepath.Join(shortDir(t), "db.sock")}
	cfg := NewConfig()
	cfg.Remotes = []string{"punix:" + env.sock}
	if mutate != nil {
		mutate(&cfg)
	}
	var tr Transactor = be
	if wrap != nil {
		tr = wrap(be)
	}
	deps := Deps{Transactor: tr, Subscriber: be, Schemas: schemas}
	if be.etcd != nil {
		deps.Etcd = be.etcd
	}
	srv, err := New(t.Context(), cfg, deps, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	env.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		_ = srv.Close()
	})
	select {
	case <-srv.Ready():
	case err := <-served:
		t.Fatalf("Serve returned early: %v", err)
	case <-time.After(testTimeout):
		t.Fatal("server not ready")
	}
	return env
}

func (e *testEnv) addr() string { return "unix:" + e.sock }

// dial connects a jsonrpc.Client; notifications go to h (may be nil).
func dial(t *testing.T, addr string, h jsonrpc.NotificationHandler, opts ...jsonrpc.ClientOption) *jsonrpc.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	if h != nil {
		opts = append(opts, jsonrpc.WithNotificationHandler(h))
	}
	c, err := jsonrpc.Dial(ctx, addr, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func call(t *testing.T, c *jsonrpc.Client, method string, params ...any) json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	r, err := c.Call(ctx, method, params...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return r
}

// rawConn speaks raw bytes to a server, for exact reply shapes and bad
// input.
type rawConn struct {
	t   *testing.T
	c   net.Conn
	dec *jsonrpc.Decoder
}

func dialRaw(t *testing.T, sock string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, testTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawConn{t: t, c: c, dec: jsonrpc.NewDecoder(c, jsonrpc.WithMaxSize(64<<20))}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	_ = r.c.SetWriteDeadline(time.Now().Add(testTimeout))
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// recv reads one message as raw JSON.
func (r *rawConn) recv() []byte {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(testTimeout))
	b, err := r.dec.ReadRaw()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return append([]byte(nil), b...)
}

// expectClosed reads until the server closes the connection.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(testTimeout))
	buf := make([]byte, 64<<10)
	for {
		_, err := r.c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.t.Fatal("connection not closed by the server")
		}
		return
	}
}

// recvUntilReply reads messages until the reply with id wantID (raw JSON
// text) and returns them all.
func (r *rawConn) recvUntilReply(wantID string) []any {
	r.t.Helper()
	var out []any
	for {
		b := r.recv()
		v, err := jsonrpc.DecodeValue(b)
		if err != nil {
			r.t.Fatalf("decode %s: %v", b, err)
		}
		out = append(out, v)
		m := v.(map[string]any)
		if _, isReq := m["method"]; !isReq && ovsJSON(m["id"]) == wantID {
			return out
		}
	}
}

// normalize replaces every UUID string by its order of first appearance
// (walking objects in sorted key order), so that replies of two servers
// compare equal.
func normalize(v any) any {
	seen := map[string]string{}
	var walk func(any) any
	name := func(s string) string {
		if len(s) != 36 || strings.Count(s, "-") != 4 {
			return s
		}
		if n, ok := seen[s]; ok {
			return n
		}
		n := "<uuid" + string(rune('A'+len(seen)%26)) + strings.Repeat("'", len(seen)/26) + ">"
		seen[s] = n
		return n
	}
	walk = func(v any) any {
		switch x := v.(type) {
		case string:
			return name(x)
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = walk(e)
			}
			return out
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			out := make(map[string]any, len(x))
			for _, k := range keys {
				out[name(k)] = walk(x[k])
			}
			return out
		}
		return v
	}
	return walk(v)
}

func jsonrpcTLS(c *tls.Config) jsonrpc.ClientOption { return jsonrpc.WithTLSConfig(c) }

// testLogger logs through t, so a test's server logs show with it (not
// for fuzz targets, which may not log through f).
func testLogger(t testing.TB) *slog.Logger {
	t.Helper()
	if _, isFuzz := t.(*testing.F); isFuzz {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
