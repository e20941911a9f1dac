package frontend

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/listen"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

// ServerDatabase is the name of the database the frontend itself serves.
const ServerDatabase = "_Server"

// database is one served database.
type database struct {
	name       string
	schema     *schema.Database
	schemaJSON []byte    // get_schema's reply
	feed       *feed     // its change stream
	server     *serverDB // non-nil only for _Server
}

// Option configures a Server.
type Option func(*Server) error

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) error {
		if l == nil {
			return errors.New("frontend: nil logger")
		}
		s.log = l
		return nil
	}
}

// Server is an OVSDB JSON-RPC server.
//
// It owns one goroutine per database feed, one accept loop per listener
// and one goroutine set per session, all under wg and stopped by Close.
type Server struct {
	cfg      Config
	deps     Deps
	log      *slog.Logger
	serverID string
	dbs      map[string]*database
	tlsCfg   *tls.Config
	locks    lockManager
	etcdLks  *etcdLocks // non-nil when locks live in etcd
	keys     keys.Layout
	metrics  *metrics

	// testHookCatchUp, if set, is called when a new monitor starts
	// waiting for its database's feed to catch up.
	testHookCatchUp atomic.Pointer[func(db string)]

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	readyCh chan struct{} // closed once every listener accepts

	// mu guards listeners, addrs, sessions and closed.
	mu        sync.Mutex
	listeners []net.Listener
	addrs     []net.Addr
	sessions  map[*session]struct{}
	closed    bool
	closeOnce sync.Once
}

// New builds a Server and starts one subscription per database. It loads
// the schemas through deps.LoadSchemas when deps.Schemas is nil. It does
// not listen yet: Serve does.
func New(ctx context.Context, cfg Config, deps Deps, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Transactor == nil || deps.Subscriber == nil {
		return nil, errors.New("frontend: Deps.Transactor and Deps.Subscriber are required")
	}
	s := &Server{
		cfg:      cfg,
		deps:     deps,
		log:      slog.Default(),
		serverID: deps.ServerID,
		dbs:      map[string]*database{},
		readyCh:  make(chan struct{}),
		locks:    newLockTable(),
		sessions: map[*session]struct{}{},
	}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	var err error
	if s.metrics, err = newMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	if s.serverID == "" {
		s.serverID = uuid.NewString()
	}
	sid, err := uuid.Parse(s.serverID)
	if err != nil {
		return nil, fmt.Errorf("frontend: server id %q is not a UUID: %w", s.serverID, err)
	}
	s.serverID = sid.String()
	schemas := deps.Schemas
	if schemas == nil {
		if deps.LoadSchemas == nil {
			return nil, errors.New("frontend: no schemas and no Deps.LoadSchemas")
		}
		if schemas, err = deps.LoadSchemas(ctx); err != nil {
			return nil, fmt.Errorf("frontend: load schemas: %w", err)
		}
	}
	if len(schemas) == 0 {
		return nil, errors.New("frontend: no databases to serve")
	}
	if cfg.needTLS() {
		if s.tlsCfg, err = loadTLS(cfg); err != nil {
			return nil, err
		}
	}
	if deps.ClusterID == 0 && deps.Etcd != nil {
		// Transaction ids carry the etcd cluster id (DESIGN.md).
		resp, gerr := deps.Etcd.Get(ctx, "\x00", clientv3.WithCountOnly())
		if gerr != nil {
			return nil, fmt.Errorf("frontend: read etcd cluster id: %w", gerr)
		}
		deps.ClusterID = resp.Header.GetClusterId()
		s.deps.ClusterID = deps.ClusterID
	}
	for name, sch := range schemas {
		if name == ServerDatabase {
			return nil, fmt.Errorf("frontend: database name %q is reserved", name)
		}
		js, jerr := marshal(clusteredSchemaJSON(sch))
		if jerr != nil {
			return nil, fmt.Errorf("frontend: render schema of %q: %w", name, jerr)
		}
		s.dbs[name] = &database{name: name, schema: sch, schemaJSON: js, feed: newFeed(name, sch, s.log, deps.ClusterID, cfg.HistoryRevisions, s.metrics)}
	}
	sdb, err := newServerDB(sid, deps.ClusterID, s.dbs, s.log, s.metrics)
	if err != nil {
		return nil, err
	}
	s.dbs[ServerDatabase] = sdb.db
	for name, db := range s.dbs {
		if name != ServerDatabase {
			db.feed.onChange = sdb.changed
		}
	}
	if deps.Etcd != nil {
		layout := deps.Keys
		if layout.Service() == "" {
			layout = keys.Default()
		}
		s.keys = layout
		if s.etcdLks, err = newEtcdLocks(deps.Etcd, layout, cfg.LockLeaseTTL, s.log); err != nil {
			return nil, err
		}
		s.locks = s.etcdLks
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.etcdLks != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.etcdLks.watchLoop(s.ctx)
		}()
	}
	for name, db := range s.dbs {
		if name == ServerDatabase {
			continue
		}
		s.wg.Add(2)
		go func() {
			defer s.wg.Done()
			db.feed.run(s.ctx, deps.Subscriber)
		}()
		go func() {
			defer s.wg.Done()
			db.feed.backfill(s.ctx, deps.Subscriber)
		}()
	}
	s.log.Info("frontend configured", "remotes", cfg.Remotes, "databases", len(schemas),
		"inactivity_probe", cfg.InactivityProbeInterval, "max_message_size", cfg.MaxMessageSize)
	return s, nil
}

