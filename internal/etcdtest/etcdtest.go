package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Limits every member is started with unless an option changes them: the
// same as txnengine's defaults for the cluster's limits, well above what
// one OVSDB transaction of 10,000 rows or 8 MiB needs (DESIGN.md "etcd
// limits").
const (
	DefaultMaxTxnOps       = 100_000
	DefaultMaxRequestBytes = 64 << 20

	// ClientMaxMsgSize is the gRPC send and receive limit of clients from
	// ClientConfig: above DefaultMaxRequestBytes, so that the server's
	// limit, not the client's, is what a test hits.
	ClientMaxMsgSize = DefaultMaxRequestBytes + 2<<20

	// ReadyTimeout bounds how long a member may take to become ready.
	ReadyTimeout = 60 * time.Second

	startAttempts = 5
)

// Option changes how members are started.
type Option func(*options)

type options struct {
	maxTxnOps       uint
	maxRequestBytes uint
	tickMs          uint
	electionMs      uint
}

// WithMaxTxnOps sets the members' --max-txn-ops.
func WithMaxTxnOps(n uint) Option { return func(o *options) { o.maxTxnOps = n } }

// WithMaxRequestBytes sets the members' --max-request-bytes.
func WithMaxRequestBytes(n uint) Option { return func(o *options) { o.maxRequestBytes = n } }

// WithTimers sets the heartbeat interval and election timeout in
// milliseconds.
func WithTimers(tickMs, electionMs uint) Option {
	return func(o *options) { o.tickMs, o.electionMs = tickMs, electionMs }
}

// Cluster is a set of in-process etcd members that form one etcd cluster.
type Cluster struct {
	opts    options
	token   string
	members []*Member
}

// Member is one etcd member of a Cluster.
type Member struct {
	name      string
	dataDir   string
	clientURL url.URL // unix socket
	peerURL   url.URL // loopback TCP
	cluster   *Cluster

	// mu guards etcd.
	mu   sync.Mutex
	etcd *embed.Etcd
}

// NewServer starts a single-member cluster and stops it at cleanup.
func NewServer(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	return NewCluster(t, 1, opts...)
}

// NewCluster starts a cluster of size members, waits until every member is
// ready, and stops them at cleanup. Members of a multi-member cluster use
// a longer election timeout, because -race on two shared cores delays
// heartbeats.
func NewCluster(t testing.TB, size int, opts ...Option) *Cluster {
	t.Helper()
	if size < 1 {
		t.Fatalf("etcdtest: cluster size %d", size)
	}
	o := options{
		maxTxnOps:       DefaultMaxTxnOps,
		maxRequestBytes: DefaultMaxRequestBytes,
		tickMs:          100,
		electionMs:      1000,
	}
	if size > 1 {
		o.electionMs = 2500
	}
	for _, opt := range opts {
		opt(&o)
	}
	var lastErr error
	for range startAttempts {
		c, err := startCluster(t, size, o)
		if err == nil {
			t.Cleanup(c.stop)
			return c
		}
		lastErr = err
		if !errors.Is(err, syscall.EADDRINUSE) && !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("etcdtest: start %d-member cluster: %v", size, lastErr)
	return nil
}

func startCluster(t testing.TB, size int, o options) (*Cluster, error) {
	t.Helper()
	sockDir, err := shortTempDir(t)
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: o, token: fmt.Sprintf("etcdtest-%d", rand.Uint64())}
	initial := make([]string, size)
	for i := range size {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		m := &Member{
			name:      fmt.Sprintf("m%d", i),
			dataDir:   t.TempDir(),
			clientURL: url.URL{Scheme: "unix", Path: filepath.Join(sockDir, fmt.Sprintf("m%d.sock", i))},
			peerURL:   url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", fmt.Sprint(port))},
			cluster:   c,
		}
		c.members = append(c.members, m)
		initial[i] = m.name + "=" + m.peerURL.String()
	}
	initialCluster := strings.Join(initial, ",")
	for _, m := range c.members {
		e, err := embed.StartEtcd(m.config(initialCluster))
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("start member %s: %w", m.name, err)
		}
		m.setEtcd(e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	for _, m := range c.members {
		if err := m.waitReady(ctx); err != nil {
			c.stop()
			return nil, err
		}
	}
	return c, nil
}

// shortTempDir makes a directory for unix sockets whose path stays under
// the 108-byte limit whatever the test's name, removed at cleanup.
func shortTempDir(t testing.TB) (string, error) {
	t.Helper()
	dir, err := os.MkdirTemp("", "etcdtest") //nolint:usetesting // t.TempDir() paths can exceed the unix socket path limit
	if err != nil {
		return "", fmt.Errorf("socket directory: %w", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir, nil
}

// FreePort returns a loopback TCP port below the Linux ephemeral range
// (32768 and up) that was free a moment ago, chosen at random, so that
// outgoing connections (which take their source port from the ephemeral
// range) never take it before a member, or a child process of a test,
// binds it, also again on a restart.
func FreePort() (int, error) {
	var lastErr error
	for range 50 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(port)))
		if err != nil {
			lastErr = err
			continue
		}
		if err := l.Close(); err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		return port, nil
	}
	return 0, fmt.Errorf("free port: %w", lastErr)
}

