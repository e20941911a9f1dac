package txnengine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

const tracerName = "github.com/ovsdb-etcd/ovsdb-etcd/services/txnengine"

// Request is one OVSDB transact call, as the gRPC service receives it.
type Request struct {
	Database string
	// Operations is the JSON array of operations (the transact params
	// after the database name).
	Operations []byte
	SessionID  string
	HeldLocks  []string
	RequestID  string
}

// Response is the answer to a Request.
type Response struct {
	// Result is the JSON result array (RFC 7047 4.1.3).
	Result []byte
	// Revision is the etcd revision of the commit; 0 when nothing was
	// written.
	Revision int64
}

// Option changes optional behaviour of New.
type Option func(*Engine) error

// WithKVWrapper makes the commit path write through wrap(client.KV), so
// tests can record Txns or inject faults around the real client.
func WithKVWrapper(wrap func(clientv3.KV) clientv3.KV) Option {
	return func(e *Engine) error {
		if wrap == nil {
			return errors.New("nil KV wrapper")
		}
		e.kv = wrap(e.kv)
		e.wraps = append(e.wraps, wrap)
		return nil
	}
}

// dbSchema is one served database's schema, as stored in etcd.
type dbSchema struct {
	schema *schema.Database
	raw    []byte
}

// Engine is one txnengine process: it campaigns for leadership and, while
// it leads, executes and commits transactions. Create it with New, stop
// it with Close.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	cli     *clientv3.Client
	ownCli  bool
	kv      clientv3.KV
	wraps   []func(clientv3.KV) clientv3.KV // WithKVWrapper's, in order
	pin     *leaderPin                      // nil: commits use kv
	keys    keys.Layout
	dbs     map[string]*dbSchema
	metrics *metrics
	tracer  trace.Tracer

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu sync.Mutex
	// mu guards term (non-nil while this engine leads with its databases
	// loaded) and changed (closed and replaced whenever term changes).
	term    *term
	changed chan struct{}
}

// New connects to etcd, stores each schema of cfg.SchemaFiles in etcd if
// absent (refusing a schema whose version differs from the stored one),
// and starts campaigning for leadership in the background.
func New(ctx context.Context, cfg Config, opts ...Option) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:     cfg,
		log:     cfg.logger().With("component", "txnengine"),
		dbs:     make(map[string]*dbSchema),
		tracer:  otel.Tracer(tracerName),
		changed: make(chan struct{}),
	}
	l, err := keys.New(cfg.Prefix, cfg.Service)
	if err != nil {
		return nil, fmt.Errorf("txnengine config: %w", err)
	}
	e.keys = l
	if cfg.TracerProvider != nil {
		e.tracer = cfg.TracerProvider.Tracer(tracerName)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	e.metrics = m
	if cfg.EtcdClient != nil {
		e.cli = cfg.EtcdClient
	} else {
		cli, err := clientv3.New(clientv3.Config{
			Endpoints:          cfg.EtcdEndpoints,
			DialTimeout:        cfg.DialTimeout,
			MaxCallSendMsgSize: cfg.MaxRequestBytes + 1<<20,
			MaxCallRecvMsgSize: 1<<31 - 1,
			Logger:             nil,
		})
		if err != nil {
			return nil, fmt.Errorf("connect to etcd %v: %w", cfg.EtcdEndpoints, err)
		}
		e.cli, e.ownCli = cli, true
	}
	e.kv = e.cli.KV
	for _, o := range opts {
		if err := o(e); err != nil {
			e.closeClient()
			return nil, fmt.Errorf("txnengine option: %w", err)
		}
	}
	if err := e.initSchemas(ctx); err != nil {
		e.closeClient()
		return nil, err
	}
	e.log.Info("txnengine starting", "config", cfg)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	if eps := e.cli.Endpoints(); len(eps) > 1 {
		e.pin = newLeaderPin(e, eps)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.pin.run(e.ctx)
		}()
	}
	e.wg.Add(1)
	go e.campaignLoop()
	return e, nil
}

