package jsonrpc

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
)

// ErrClosed is returned by calls on a closed Client, and by calls pending
// when the connection ends.
var ErrClosed = errors.New("jsonrpc: client closed")

// RPCError is a response whose "error" member is not null. Raw is that
// member as sent (for OVSDB, an object such as {"error":"unknown method"}).
type RPCError struct {
	Method string
	Raw    json.RawMessage
}

func (e *RPCError) Error() string { return fmt.Sprintf("jsonrpc: %s: error reply %s", e.Method, e.Raw) }

// Tag returns the "error" string of an OVSDB error object, or "".
func (e *RPCError) Tag() string {
	var obj struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(e.Raw, &obj) != nil {
		return ""
	}
	return obj.Error
}

// NotificationHandler receives requests from the server other than "echo"
// (update, update2, update3, locked, stolen, ...). It runs on the Client's
// read goroutine: it must not block for long or call the Client's Call.
// For a request with a non-null id the Client replies with an
// "unknown method" error after the handler returns.
type NotificationHandler func(method string, params json.RawMessage)

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithNotificationHandler sets the handler for server-sent requests.
func WithNotificationHandler(h NotificationHandler) ClientOption {
	return func(c *Client) { c.handler = h }
}

// WithTLSConfig sets the TLS configuration used for "ssl:" addresses.
func WithTLSConfig(cfg *tls.Config) ClientOption { return func(c *Client) { c.tlsConfig = cfg } }

// WithClientMaxSize sets the largest message the Client accepts.
func WithClientMaxSize(n int) ClientOption { return func(c *Client) { c.maxSize = n } }

// WithLogger sets the Client's logger.
func WithLogger(l *slog.Logger) ClientOption { return func(c *Client) { c.log = l } }

// Client is a JSON-RPC connection to an OVSDB server. Calls may be made
// concurrently. It answers the server's "echo" requests itself.
//
// A single read goroutine (readLoop), started by Dial and stopped and
// waited for by Close, owns the Decoder and dispatches replies to pending
// calls by id.
type Client struct {
	conn      net.Conn
	enc       *Encoder
	handler   NotificationHandler
	tlsConfig *tls.Config
	maxSize   int
	log       *slog.Logger

	// mu guards nextID, pending and err.
	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan Message
	err     error // set once the connection is done

	closeOnce sync.Once
	done      chan struct{} // closed when readLoop returns
}

// ParseAddress splits an OVSDB active address ("unix:PATH", "tcp:IP:PORT",
// "ssl:IP:PORT") into a network and an address for net.Dial. IPv6 addresses
// may be bracketed.
func ParseAddress(addr string) (network, address string, useTLS bool, err error) {
	kind, rest, ok := strings.Cut(addr, ":")
	if !ok || rest == "" {
		return "", "", false, fmt.Errorf("jsonrpc: bad address %q (want unix:PATH, tcp:IP:PORT or ssl:IP:PORT)", addr)
	}
	switch kind {
	case "unix":
		return "unix", rest, false, nil
	case "tcp", "ssl":
		host, port, err := splitHostPort(rest)
		if err != nil {
			return "", "", false, fmt.Errorf("jsonrpc: bad address %q: %w", addr, err)
		}
		return "tcp", net.JoinHostPort(host, port), kind == "ssl", nil
	}
	return "", "", false, fmt.Errorf("jsonrpc: bad address %q: unknown kind %q", addr, kind)
}

func splitHostPort(s string) (string, string, error) {
	if strings.HasPrefix(s, "[") {
		return net.SplitHostPort(s)
	}
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return "", "", errors.New("missing port")
	}
	return s[:i], s[i+1:], nil
}