// Ready is closed once the server listens on every remote.
func (s *Server) Ready() <-chan struct{} { return s.readyCh }

// Addrs returns the listeners' addresses (valid after Ready).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.addrs...)
}

// Serve waits until every database is loaded, listens on every remote
// (a punix socket appears only then), and serves clients until ctx ends
// or Close is called. It then closes the server.
func (s *Server) Serve(ctx context.Context) error {
	defer s.Close()
	rctx, cancel := context.WithTimeout(ctx, s.cfg.ReadyTimeout)
	for name, db := range s.dbs {
		if name == ServerDatabase {
			continue
		}
		err := db.feed.waitReady(rctx)
		if err == nil {
			err = db.feed.waitBackfilled(rctx)
		}
		if err != nil {
			cancel()
			if ctx.Err() != nil || s.ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("frontend: %w", err)
		}
	}
	cancel()
	s.serverDBLoaded()
	for _, r := range s.cfg.Remotes {
		l, err := s.listen(r)
		if err != nil {
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = l.Close()
			return nil
		}
		s.listeners = append(s.listeners, l)
		s.addrs = append(s.addrs, l.Addr())
		s.mu.Unlock()
		s.log.Info("listening", "remote", r, "addr", l.Addr().String())
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	for _, l := range s.listeners {
		s.wg.Add(1)
		go s.acceptLoop(l)
	}
	s.mu.Unlock()
	close(s.readyCh)
	select {
	case <-ctx.Done():
	case <-s.ctx.Done():
	}
	return nil
}

// Close stops listening, disconnects every client, ends the
// subscriptions and waits for every goroutine. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		ls := s.listeners
		s.mu.Unlock()
		if s.cancel != nil {
			s.cancel()
		}
		for _, l := range ls {
			_ = l.Close()
		}
		s.wg.Wait()
		if s.etcdLks != nil {
			s.etcdLks.close()
		}

	})
	return nil
}

// Run serves cfg with deps until ctx ends.
func Run(ctx context.Context, cfg Config, deps Deps, opts ...Option) error {
	s, err := New(ctx, cfg, deps, opts...)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

func (s *Server) listen(remote string) (net.Listener, error) {
	ep, err := parseRemote(remote)
	if err != nil {
		return nil, err
	}
	var l net.Listener
	if ep.network == "unix" {
		// Replaces a stale socket file, never another kind of file; the
		// listener's Close removes the file while it is still ours.
		l, err = listen.Unix(ep.address)
	} else {
		var lc net.ListenConfig
		l, err = lc.Listen(s.ctx, ep.network, ep.address)
	}
	if err != nil {
		return nil, fmt.Errorf("frontend: listen on %s: %w", remote, err)
	}
	if ep.tls {
		l = tls.NewListener(l, s.tlsCfg)
	}
	return l, nil
}

func (s *Server) acceptLoop(l net.Listener) {
	defer s.wg.Done()
	for {
		conn, err := l.Accept()
		if err != nil {
			if s.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				s.log.Error("accept failed; listener stopped", "addr", l.Addr().String(), "err", err)
			}
			return
		}
		sess := newSession(s, conn)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = conn.Close()
			return
		}
		s.sessions[sess] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.metrics.sessions.Inc()
		go func() {
			defer s.wg.Done()
			defer s.metrics.sessions.Dec()
			sess.run()
			s.mu.Lock()
			delete(s.sessions, sess)
			s.mu.Unlock()
		}()
	}
}

func (c *Config) needTLS() bool {
	for _, r := range c.Remotes {
		if ep, err := parseRemote(r); err == nil && ep.tls {
			return true
		}
	}
	return false
}

// loadTLS builds the pssl configuration from ovsdb-server's PEM files.
// With a CA certificate, clients must present a certificate signed by it,
// as ovsdb-server requires.
func loadTLS(cfg Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.Certificate, cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("frontend: load certificate %s and key %s: %w", cfg.Certificate, cfg.PrivateKey, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.CACert != "" {
		pem, err := os.ReadFile(cfg.CACert)
		if err != nil {
			return nil, fmt.Errorf("frontend: read CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("frontend: no certificate in %s", cfg.CACert)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// clusteredSchemaJSON renders sch as a clustered ovsdb-server serves it:
// clusters keep every column, so ovsdb-server makes ephemeral columns
// persistent and get_schema and _Server show no "ephemeral" flag. Every
// column lives in etcd here, so the same is true of ovsdb-etcd.
func clusteredSchemaJSON(sch *schema.Database) any {
	js := sch.JSON()
	tables, _ := js.(map[string]any)["tables"].(map[string]any)
	for _, t := range tables {
		cols, _ := t.(map[string]any)["columns"].(map[string]any)
		for _, c := range cols {
			if cm, ok := c.(map[string]any); ok {
				delete(cm, "ephemeral")
			}
		}
	}
	return js
}