// wrapKV applies the WithKVWrapper wrappers to kv, as to the engine's own.
func (e *Engine) wrapKV(kv clientv3.KV) clientv3.KV {
	for _, w := range e.wraps {
		kv = w(kv)
	}
	return kv
}

func (e *Engine) closeClient() {
	if e.ownCli {
		if err := e.cli.Close(); err != nil {
			e.log.Debug("close etcd client", "err", err)
		}
	}
}

// Close stops serving: it ends the current term (answering every pending
// request), resigns, and waits for its goroutines. It is idempotent.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.cancel()
		e.wg.Wait()
		e.closeClient()
	})
	return nil
}

// Databases returns the names of the served databases.
func (e *Engine) Databases() []string {
	names := make([]string, 0, len(e.dbs))
	for n := range e.dbs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// IsLeader reports whether this engine leads and serves transactions.
func (e *Engine) IsLeader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.term != nil
}

// WaitLeader blocks until this engine leads with its databases loaded, or
// ctx ends.
func (e *Engine) WaitLeader(ctx context.Context) error {
	for {
		e.mu.Lock()
		t, ch := e.term, e.changed
		e.mu.Unlock()
		if t != nil {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-e.ctx.Done():
			return ErrClosed
		}
	}
}

// retire stops routing requests to t, if it is the current term. The
// commit loop calls it before answering a batch that ended its term, so
// that a caller retrying at once never reaches the dying term.
func (e *Engine) retire(t *term) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.term == t {
		e.setTermLocked(nil)
	}
}

func (e *Engine) setTerm(t *term) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setTermLocked(t)
}

func (e *Engine) setTermLocked(t *term) {
	e.term = t
	close(e.changed)
	e.changed = make(chan struct{})
	if t != nil {
		e.metrics.isLeader.Set(1)
	} else {
		e.metrics.isLeader.Set(0)
	}
}

func (e *Engine) currentTerm() *term {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.term
}

// initSchemas reads the schema files and stores, in one etcd Txn, every
// schema whose key is empty, so that a frontend never finds only some of
// one engine's databases; a stored schema with another version is
// refused. A lost race with another engine storing the same schemas is
// retried a bounded number of times.
func (e *Engine) initSchemas(ctx context.Context) error {
	type file struct {
		path string
		s    *schema.Database
		raw  []byte
	}
	var files []file
	seen := map[string]bool{}
	for _, f := range e.cfg.SchemaFiles {
		raw, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("read schema: %w", err)
		}
		s, err := schema.Parse(raw)
		if err != nil {
			return fmt.Errorf("parse schema %s: %w", f, err)
		}
		if nerr := keys.CheckDB(s.Name); nerr != nil {
			return fmt.Errorf("schema %s: database name: %w", f, nerr)
		}
		if seen[s.Name] {
			return fmt.Errorf("schema %s: database %q given twice", f, s.Name)
		}
		seen[s.Name] = true
		files = append(files, file{path: f, s: s, raw: raw})
	}
	const attempts = 5
	for range attempts {
		sctx, cancel := context.WithTimeout(ctx, e.cfg.CommitTimeout)
		gets := make([]clientv3.Op, len(files))
		for i, f := range files {
			gets[i] = clientv3.OpGet(e.keys.Schema(f.s.Name))
		}
		resp, err := e.cli.Txn(sctx).Then(gets...).Commit()
		if err != nil {
			cancel()
			return fmt.Errorf("read stored schemas: %w", err)
		}
		var cmps []clientv3.Cmp
		var puts []clientv3.Op
		for i, f := range files {
			kvs := resp.Responses[i].GetResponseRange().Kvs
			if len(kvs) == 0 {
				key := e.keys.Schema(f.s.Name)
				cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(key), "=", 0))
				puts = append(puts, clientv3.OpPut(key, string(f.raw)))
				continue
			}
			if uerr := e.useStoredSchema(f.path, f.s, f.raw, kvs[0].Value); uerr != nil {
				cancel()
				return uerr
			}
		}
		if len(puts) == 0 {
			cancel()
			return nil
		}
		presp, err := e.cli.Txn(sctx).If(cmps...).Then(puts...).Commit()
		cancel()
		if err != nil {
			return fmt.Errorf("store schemas: %w", err)
		}
		if !presp.Succeeded {
			continue // another engine stored some of them first: compare again
		}
		for _, f := range files {
			if _, ok := e.dbs[f.s.Name]; !ok {
				e.log.Info("stored schema", "db", f.s.Name, "version", f.s.Version, "rev", presp.Header.Revision)
				e.dbs[f.s.Name] = &dbSchema{schema: f.s, raw: f.raw}
			}
		}
		return nil
	}
	return fmt.Errorf("store schemas: still racing with other writers after %d attempts", attempts)
}

