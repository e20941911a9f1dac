package jsonrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

const testTimeout = 10 * time.Second

// fakeServer answers "echo" and "add", sends an echo request and an
// "update" notification to the client when asked with "poke", and never
// answers "hang". It serves one connection.
type fakeServer struct {
	ln   net.Listener
	wg   sync.WaitGroup
	echo chan json.RawMessage // replies to the server's echo requests
}

func startFakeServer(t *testing.T) (*fakeServer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{ln: ln, echo: make(chan json.RawMessage, 1)}
	s.wg.Add(1)
	go s.run()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s, "unix:" + path
}

func (s *fakeServer) run() {
	defer s.wg.Done()
	conn, err := s.ln.Accept()
	if err != nil {
		return
	}
	defer conn.Close()
	dec := jsonrpc.NewDecoder(conn)
	enc := jsonrpc.NewEncoder(conn)
	for {
		var m jsonrpc.Message
		if err := dec.Decode(&m); err != nil {
			return
		}
		if !m.IsRequest() {
			s.echo <- m.Result
			continue
		}
		switch m.Method {
		case "echo":
			_ = enc.Encode(jsonrpc.Message{ID: m.ID, Result: m.Params})
		case "add":
			var p []int
			_ = json.Unmarshal(m.Params, &p)
			resp, _ := jsonrpc.NewResponse(m.ID, p[0]+p[1], nil)
			_ = enc.Encode(resp)
		case "poke":
			req, _ := jsonrpc.NewRequest("echo", "echo", "ping")
			_ = enc.Encode(req)
			note, _ := jsonrpc.NewRequest(nil, "update", "mon", map[string]any{})
			_ = enc.Encode(note)
			resp, _ := jsonrpc.NewResponse(m.ID, "poked", nil)
			_ = enc.Encode(resp)
		case "hang":
		default:
			resp, _ := jsonrpc.NewResponse(m.ID, nil, map[string]string{"error": "unknown method"})
			_ = enc.Encode(resp)
		}
	}
}

func TestClient(t *testing.T) {
	s, addr := startFakeServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	notes := make(chan string, 4)
	c, err := jsonrpc.Dial(ctx, addr, jsonrpc.WithNotificationHandler(func(method string, params json.RawMessage) {
		notes <- method + string(params)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	t.Run("echo", func(t *testing.T) {
		res, err := c.Call(ctx, "echo", "a", 1)
		if err != nil || string(res) != `["a",1]` {
			t.Fatalf("echo = %s, %v", res, err)
		}
	})
	t.Run("concurrent calls", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := range 50 {
			wg.Go(func() {
				res, err := c.Call(ctx, "add", i, 1000)
				if err != nil {
					errs <- err
					return
				}
				if string(res) != fmt.Sprint(i+1000) {
					errs <- fmt.Errorf("add(%d,1000) = %s", i, res)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	t.Run("error reply", func(t *testing.T) {
		_, err := c.Call(ctx, "nope")
		var re *jsonrpc.RPCError
		if !errors.As(err, &re) || re.Tag() != "unknown method" {
			t.Fatalf("error = %v, want RPCError unknown method", err)
		}
	})
	t.Run("server echo and notification", func(t *testing.T) {
		if res, err := c.Call(ctx, "poke"); err != nil || string(res) != `"poked"` {
			t.Fatalf("poke = %s, %v", res, err)
		}
		select {
		case n := <-notes:
			if n != `update["mon",{}]` {
				t.Fatalf("notification %s", n)
			}
		case <-ctx.Done():
			t.Fatal("no notification")
		}
		select {
		case r := <-s.echo:
			if string(r) != `["ping"]` {
				t.Fatalf("echo reply %s", r)
			}
		case <-ctx.Done():
			t.Fatal("client did not answer the server's echo")
		}
	})
	t.Run("context cancel", func(t *testing.T) {
		cctx, ccancel := context.WithCancel(ctx)
		ccancel()
		if _, err := c.Call(cctx, "hang"); !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
	})
	t.Run("close fails pending", func(t *testing.T) {
		errc := make(chan error, 1)
		go func() {
			_, err := c.Call(ctx, "hang")
			errc <- err
		}()
		// Make sure the hang request reached the server before closing.
		if _, err := c.Call(ctx, "echo"); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, jsonrpc.ErrClosed) {
				t.Fatalf("pending call error = %v, want ErrClosed", err)
			}
		case <-ctx.Done():
			t.Fatal("pending call not failed by Close")
		}
		if _, err := c.Call(ctx, "echo"); !errors.Is(err, jsonrpc.ErrClosed) {
			t.Fatalf("call after close = %v, want ErrClosed", err)
		}
		_ = c.Close() // idempotent
	})
}

func TestClientServerGoesAway(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	accepted := make(chan net.Conn, 1)
	go func() {
		conn, aerr := ln.Accept()
		if aerr == nil {
			accepted <- conn
		}
	}()
	c, err := jsonrpc.Dial(ctx, "unix:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn := <-accepted
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, "hang")
		errc <- err
	}()
	conn.Close()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("client did not notice the closed connection")
	}
	if err := <-errc; !errors.Is(err, jsonrpc.ErrClosed) {
		t.Fatalf("error = %v, want ErrClosed", err)
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in, network, addr string
		tls, bad          bool
	}{
		{in: "unix:/tmp/x.sock", network: "unix", addr: "/tmp/x.sock"},
		{in: "tcp:127.0.0.1:6641", network: "tcp", addr: "127.0.0.1:6641"},
		{in: "ssl:127.0.0.1:6641", network: "tcp", addr: "127.0.0.1:6641", tls: true},
		{in: "tcp:[::1]:6641", network: "tcp", addr: "[::1]:6641"},
		{in: "tcp:::1:6641", network: "tcp", addr: "[::1]:6641"},
		{in: "punix:/x", bad: true},
		{in: "tcp:127.0.0.1", bad: true},
		{in: "nothing", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			n, a, useTLS, err := jsonrpc.ParseAddress(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted %q", tc.in)
				}
				return
			}
			if err != nil || n != tc.network || a != tc.addr || useTLS != tc.tls {
				t.Fatalf("got %q %q %v %v", n, a, useTLS, err)
			}
		})
	}
}
