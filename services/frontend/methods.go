package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	txnenginev1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/txnengine/v1"
)

// handler serves one request. A returned error ends the session (protocol
// errors); OVSDB errors are replies.
type handler func(s *session, m *jsonrpc.Message) error

var methods map[string]handler

func init() {
	methods = map[string]handler{
		"list_dbs":            (*session).listDBs,
		"get_schema":          (*session).getSchema,
		"transact":            (*session).transact,
		"echo":                (*session).echo,
		"get_server_id":       (*session).getServerID,
		"set_db_change_aware": (*session).setDBChangeAware,
		"monitor":             (*session).monitor,
		"monitor_cond":        (*session).monitorCond,
		"monitor_cancel":      (*session).monitorCancel,
		"monitor_cond_since":  (*session).monitorCondSince,
		"monitor_cond_change": (*session).monitorCondChange,
		"lock":                (*session).lock,
		"steal":               (*session).steal,
		"unlock":              (*session).unlock,
	}
}

var tracer = otel.Tracer("github.com/ovsdb-etcd/ovsdb-etcd/services/frontend")

func (s *session) listDBs(m *jsonrpc.Message) error {
	names := make([]string, 0, len(s.srv.dbs))
	for name := range s.srv.dbs {
		names = append(names, name)
	}
	sort.Strings(names)
	s.replyResult(m.ID, names)
	return nil
}

func (s *session) echo(m *jsonrpc.Message) error {
	s.replyRaw(m.ID, m.Params)
	return nil
}

func (s *session) getServerID(m *jsonrpc.Message) error {
	s.replyResult(m.ID, s.srv.serverID)
	return nil
}

func (s *session) setDBChangeAware(m *jsonrpc.Message) error {
	params, err := m.DecodeParams()
	if err != nil {
		return fmt.Errorf("%w: %w", errProtocol, err)
	}
	if len(params) != 1 {
		s.replyError(m.ID, syntaxError(params, "set_db_change_aware: true or false parameter expected").JSON())
		return nil
	}
	b, ok := params[0].(bool)
	if !ok {
		s.replyError(m.ID, syntaxError(params, "set_db_change_aware: true or false parameter expected").JSON())
		return nil
	}
	s.mu.Lock()
	s.dbChangeAware = b
	s.mu.Unlock()
	s.replyResult(m.ID, map[string]any{})
	return nil
}

// lookupDB resolves params[0] as ovsdb-server's ovsdb_jsonrpc_lookup_db
// does, replying with its errors; ok is false when it replied.
func (s *session) lookupDB(m *jsonrpc.Message, params []any) (*database, bool) {
	name, isStr := any(nil), false
	if len(params) > 0 {
		name = params[0]
		_, isStr = name.(string)
	}
	if !isStr {
		s.replyError(m.ID, syntaxError(params, m.Method+" request params must begin with <db-name>").JSON())
		return nil, false
	}
	db, found := s.srv.dbs[name.(string)]
	if !found {
		e := &ovsdb.Error{Tag: ovsdb.TagUnknownDatabase,
			Details: fmt.Sprintf("%s request specifies unknown database %s", m.Method, name),
			Syntax:  ovsJSON(params)}
		s.replyError(m.ID, e.JSON())
		return nil, false
	}
	return db, true
}

func (s *session) getSchema(m *jsonrpc.Message) error {
	params, err := m.DecodeParams()
	if err != nil {
		return fmt.Errorf("%w: %w", errProtocol, err)
	}
	db, ok := s.lookupDB(m, params)
	if !ok {
		return nil
	}
	s.replyRaw(m.ID, db.schemaJSON)
	return nil
}

