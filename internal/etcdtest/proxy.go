package etcdtest

import (
	"net/url"
	"path/filepath"
	"sync"
	"testing"

	"go.etcd.io/etcd/pkg/v3/proxy"
	"go.uber.org/zap"
)

// Proxy forwards a unix socket to one member's client socket through
// go.etcd.io/etcd/pkg/v3/proxy, to inject faults between a client and etcd:
// BlackholeRx drops the member's responses (a Txn that applies but whose
// answer never arrives), PauseTx holds requests back, DelayRx adds latency.
// Clients built with ClientConfig(p.Endpoint()) use keepalives, so they
// drop a connection whose responses are blackholed and dial again.
type Proxy struct {
	proxy.Server

	endpoint  string
	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// NewProxy starts a proxy to m and closes it at t's cleanup. Close clients
// that use it first (a client created after the proxy is, by cleanup
// order).
func NewProxy(t testing.TB, m *Member) *Proxy {
	t.Helper()
	dir, err := shortTempDir(t)
	if err != nil {
		t.Fatalf("etcdtest: proxy: %v", err)
	}
	sock := filepath.Join(dir, "proxy.sock")
	s := proxy.NewServer(proxy.ServerConfig{
		Logger: zap.NewNop(),
		// proxy listens on and dials Host as given for unix URLs.
		From: url.URL{Scheme: "unix", Host: sock},
		To:   url.URL{Scheme: "unix", Host: m.clientURL.Path},
	})
	p := &Proxy{Server: s, endpoint: "unix://" + sock, stop: make(chan struct{})}
	select {
	case <-s.Ready():
	case err := <-s.Error():
		_ = s.Close()
		t.Fatalf("etcdtest: proxy to %s: %v", m.name, err)
	}
	// The proxy reports accept and dial errors on a small buffered channel
	// and blocks when nobody reads it, so drain it until Close.
	p.wg.Go(func() {
		for {
			select {
			case <-p.stop:
				return
			case err := <-s.Error():
				// Accept and dial errors are expected while the
				// member is stopped; the client sees the failure.
				_ = err
			}
		}
	})
	t.Cleanup(p.Close)
	return p
}

// Endpoint returns the client URL of the proxy.
func (p *Proxy) Endpoint() string { return p.endpoint }

// Close stops the proxy and its error drain; it is idempotent. It lifts
// pauses first, so that no forwarding goroutine stays blocked.
func (p *Proxy) Close() {
	p.closeOnce.Do(func() {
		p.UnpauseTx()
		p.UnpauseRx()
		p.UnpauseAccept()
		_ = p.Server.Close()
		close(p.stop)
		p.wg.Wait()
	})
}