// useStoredSchema adopts the schema stored in etcd for the database of
// the schema file path (raw, parsed as s), refusing another version.
func (e *Engine) useStoredSchema(path string, s *schema.Database, raw, stored []byte) error {
	ss, err := schema.Parse(stored)
	if err != nil {
		return fmt.Errorf("parse stored schema of database %q: %w", s.Name, err)
	}
	if ss.Version != s.Version {
		return fmt.Errorf("%w: database %q in etcd has schema version %q but %s has version %q; schema conversion is not supported",
			ErrSchemaMismatch, s.Name, ss.Version, path, s.Version)
	}
	if !bytes.Equal(stored, raw) {
		e.log.Warn("schema file differs from the stored schema of the same version; using the stored one",
			"db", s.Name, "version", s.Version, "file", path)
	}
	e.dbs[s.Name] = &dbSchema{schema: ss, raw: stored}
	return nil
}

// campaignLoop campaigns, leads until leadership ends, and campaigns
// again, until Close.
func (e *Engine) campaignLoop() {
	defer e.wg.Done()
	for e.ctx.Err() == nil {
		err := e.leadOnce(e.ctx)
		if e.ctx.Err() != nil {
			return
		}
		e.log.Warn("leadership ended; campaigning again", "err", err)
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-t.C:
		case <-e.ctx.Done():
			t.Stop()
			return
		}
	}
}

// leadOnce opens a session, waits to be elected, loads the databases and
// runs the commit loop until leadership ends. It always releases the
// session, so that a standby takes over at once.
func (e *Engine) leadOnce(ctx context.Context) error {
	ttl := int((e.cfg.LeaseTTL + time.Second - 1) / time.Second)
	sess, err := concurrency.NewSession(e.cli, concurrency.WithTTL(ttl), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("open election session: %w", err)
	}
	defer func() {
		sess.Orphan()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if _, rerr := e.cli.Revoke(rctx, sess.Lease()); rerr != nil {
			e.log.Debug("revoke election lease", "err", rerr)
		}
	}()
	el := concurrency.NewElection(sess, e.keys.Election())
	cctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(sess.Ctx(), cancel)
	err = el.Campaign(cctx, e.cfg.advertise())
	stop()
	cancel()
	if err != nil {
		return fmt.Errorf("campaign: %w", err)
	}
	select {
	case <-sess.Done():
		return fmt.Errorf("campaign: %w: session ended", ErrLeadershipLost)
	default:
	}
	t := newTerm(e, sess, el.Key(), el.Rev())
	log := e.log.With("leader_rev", t.leaderRev)
	log.Info("elected leader; loading databases", "advertise", e.cfg.advertise())
	start := time.Now()
	if lerr := t.load(ctx); lerr != nil {
		t.finish(lerr)
		return fmt.Errorf("load after election: %w", lerr)
	}
	e.metrics.loadSeconds.Observe(time.Since(start).Seconds())
	log.Info("leading", "rev", t.rev, "load_time", time.Since(start))

	e.setTerm(t)
	tctx, tcancel := context.WithCancel(ctx)
	var twg sync.WaitGroup
	lockFrom := t.rev + 1 // read before run starts writing t.rev
	twg.Add(1)
	go func() {
		defer twg.Done()
		t.lockWatchLoop(tctx, lockFrom)
	}()
	if e.cfg.CompactionInterval > 0 {
		twg.Add(1)
		go func() {
			defer twg.Done()
			t.compactLoop(tctx)
		}()
	}
	err = t.run(ctx)
	e.retire(t)
	tcancel()
	twg.Wait()
	t.finish(err)
	// The deferred revoke deletes the leader key, so a standby takes over
	// now rather than after the lease TTL.
	log.Info("leadership ended", "err", err)
	return err
}

