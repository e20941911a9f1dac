package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ovsdb-etcd/ovsdb-etcd/services/txnengine"
)

// Default limits of the embedded etcd (DESIGN.md "etcd limits"): large
// enough that ovn-northd's first sync (10,000+ rows, 8+ MiB in one OVSDB
// transaction) commits as one etcd Txn. They are the txnengine's defaults;
// all-in-one's --max-txn-ops and --max-request-bytes change both.
const (
	embeddedMaxTxnOps       = txnengine.DefaultMaxTxnOps
	embeddedMaxRequestBytes = txnengine.DefaultMaxRequestBytes
	embeddedReadyTimeout    = 60 * time.Second
	// maxUnixSocketPath is the longest path bind(2) accepts for a unix
	// socket (sun_path is 108 bytes including the NUL), with a margin.
	maxUnixSocketPath = 100
)

// embeddedEtcd is the single-member etcd that all-in-one runs with
// --data-dir. Its client and peer listeners are unix sockets inside the data
// directory when the path is short enough, otherwise free loopback ports, so
// that instances never collide.
type embeddedEtcd struct {
	etcd      *embed.Etcd
	endpoints []string
	// closing silences etcd's log while Close runs: etcd reports each
	// listener it closes as an error ("setting up serving from embedded
	// etcd failed"), which on a clean shutdown is noise.
	closing *atomic.Bool
}

// quietOnClose is a zap core that drops entries once closing is set.
type quietOnClose struct {
	zapcore.Core
	closing *atomic.Bool
}

func (q quietOnClose) With(fields []zapcore.Field) zapcore.Core {
	return quietOnClose{Core: q.Core.With(fields), closing: q.closing}
}

func (q quietOnClose) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if q.closing.Load() {
		return ce
	}
	return q.Core.Check(e, ce)
}

// etcdLogger logs etcd's errors as JSON lines on stderr, as etcd does by
// default, until closing is set.
func etcdLogger(closing *atomic.Bool) *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	core := zapcore.NewCore(enc, zapcore.Lock(os.Stderr), zapcore.ErrorLevel)
	return zap.New(quietOnClose{Core: core, closing: closing})
}

// freeLoopbackURL returns an http URL on a loopback port that was free a
// moment ago.
func freeLoopbackURL() (url.URL, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return url.URL{}, fmt.Errorf("find a free loopback port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return url.URL{}, fmt.Errorf("find a free loopback port: %w", err)
	}
	return url.URL{Scheme: "http", Host: addr}, nil
}

// listenURL chooses the URL of one embedded etcd listener.
func listenURL(dir, name string) (url.URL, error) {
	p := filepath.Join(dir, name)
	if len(p) <= maxUnixSocketPath {
		// A socket left by a killed process would make bind fail.
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return url.URL{}, fmt.Errorf("remove stale socket %q: %w", p, err)
		}
		return url.URL{Scheme: "unix", Path: p}, nil
	}
	return freeLoopbackURL()
}

// startEmbeddedEtcd starts etcd with its data in dataDir/etcd and the given
// --max-txn-ops and --max-request-bytes, and waits until it serves clients
// or ctx ends.
func startEmbeddedEtcd(ctx context.Context, log *slog.Logger, dataDir string, maxTxnOps, maxRequestBytes int) (*embeddedEtcd, error) {
	if maxTxnOps <= 0 || maxRequestBytes <= 0 {
		return nil, fmt.Errorf("embedded etcd limits must be positive (max-txn-ops %d, max-request-bytes %d)", maxTxnOps, maxRequestBytes)
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("resolve --data-dir %q: %w", dataDir, err)
	}
	if err = os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("create --data-dir %q: %w", abs, err)
	}
	clientURL, err := listenURL(abs, "etcd-client.sock")
	if err != nil {
		return nil, err
	}
	peerURL, err := listenURL(abs, "etcd-peer.sock")
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = "ovsdb-etcd"
	cfg.Dir = filepath.Join(abs, "etcd")
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.Name + "=" + peerURL.String()
	cfg.ClusterState = embed.ClusterStateFlagNew
	cfg.MaxTxnOps = uint(maxTxnOps)
	cfg.MaxRequestBytes = uint(maxRequestBytes)
	closing := &atomic.Bool{}
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(etcdLogger(closing))
	// The metrics of the embedded etcd are served on its client listener;
	// ours go to --metrics-listen.

	log.Info("starting embedded etcd", "dir", cfg.Dir, "client_url", clientURL.String())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd in %q: %w", cfg.Dir, err)
	}
	timer := time.NewTimer(embeddedReadyTimeout)
	defer timer.Stop()
	fail := func(err error) (*embeddedEtcd, error) {
		closing.Store(true)
		e.Close()
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return fail(fmt.Errorf("start embedded etcd in %q: %w", cfg.Dir, err))
	case <-timer.C:
		return fail(fmt.Errorf("start embedded etcd in %q: not ready after %v", cfg.Dir, embeddedReadyTimeout))
	case <-ctx.Done():
		return fail(fmt.Errorf("start embedded etcd: %w", ctx.Err()))
	}
	ep := clientURL.String()
	if clientURL.Scheme == "unix" {
		// grpc's resolver takes unix:///abs/path.
		ep = "unix://" + clientURL.Path
	}
	return &embeddedEtcd{etcd: e, endpoints: []string{ep}, closing: closing}, nil
}

// Err reports a fatal error of the running etcd.
func (e *embeddedEtcd) Err() <-chan error { return e.etcd.Err() }

// Close stops etcd and waits for it.
func (e *embeddedEtcd) Close() {
	e.closing.Store(true)
	e.etcd.Close()
}
