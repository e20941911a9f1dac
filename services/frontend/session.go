package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// session is one client connection.
//
// Goroutines: run (the read loop, on the accept loop's goroutine spawned
// for it), writeLoop, probeLoop and one goroutine per in-flight transact,
// all under wg and all stopped by cancel. Every outbound byte goes
// through enqueue, so order is the order of enqueue calls.
type session struct {
	srv    *Server
	id     string
	conn   net.Conn
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sem    chan struct{} // bounds in-flight transacts

	lastRecv atomic.Int64 // unix nanoseconds of the last input

	// outMu guards out, outBytes, outClosed, writing and lagging
	// (queue.go).
	outMu     sync.Mutex
	out       []outItem
	outBytes  int // queued or being written, lag slots excluded
	outClosed bool
	writing   bool // writeLoop is writing a batch
	// raw is the connection's socket when it has one (not TLS): enqueue
	// then writes directly, without waking writeLoop, while nothing is
	// queued (queue.go).
	raw     syscall.RawConn
	lagging map[*monitor]*lagSlot
	outSig  chan struct{} // capacity 1: out became non-empty
	drained chan struct{} // closed and replaced when outBytes drops

	// mu guards monitors, inflight and dbChangeAware.
	mu            sync.Mutex
	monitors      map[string]*monitor  // by canonical monitor-id JSON
	inflight      map[string]*inflight // transact requests by canonical id JSON
	dbChangeAware bool
}

// inflight is a transact request that has not been answered.
type inflight struct {
	cancel   context.CancelFunc
	canceled bool // by a "cancel" notification: never answer it
}

func newSession(srv *Server, conn net.Conn) *session {
	ctx, cancel := context.WithCancel(srv.ctx)
	s := &session{
		srv:      srv,
		id:       uuid.NewString(),
		conn:     conn,
		ctx:      ctx,
		cancel:   cancel,
		sem:      make(chan struct{}, srv.cfg.MaxInflight),
		outSig:   make(chan struct{}, 1),
		drained:  make(chan struct{}),
		lagging:  map[*monitor]*lagSlot{},
		monitors: map[string]*monitor{},
		inflight: map[string]*inflight{},
	}
	if sc, ok := conn.(syscall.Conn); ok && srv.cfg.DirectWrites {
		if rc, err := sc.SyscallConn(); err == nil {
			s.raw = rc
		}
	}
	s.log = srv.log.With("session", s.id, "peer", conn.RemoteAddr().String())
	s.lastRecv.Store(time.Now().UnixNano())
	return s
}

// run serves the session until the client goes away or the server
// closes, then releases everything the session holds.
func (s *session) run() {
	s.log.Debug("client connected")
	stop := context.AfterFunc(s.ctx, func() { _ = s.conn.Close() })
	defer stop()
	s.wg.Add(1)
	go s.writeLoop()
	if iv := s.srv.cfg.InactivityProbeInterval; iv > 0 {
		s.wg.Add(1)
		go s.probeLoop(iv)
	}
	err := s.readLoop()
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), s.ctx.Err() != nil:
		s.log.Debug("client disconnected")
	default:
		s.log.Warn("dropping client", "err", err)
		s.srv.metrics.dropped.WithLabelValues(dropProtocol).Inc()
	}
	s.cancel()
	s.closeMonitors()
	s.wg.Wait()
	s.srv.locks.releaseAll(s)
	_ = s.conn.Close()
}

// readLoop decodes and dispatches messages until an error.
func (s *session) readLoop() error {
	// Any input counts as activity for the inactivity probe, also the
	// bytes of a large message still being received.
	dec := jsonrpc.NewDecoder(activityReader{s}, jsonrpc.WithMaxSize(s.srv.cfg.MaxMessageSize), jsonrpc.WithMaxDepth(s.srv.cfg.MaxDepth))
	for {
		// Like ovsdb-server, do not read from a client that does not
		// read what it is sent.
		if err := s.waitDrained(); err != nil {
			return err
		}
		var m jsonrpc.Message
		if err := dec.Decode(&m); err != nil {
			return fmt.Errorf("read message: %w", err)
		}
		// Drop the client where ovsdb-server would.
		if err := m.CheckOVSDB(); err != nil {
			return fmt.Errorf("%w: received bad JSON-RPC message: %w", errProtocol, err)
		}
		if !m.IsRequest() {
			if isEchoReply(&m) {
				continue // our inactivity probe answered
			}
			kind := "error"
			if m.IsReply() {
				kind = "reply"
			}
			return fmt.Errorf("%w: received unexpected %s message", errProtocol, kind)
		}
		if m.IsNotification() {
			s.handleNotification(&m)
			continue
		}
		if err := s.dispatch(&m); err != nil {
			return err
		}
	}
}

// isEchoReply reports whether m answers one of our echo probes, whose id
// is "echo" (as ovsdb-server's are).
func isEchoReply(m *jsonrpc.Message) bool {
	var id string
	return m.IsReply() && json.Unmarshal(m.ID, &id) == nil && id == "echo"
}