func (m *Member) config(initialCluster string) *embed.Config {
	cfg := embed.NewConfig()
	cfg.Name = m.name
	cfg.Dir = m.dataDir
	cfg.UnsafeNoFsync = true
	cfg.Logger = "zap"
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{"stderr"}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(newLogger(m.name))
	cfg.ListenClientUrls = []url.URL{m.clientURL}
	cfg.AdvertiseClientUrls = []url.URL{m.clientURL}
	cfg.ListenPeerUrls = []url.URL{m.peerURL}
	cfg.AdvertisePeerUrls = []url.URL{m.peerURL}
	cfg.InitialCluster = initialCluster
	cfg.InitialClusterToken = m.cluster.token
	cfg.ClusterState = embed.ClusterStateFlagNew
	cfg.MaxTxnOps = m.cluster.opts.maxTxnOps
	cfg.MaxRequestBytes = m.cluster.opts.maxRequestBytes
	cfg.TickMs = m.cluster.opts.tickMs
	cfg.ElectionMs = m.cluster.opts.electionMs
	return cfg
}

func (m *Member) setEtcd(e *embed.Etcd) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.etcd = e
}

func (m *Member) waitReady(ctx context.Context) error {
	e := m.Etcd()
	if e == nil {
		return fmt.Errorf("member %s is stopped", m.name)
	}
	select {
	case <-e.Server.ReadyNotify():
		return nil
	case err := <-e.Err():
		return fmt.Errorf("member %s: %w", m.name, err)
	case <-ctx.Done():
		return fmt.Errorf("member %s not ready: %w", m.name, ctx.Err())
	}
}

func (c *Cluster) stop() {
	for _, m := range c.members {
		m.Stop()
	}
}

// Members returns the members in the order they were created.
func (c *Cluster) Members() []*Member { return c.members }

// Member returns the i-th member.
func (c *Cluster) Member(i int) *Member { return c.members[i] }

// Endpoints returns the client URLs of all members, stopped ones included
// (a client skips those it cannot reach).
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.members))
	for i, m := range c.members {
		eps[i] = m.Endpoint()
	}
	return eps
}

// ClientConfig returns a client configuration for endpoints, or for all
// members if none are given, with message limits raised to match the
// members' and client logging off.
func (c *Cluster) ClientConfig(endpoints ...string) clientv3.Config {
	if len(endpoints) == 0 {
		endpoints = c.Endpoints()
	}
	return clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          5 * time.Second,
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		MaxCallSendMsgSize:   ClientMaxMsgSize,
		MaxCallRecvMsgSize:   ClientMaxMsgSize,
		Logger:               zap.NewNop(),
	}
}