// transact forwards a transaction to the txnengine in its own goroutine,
// so that a blocked "wait" does not stall the session, and answers it
// only after the session's monitors got the update of its commit.
func (s *session) transact(m *jsonrpc.Message) error {
	// Split params without decoding the operations: they go to the
	// txnengine as JSON, and a large transaction should not be parsed
	// (or validated, which the decoder did) again. The full params are
	// decoded only for error replies.
	raw, err := m.ParamsArray()
	if err != nil {
		return fmt.Errorf("%w: %w", errProtocol, err)
	}
	params := func() []any {
		p, _ := m.DecodeParams()
		return p
	}
	var name string
	if len(raw) == 0 || json.Unmarshal(raw[0], &name) != nil {
		s.lookupDB(m, params()) // replies with the syntax error
		return nil
	}
	db, ok := s.srv.dbs[name]
	if !ok {
		s.lookupDB(m, params()) // replies with unknown database
		return nil
	}
	key := ovsJSON(rawValue(m.ID))
	s.mu.Lock()
	if _, dup := s.inflight[key]; dup {
		s.mu.Unlock()
		s.replyError(m.ID, syntaxError(params(), "transact: duplicate request ID").JSON())
		return nil
	}
	ctx, cancel := context.WithCancel(s.ctx)
	in := &inflight{cancel: cancel}
	s.inflight[key] = in
	s.mu.Unlock()

	if db.server != nil {
		s.srv.catchUp(ctx, db)
		reply := db.server.transact(params()[1:])
		s.finishTransact(key, in, m.ID, reply)
		cancel()
		return nil
	}

	ops := joinArray(raw[1:])
	// Backpressure: past MaxInflight, stop reading until one finishes.
	select {
	case s.sem <- struct{}{}:
	case <-s.ctx.Done():
		cancel()
		return s.ctx.Err()
	}
	id := m.ID
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		defer cancel()
		s.runTransact(ctx, db, key, in, id, ops)
	}()
	return nil
}

func (s *session) runTransact(ctx context.Context, db *database, key string, in *inflight, id json.RawMessage, ops []byte) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in transact", "db", db.name, "panic", r)
			s.finishTransactError(key, in, id, ovsdb.NewError(ovsdb.TagInternalError, "%v", r).JSON())
		}
	}()
	ctx, span := tracer.Start(ctx, "frontend.transact", trace.WithAttributes(
		attribute.String("db", db.name), attribute.String("session", s.id)))
	defer span.End()
	start := time.Now()
	req := &txnenginev1.TransactRequest{
		Database:   db.name,
		Operations: ops,
		SessionId:  s.id,
		HeldLocks:  s.heldLocks(),
		RequestId:  s.id + "/" + key,
	}
	resp, err := s.srv.deps.Transactor.Transact(ctx, req)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		switch {
		case ctx.Err() != nil:
			// Canceled by the client or the session is closing: no reply.
			s.dropInflight(key, in)
		case status.Code(err) == grpccodes.Unavailable:
			// The transaction provably did not run (the txnengine client
			// retries where it may). Drop the client like a clustered
			// ovsdb-server that lost its leader: the IDL reconnects and
			// retries its transaction.
			s.log.Warn("dropping client: txnengine unavailable", "db", db.name, "err", err)
			s.srv.metrics.dropped.WithLabelValues(dropUnavailable).Inc()
			s.dropInflight(key, in)
			s.cancel()
		default:
			s.log.Error("transact failed", "db", db.name, "err", err)
			s.finishTransactError(key, in, id, ovsdb.AsError(err).JSON())
		}
		return
	}
	span.SetAttributes(attribute.Int64("rev", resp.GetRevision()))
	if rev := resp.GetRevision(); rev > 0 && db.feed != nil {
		db.feed.noteCommitted(rev)
		// _Server's index moves before the reply, as in ovsdb-server.
		if sdb := s.srv.dbs[ServerDatabase]; sdb != nil && sdb.server != nil {
			sdb.server.noteCommit(db.name, rev)
		}
	}
	// Only a session that monitors the database can tell whether the
	// update came before the reply; do not make others wait for it.
	if rev := resp.GetRevision(); rev > 0 && db.feed != nil && s.monitoring(db) {
		wctx, wcancel := context.WithTimeout(ctx, s.srv.cfg.UpdateWaitTimeout)
		err := db.feed.waitRev(wctx, rev)
		wcancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("transact reply sent before its update", "db", db.name, "rev", rev, "err", err)
			s.srv.metrics.updateWaitMiss.Inc()
		}
	}
	s.finishTransact(key, in, id, resp.GetResult())
	s.srv.metrics.transactTime.Observe(time.Since(start).Seconds())
	if d := time.Since(start); d > time.Second {
		s.log.Warn("slow transact", "db", db.name, "rev", resp.GetRevision(), "duration", d)
	}
}