// activityReader reads from the session's connection and records when
// input last arrived.
type activityReader struct{ s *session }

func (r activityReader) Read(p []byte) (int, error) {
	n, err := r.s.conn.Read(p)
	if n > 0 {
		r.s.lastRecv.Store(time.Now().UnixNano())
	}
	return n, err
}

// dispatch handles one request, recovering a panic into an error reply.
func (s *session) dispatch(m *jsonrpc.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic handling request", "method", m.Method, "panic", r, "stack", string(debug.Stack()))
			s.replyError(m.ID, ovsdb.NewError(ovsdb.TagInternalError, "%v", r).JSON())
			err = nil
		}
	}()
	s.log.Debug("request", "method", m.Method)
	h, ok := methods[m.Method]
	if !ok {
		s.srv.metrics.requests.WithLabelValues("other").Inc()
		s.replyError(m.ID, errStrUnknownMethod)
		return nil
	}
	s.srv.metrics.requests.WithLabelValues(m.Method).Inc()
	return h(s, m)
}

// handleNotification handles a request without id. ovsdb-server acts only
// on "cancel" and ignores the rest.
func (s *session) handleNotification(m *jsonrpc.Message) {
	if m.Method != "cancel" {
		return
	}
	params, err := m.DecodeParams()
	if err != nil || len(params) != 1 {
		return
	}
	key := ovsJSON(params[0])
	s.mu.Lock()
	if in, ok := s.inflight[key]; ok {
		in.canceled = true
		in.cancel()
		delete(s.inflight, key)
	}
	s.mu.Unlock()
}

// probeLoop sends an echo request after interval without input and
// drops the client after as long again without input, like
// ovsdb-server's reconnect state machine for passive connections.
func (s *session) probeLoop(interval time.Duration) {
	defer s.wg.Done()
	timer := time.NewTimer(interval)
	defer timer.Stop()
	var probedAt int64 // lastRecv value when the probe was sent
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-timer.C:
		}
		last := s.lastRecv.Load()
		deadline := last + int64(interval)
		if probedAt == last {
			deadline += int64(interval)
		}
		if wait := time.Duration(deadline - time.Now().UnixNano()); wait > 0 {
			timer.Reset(wait)
			continue
		}
		if probedAt == last {
			s.log.Warn("dropping client: no response to inactivity probe", "interval", interval)
			s.srv.metrics.dropped.WithLabelValues(dropProbe).Inc()
			s.cancel()
			return
		}
		s.enqueue([]byte(`{"id":"echo","method":"echo","params":[]}`))
		probedAt = last
		timer.Reset(interval)
	}
}

// replyResult queues {"id":id,"result":result,"error":null}.
func (s *session) replyResult(id json.RawMessage, result any) {
	b, err := marshal(result)
	if err != nil {
		s.log.Error("encode reply", "err", err)
		s.replyError(id, ovsdb.NewError(ovsdb.TagInternalError, "encode reply: %v", err).JSON())
		return
	}
	s.replyRaw(id, b)
}

// replyRaw queues a reply whose result is already encoded.
func (s *session) replyRaw(id json.RawMessage, result []byte) {
	s.enqueue(encodeReply(id, result))
}

func encodeReply(id json.RawMessage, result []byte) []byte {
	b := make([]byte, 0, len(result)+len(id)+32)
	b = append(b, `{"id":`...)
	b = append(b, orNull(id)...)
	b = append(b, `,"result":`...)
	b = append(b, result...)
	b = append(b, `,"error":null}`...)
	return b
}

// replyError queues {"id":id,"error":e}; ovsdb-server omits "result" in
// error replies.
func (s *session) replyError(id json.RawMessage, e any) {
	eb, err := marshal(e)
	if err != nil {
		eb = []byte(`"internal error"`)
	}
	b := make([]byte, 0, len(eb)+len(id)+32)
	b = append(b, `{"id":`...)
	b = append(b, orNull(id)...)
	b = append(b, `,"error":`...)
	b = append(b, eb...)
	b = append(b, '}')
	s.enqueue(b)
}

// encodeNotification renders {"id":null,"method":method,"params":params}.
func encodeNotification(method string, params []byte) []byte {
	b := make([]byte, 0, len(params)+len(method)+40)
	b = append(b, `{"id":null,"method":"`...)
	b = append(b, method...)
	b = append(b, `","params":`...)
	b = append(b, params...)
	b = append(b, '}')
	return b
}

func orNull(r json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(r)) == 0 {
		return json.RawMessage("null")
	}
	return r
}

// closeMonitors unregisters every monitor of the session from its feed.
func (s *session) closeMonitors() {
	s.mu.Lock()
	ms := s.monitors
	s.monitors = map[string]*monitor{}
	s.mu.Unlock()
	for _, m := range ms {
		m.feed.unregister(m)
	}
}
