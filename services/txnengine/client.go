package txnengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	txnenginev1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/txnengine/v1"
)

// Defaults of ClientConfig.
const (
	DefaultClientMaxAttempts   = 20
	DefaultClientLookupTimeout = 2 * time.Second
	DefaultClientMaxBackoff    = time.Second
)

// ClientConfig configures a Client.
type ClientConfig struct {
	Prefix  string
	Service string
	// MaxAttempts bounds how often one Transact is sent; only attempts that
	// provably did not run are repeated.
	MaxAttempts   int
	LookupTimeout time.Duration
	MaxBackoff    time.Duration
	// DialOptions are added after the defaults (insecure transport,
	// otelgrpc stats handler, large message limits).
	DialOptions []grpc.DialOption
	Logger      *slog.Logger
}

// NewClientConfig returns a ClientConfig with the defaults.
func NewClientConfig() ClientConfig {
	return ClientConfig{
		Prefix:        DefaultPrefix,
		Service:       DefaultService,
		MaxAttempts:   DefaultClientMaxAttempts,
		LookupTimeout: DefaultClientLookupTimeout,
		MaxBackoff:    DefaultClientMaxBackoff,
	}
}

// Client sends transactions to the txnengine leader, found through the
// election keys in etcd, and follows it across failovers. It is safe for
// concurrent use.
type Client struct {
	etcd     *clientv3.Client
	election string
	cfg      ClientConfig
	log      *slog.Logger

	// lifetime ends at Close: observeLoop (tracked by wg) and the
	// transaction streams live until then.
	lifetime context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	// streamMu guards streams: the TransactStream to each address, which
	// every Transact there shares (stream_client.go).
	streamMu sync.Mutex
	streams  map[string]*txnStream

	mu sync.Mutex
	// mu guards leader (the address believed to lead, "" when unknown),
	// conns (one connection per address ever dialled) and closed.
	leader string
	conns  map[string]*grpc.ClientConn
	closed bool
}

