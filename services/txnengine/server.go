package txnengine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/listen"
	txnenginev1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/txnengine/v1"
)

// shutdownTimeout bounds a graceful gRPC stop in Run.
const shutdownTimeout = 5 * time.Second

// server is the thin gRPC handler (decode, call, map errors).
type server struct {
	txnenginev1.UnimplementedTxnEngineServiceServer
	e *Engine
}

// Register adds the TxnEngineService, served by e, to r.
func (e *Engine) Register(r grpc.ServiceRegistrar) {
	txnenginev1.RegisterTxnEngineServiceServer(r, &server{e: e})
}

func (s *server) Transact(ctx context.Context, req *txnenginev1.TransactRequest) (*txnenginev1.TransactResponse, error) {
	resp, err := s.e.Transact(ctx, Request{
		Database:   req.GetDatabase(),
		Operations: req.GetOperations(),
		SessionID:  req.GetSessionId(),
		HeldLocks:  req.GetHeldLocks(),
		RequestID:  req.GetRequestId(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &txnenginev1.TransactResponse{Result: resp.Result, Revision: resp.Revision}, nil
}

// Listen opens a listener on addr: "unix:PATH" (a stale socket file is
// replaced) or "host:port".
func Listen(addr string) (net.Listener, error) {
	return listen.Addr(addr)
}

// Run runs a txnengine until ctx ends: it starts an Engine and serves its
// gRPC service on cfg.Listen.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	lis, err := Listen(cfg.Listen)
	if err != nil {
		return err
	}
	e, err := New(ctx, cfg)
	if err != nil {
		lis.Close()
		return err
	}
	opts := cfg.ServerOptions
	if len(opts) == 0 {
		opts = []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler()),
			grpc.MaxRecvMsgSize(cfg.MaxRequestBytes + 1<<20)}
	}
	srv := grpc.NewServer(opts...)
	e.Register(srv)
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		serveErr <- srv.Serve(lis)
	}()
	cfg.logger().Info("txnengine serving", "listen", cfg.Listen)
	select {
	case <-ctx.Done():
		err = nil
	case err = <-serveErr:
		err = fmt.Errorf("serve gRPC on %s: %w", cfg.Listen, err)
	}
	// Close the engine first so that pending RPCs get their answers, then
	// stop the server.
	cerr := e.Close()
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	t := time.NewTimer(shutdownTimeout)
	select {
	case <-stopped:
	case <-t.C:
		srv.Stop()
		<-stopped
	}
	t.Stop()
	wg.Wait()
	return errors.Join(err, cerr)
}