// Transact executes one OVSDB transaction on the leader and answers after
// etcd acknowledged it. See the errors of errors.go.
func (e *Engine) Transact(ctx context.Context, req Request) (Response, error) {
	if _, ok := e.dbs[req.Database]; !ok {
		return Response{}, fmt.Errorf("%w %q", ErrUnknownDatabase, req.Database)
	}
	ops, err := decodeOps(req.Operations)
	if err != nil {
		return Response{}, err
	}
	t := e.currentTerm()
	if t == nil {
		if e.ctx.Err() != nil {
			return Response{}, ErrClosed
		}
		return Response{}, e.notLeader(ctx)
	}
	r := &request{
		ctx:     ctx,
		db:      req.Database,
		ops:     ops,
		size:    len(req.Operations),
		locks:   req.HeldLocks,
		session: req.SessionID,
		id:      req.RequestID,
		arrived: time.Now(),
		reply:   make(chan reply, 1),
	}
	select {
	case t.queue <- r:
		t.noteQueueLen(len(t.queue))
	case <-t.done:
		return Response{}, fmt.Errorf("%w before the request was queued", ErrLeadershipLost)
	case <-ctx.Done():
		return Response{}, ctx.Err()
	}
	select {
	case rep := <-r.reply:
		return rep.resp, rep.err
	case <-ctx.Done():
		return Response{}, ctx.Err()
	case <-t.done:
		// The term answers every request it took before done closes.
		select {
		case rep := <-r.reply:
			return rep.resp, rep.err
		default:
			return Response{}, fmt.Errorf("%w before the request was taken", ErrLeadershipLost)
		}
	}
}

// notLeader returns ErrNotLeader naming the current leader, if any.
func (e *Engine) notLeader(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	leader, err := leaderAddress(lctx, e.cli, e.keys.Election())
	if err != nil {
		e.log.Debug("look up leader", "err", err)
	}
	return &notLeaderError{leader: leader}
}

// leaderAddress returns the election value of the current leader, or ""
// when none is elected.
func leaderAddress(ctx context.Context, kv clientv3.KV, election string) (string, error) {
	resp, err := kv.Get(ctx, election+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", fmt.Errorf("get election %s: %w", election, err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	return string(resp.Kvs[0].Value), nil
}

// decodeOps parses the operations array with UseNumber, as the executor
// expects. Well-formed arrays take decodeFast; anything it declines
// (errors included) goes through encoding/json, so the values and the
// error texts are encoding/json's either way.
func decodeOps(data []byte) ([]any, error) {
	if ops, ok := decodeFast(data); ok {
		return ops, nil
	}
	return decodeOpsStd(data)
}

// decodeOpsStd is decodeOps with encoding/json.
func decodeOpsStd(data []byte) ([]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: operations: %w", ErrBadRequest, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: operations: trailing data", ErrBadRequest)
	}
	ops, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: operations are not a JSON array", ErrBadRequest)
	}
	return ops, nil
}