// joinArray renders raw values as one JSON array.
func joinArray(raw []json.RawMessage) []byte {
	n := 2
	for _, r := range raw {
		n += len(r) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, r := range raw {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r...)
	}
	return append(b, ']')
}

// monitoring reports whether the session has a monitor on db.
func (s *session) monitoring(db *database) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.monitors {
		if m.feed == db.feed {
			return true
		}
	}
	return false
}

// finishTransact replies unless the request was canceled.
func (s *session) finishTransact(key string, in *inflight, id json.RawMessage, result []byte) {
	if s.dropInflight(key, in) {
		s.replyRaw(id, result)
	}
}

func (s *session) finishTransactError(key string, in *inflight, id json.RawMessage, e any) {
	if s.dropInflight(key, in) {
		s.replyError(id, e)
	}
}

// dropInflight forgets a request and reports whether it must be answered.
func (s *session) dropInflight(key string, in *inflight) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[key] == in {
		delete(s.inflight, key)
	}
	return !in.canceled
}

// heldLocks lists the locks the session owns, for "assert".
func (s *session) heldLocks() []string { return s.srv.locks.held(s) }

func (s *session) monitor(m *jsonrpc.Message) error          { return s.startMonitor(m, 1) }
func (s *session) monitorCond(m *jsonrpc.Message) error      { return s.startMonitor(m, 2) }
func (s *session) monitorCondSince(m *jsonrpc.Message) error { return s.startMonitor(m, 3) }

func (s *session) startMonitor(m *jsonrpc.Message, version int) error {
	params, err := m.DecodeParams()
	if err != nil {
		return fmt.Errorf("%w: %w", errProtocol, err)
	}
	db, ok := s.lookupDB(m, params)
	if !ok {
		return nil
	}
	want := 3
	if version == 3 {
		want = 4
	}
	if len(params) < want { // ovsdb-server ignores extra params
		s.replyError(m.ID, syntaxError(params, "invalid parameters").JSON())
		return nil
	}
	var since ovsdb.UUID
	if version == 3 {
		str, ok := params[3].(string)
		if !ok {
			s.replyError(m.ID, syntaxError(params[3], "last-txn-id must be string").JSON())
			return nil
		}
		if since, err = ovsdb.ParseUUID(str); err != nil {
			s.replyError(m.ID, syntaxError(params[3], "last-txn-id must be UUID format.").JSON())
			return nil
		}
	}
	mon, perr := parseMonitor(db, version, params[2])
	if perr != nil {
		s.replyError(m.ID, perr.JSON())
		return nil
	}
	mon.sess = s
	mon.idJSON = []byte(ovsJSON(params[1]))
	mon.key = string(mon.idJSON)
	s.mu.Lock()
	if _, dup := s.monitors[mon.key]; dup {
		s.mu.Unlock()
		s.replyError(m.ID, syntaxError(params[1], "duplicate monitor ID").JSON())
		return nil
	}
	s.monitors[mon.key] = mon
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(s.ctx, s.srv.cfg.ReadyTimeout)
	defer cancel()
	s.srv.catchUp(ctx, db)
	if err := db.feed.register(ctx, mon, m.ID, since); err != nil {
		s.mu.Lock()
		delete(s.monitors, mon.key)
		s.mu.Unlock()
		if s.ctx.Err() != nil {
			return s.ctx.Err()
		}
		s.log.Error("monitor failed", "db", db.name, "err", err)
		s.replyError(m.ID, ovsdb.NewError(ovsdb.TagInternalError, "%v", err).JSON())
	}
	return nil
}

func (s *session) monitorCancel(m *jsonrpc.Message) error {
	params, err := m.DecodeParams()
	if err != nil {
		return fmt.Errorf("%w: %w", errProtocol, err)
	}
	if len(params) != 1 {
		s.replyError(m.ID, errStrInvalidParameters)
		return nil
	}
	key := ovsJSON(params[0])
	s.mu.Lock()
	mon, ok := s.monitors[key]
	delete(s.monitors, key)
	s.mu.Unlock()
	if !ok {
		s.replyError(m.ID, errStrUnknownMonitor)
		return nil
	}
	mon.feed.unregister(mon)
	s.replyResult(m.ID, map[string]any{})
	return nil
}