// NewClient returns a Client that finds the leader through etcdClient. It
// looks the leader up once, without failing when none is elected yet.
func NewClient(ctx context.Context, etcdClient *clientv3.Client, cfg ClientConfig) (*Client, error) {
	l, err := keys.New(cfg.Prefix, cfg.Service)
	if err != nil {
		return nil, fmt.Errorf("txnengine client config: %w", err)
	}
	if cfg.MaxAttempts <= 0 || cfg.LookupTimeout <= 0 || cfg.MaxBackoff <= 0 {
		return nil, errors.New("txnengine client config: attempts, lookup timeout and backoff must be positive")
	}
	c := &Client{
		etcd:     etcdClient,
		election: l.Election(),
		cfg:      cfg,
		log:      cfg.Logger,
		conns:    make(map[string]*grpc.ClientConn),
		streams:  make(map[string]*txnStream),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	_, rev, err := c.lookup(ctx)
	if err != nil {
		c.log.Debug("txnengine leader lookup", "err", err)
	}
	octx, cancel := context.WithCancel(context.Background())
	c.lifetime, c.cancel = octx, cancel
	c.wg.Add(1)
	go c.observeLoop(octx, rev)
	return c, nil
}

// observeLoop follows the election as concurrency.Election.Observe does
// (without a session of its own): on every change of the election keys it
// looks the leader up again, so that after a failover the next request goes
// straight to the new leader. Errors only make requests find the leader
// the slow way (a NOT_LEADER answer), so they are logged at Debug.
func (c *Client) observeLoop(ctx context.Context, rev int64) {
	defer c.wg.Done()
	for ctx.Err() == nil {
		opts := []clientv3.OpOption{clientv3.WithPrefix()}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev+1))
		}
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for resp := range c.etcd.Watch(wctx, c.election+"/", opts...) {
			if err := resp.Err(); err != nil {
				c.log.Debug("watch txnengine election", "err", err)
				break
			}
			if len(resp.Events) == 0 {
				continue
			}
			if _, _, err := c.lookup(ctx); err != nil {
				c.log.Debug("txnengine leader lookup", "err", err)
			}
		}
		cancel()
		rev = 0 // resume from the present after a broken watch
		if _, r, err := c.lookup(ctx); err == nil {
			rev = r
		}
		t := time.NewTimer(c.cfg.MaxBackoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// Close stops following the election, ends the transaction streams and
// closes every connection. It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed = true // no stream opens from now on (streamTo checks)
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.streamMu.Lock()
	for _, t := range c.streams {
		<-t.done // its context ended with c.cancel
	}
	c.streams = nil
	c.streamMu.Unlock()
	if already {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, cc := range c.conns {
		errs = append(errs, cc.Close())
	}
	c.conns = nil
	return errors.Join(errs...)
}

// Transact sends req to the leader, over one TransactStream per engine
// that all transactions share. It sends it again, to whoever leads
// then, only when the failure proves that it did not run: an Unavailable
// "not leader" / "leadership lost" answer from an engine, or a connection
// that could not be established. Any other error, including a connection
// lost after sending, is returned as is: the transaction may have
// committed.
func (c *Client) Transact(ctx context.Context, req *txnenginev1.TransactRequest) (*txnenginev1.TransactResponse, error) {
	var lastErr error
	backoff := 20 * time.Millisecond
	for attempt := 0; attempt < c.cfg.MaxAttempts; attempt++ {
		addr, rev, err := c.current(ctx)
		if err != nil {
			return nil, err
		}
		if addr != "" {
			cc, err := c.conn(addr)
			if err != nil {
				return nil, err
			}
			resp, err := c.streamTransact(ctx, addr, cc, req)
			if err == nil {
				return resp, nil
			}
			hint, notRun := notExecuted(err)
			if !notRun && !dialFailure(err) {
				return nil, err
			}
			lastErr = err
			c.log.Debug("txnengine did not run the transaction; retrying", "peer", addr, "err", err)
			c.forget(addr, hint)
			if hint != "" && hint != addr {
				continue
			}
		} else {
			lastErr = status.Error(codes.Unavailable, ErrNotLeader.Error()+"; no leader elected")
		}
		if err := c.waitChange(ctx, rev, backoff); err != nil {
			return nil, errors.Join(lastErr, err)
		}
		backoff = min(2*backoff, c.cfg.MaxBackoff)
	}
	return nil, lastErr
}

// current returns the believed leader, looking it up when unknown; rev is
// the etcd revision of the lookup (0 when cached).
func (c *Client) current(ctx context.Context) (string, int64, error) {
	c.mu.Lock()
	addr, closed := c.leader, c.closed
	c.mu.Unlock()
	if closed {
		return "", 0, ErrClosed
	}
	if addr != "" {
		return addr, 0, nil
	}
	return c.lookup(ctx)
}

func (c *Client) lookup(ctx context.Context) (string, int64, error) {
	lctx, cancel := context.WithTimeout(ctx, c.cfg.LookupTimeout)
	defer cancel()
	resp, err := c.etcd.Get(lctx, c.election+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		if ctx.Err() != nil {
			return "", 0, ctx.Err()
		}
		// etcd unreachable for now: behave as "no leader known".
		c.log.Debug("look up txnengine leader", "err", err)
		return "", 0, nil
	}
	addr := ""
	if len(resp.Kvs) > 0 {
		addr = string(resp.Kvs[0].Value)
	}
	c.mu.Lock()
	c.leader = addr
	c.mu.Unlock()
	return addr, resp.Header.Revision, nil
}

// forget drops addr as the believed leader, taking hint instead.
func (c *Client) forget(addr, hint string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leader == addr {
		c.leader = ""
		if hint != addr {
			c.leader = hint
		}
	}
}

func (c *Client) conn(addr string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if cc, ok := c.conns[addr]; ok {
		return cc, nil
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)),
	}
	opts = append(opts, c.cfg.DialOptions...)
	cc, err := grpc.NewClient(target(addr), opts...)
	if err != nil {
		return nil, fmt.Errorf("dial txnengine %s: %w", addr, err)
	}
	c.conns[addr] = cc
	return cc, nil
}

// target turns a --listen style address into a gRPC target.
func target(addr string) string {
	if strings.HasPrefix(addr, "unix:") {
		return addr
	}
	return "passthrough:///" + addr
}

// waitChange waits until the election keys change after rev, or for
// backoff, whichever comes first.
func (c *Client) waitChange(ctx context.Context, rev int64, backoff time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, backoff)
	defer cancel()
	if rev > 0 {
		wch := c.etcd.Watch(clientv3.WithRequireLeader(wctx), c.election+"/", clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		select {
		case <-wch:
		case <-wctx.Done():
		}
	} else {
		<-wctx.Done()
	}
	return ctx.Err()
}

// dialFailure reports whether err says the RPC failed because no
// connection could be established, so it was never sent.
func dialFailure(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return false
	}
	msg := st.Message()
	return strings.Contains(msg, "while dialing") || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "no such file or directory")
}