// Dial connects to addr and starts the Client's read goroutine.
func Dial(ctx context.Context, addr string, opts ...ClientOption) (*Client, error) {
	c := &Client{maxSize: DefaultMaxMessageSize, log: slog.Default(), pending: map[uint64]chan Message{}, done: make(chan struct{})}
	for _, o := range opts {
		o(c)
	}
	network, address, useTLS, err := ParseAddress(addr)
	if err != nil {
		return nil, err
	}
	var conn net.Conn
	if useTLS {
		d := tls.Dialer{Config: c.tlsConfig}
		conn, err = d.DialContext(ctx, network, address)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, network, address)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	c.conn = conn
	c.enc = NewEncoder(conn)
	go c.readLoop(NewDecoder(conn, WithMaxSize(c.maxSize)))
	return c, nil
}

func (c *Client) readLoop(dec *Decoder) {
	defer close(c.done)
	for {
		var m Message
		err := dec.Decode(&m)
		var se *SyntaxError
		if errors.As(err, &se) {
			c.log.Warn("jsonrpc: dropping invalid message from server", "peer", c.conn.RemoteAddr().String(), "err", err)
			continue
		}
		if err != nil {
			c.fail(err)
			return
		}
		if m.IsRequest() {
			c.handleRequest(m)
			continue
		}
		var id uint64
		if json.Unmarshal(m.ID, &id) != nil {
			c.log.Warn("jsonrpc: reply with unknown id", "id", string(m.ID))
			continue
		}
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

func (c *Client) handleRequest(m Message) {
	if m.Method == "echo" {
		reply := Message{ID: orNull(m.ID), Result: orNull(m.Params), Error: jsonNull}
		if err := c.enc.Encode(reply); err != nil {
			c.log.Debug("jsonrpc: echo reply failed", "err", err)
		}
		return
	}
	if c.handler != nil {
		c.handler(m.Method, m.Params)
	}
	if !m.IsNotification() {
		reply, _ := NewResponse(m.ID, nil, map[string]string{"error": "unknown method"})
		if err := c.enc.Encode(reply); err != nil {
			c.log.Debug("jsonrpc: reply failed", "err", err)
		}
	}
}

// fail ends the connection with err and fails all pending calls.
func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
}

// Call sends a request and waits for its reply. It returns the result, an
// *RPCError when the reply's "error" is not null, or a connection error.
// Cancelling ctx abandons the wait (a late reply is dropped).
func (c *Client) Call(ctx context.Context, method string, params ...any) (json.RawMessage, error) {
	ch := make(chan Message, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()

	req, err := NewRequest(id, method, params...)
	if err != nil {
		c.forget(id)
		return nil, fmt.Errorf("call %s: %w", method, err)
	}
	if err := c.enc.Encode(req); err != nil {
		// A failed write leaves the stream in an unknown state: end the
		// connection so every caller sees ErrClosed.
		c.fail(err)
		_ = c.conn.Close()
		c.mu.Lock()
		err = c.err
		c.mu.Unlock()
		return nil, fmt.Errorf("call %s: %w", method, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			c.mu.Lock()
			err := c.err
			c.mu.Unlock()
			return nil, fmt.Errorf("call %s: %w", method, err)
		}
		if m.HasError() {
			return nil, &RPCError{Method: method, Raw: m.Error}
		}
		return m.Result, nil
	case <-ctx.Done():
		c.forget(id)
		return nil, fmt.Errorf("call %s: %w", method, ctx.Err())
	}
}

func (c *Client) forget(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// Notify sends a request with a null id (no reply is expected).
func (c *Client) Notify(method string, params ...any) error {
	req, err := NewRequest(nil, method, params...)
	if err != nil {
		return err
	}
	return c.enc.Encode(req)
}

// Done is closed when the connection has ended and the read goroutine has
// returned.
func (c *Client) Done() <-chan struct{} { return c.done }

// Close closes the connection, fails pending calls with ErrClosed and waits
// for the read goroutine. It is idempotent.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.fail(errors.New("closed by caller"))
		if cerr := c.conn.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
	})
	<-c.done
	return err
}