// Client returns a client of all members, closed at t's cleanup.
func (c *Cluster) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	return newClient(t, c.ClientConfig())
}

func newClient(t testing.TB, cfg clientv3.Config) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(cfg)
	if err != nil {
		t.Fatalf("etcdtest: client of %v: %v", cfg.Endpoints, err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// Leader returns the running member that currently believes it leads, or
// nil if none does.
func (c *Cluster) Leader() *Member {
	for _, m := range c.members {
		e := m.Etcd()
		if e == nil {
			continue
		}
		if e.Server.Leader() == e.Server.MemberID() && e.Server.Leader() != 0 {
			return m
		}
	}
	return nil
}

// WaitLeader waits until some running member leads and every running
// member agrees on it, and returns it.
func (c *Cluster) WaitLeader(ctx context.Context) (*Member, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if l := c.Leader(); l != nil && c.agree(l) {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("etcdtest: wait for leader: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func (c *Cluster) agree(l *Member) bool {
	lid := l.Etcd().Server.MemberID()
	for _, m := range c.members {
		if e := m.Etcd(); e != nil && e.Server.Leader() != lid {
			return false
		}
	}
	return true
}

// Name returns the member's name ("m0", "m1", ...).
func (m *Member) Name() string { return m.name }

// Endpoint returns the member's client URL ("unix:///.../m0.sock").
func (m *Member) Endpoint() string { return "unix://" + m.clientURL.Path }

// PeerURL returns the member's peer URL.
func (m *Member) PeerURL() string { return m.peerURL.String() }

// Etcd returns the running embedded server, or nil while stopped.
func (m *Member) Etcd() *embed.Etcd {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.etcd
}

// Running reports whether the member is started.
func (m *Member) Running() bool { return m.Etcd() != nil }

// Client returns a client of this member only, closed at t's cleanup.
func (m *Member) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	return newClient(t, m.cluster.ClientConfig(m.Endpoint()))
}

// Stop stops the member, as a crash would after its last write reached the
// (unsynced) disk; its data stays. Stop is idempotent.
func (m *Member) Stop() {
	m.mu.Lock()
	e := m.etcd
	m.etcd = nil
	m.mu.Unlock()
	if e == nil {
		return
	}
	e.Close()
	<-e.Server.StopNotify()
}

// Restart starts a stopped member again on its data and addresses and
// waits until it is ready. Restarting a running member is an error.
func (m *Member) Restart(ctx context.Context) error {
	m.mu.Lock()
	running := m.etcd != nil
	m.mu.Unlock()
	if running {
		return fmt.Errorf("etcdtest: restart member %s: already running", m.name)
	}
	// A member with data ignores the initial cluster, but embed validates it.
	initial := make([]string, len(m.cluster.members))
	for i, o := range m.cluster.members {
		initial[i] = o.name + "=" + o.peerURL.String()
	}
	cfg := m.config(strings.Join(initial, ","))
	cfg.ClusterState = embed.ClusterStateFlagExisting
	_ = os.Remove(m.clientURL.Path)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("etcdtest: restart member %s: %w", m.name, err)
	}
	m.setEtcd(e)
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	if err := m.waitReady(ctx); err != nil {
		m.Stop()
		return fmt.Errorf("etcdtest: restart: %w", err)
	}
	return nil
}

// IsTooLarge reports whether err is etcd's answer to a Txn past the
// members' max-txn-ops or max-request-bytes.
func IsTooLarge(err error) bool {
	return errors.Is(err, rpctypes.ErrTooManyOps) || errors.Is(err, rpctypes.ErrRequestTooLarge) ||
		errors.Is(err, rpctypes.ErrGRPCTooManyOps) || errors.Is(err, rpctypes.ErrGRPCRequestTooLarge)
}
