package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovsdb-etcd/ovsdb-etcd/services/txnengine"
)

// maxGRPCMessageBytes bounds one internal gRPC message. It is above the
// embedded etcd's MaxRequestBytes so that any transaction etcd could commit
// also fits between the roles (DESIGN.md "etcd limits").
const maxGRPCMessageBytes = embeddedMaxRequestBytes + 1<<20

// grpcShutdownTimeout bounds a graceful stop of a gRPC server.
const grpcShutdownTimeout = 5 * time.Second

// serveGRPC serves srv on lis until ctx ends, then stops it gracefully
// (forcefully after grpcShutdownTimeout).
func serveGRPC(ctx context.Context, srv *grpc.Server, lis net.Listener) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(lis) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve gRPC on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	t := time.NewTimer(grpcShutdownTimeout)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		srv.Stop()
		<-stopped
	}
	// Serve returns nil after GracefulStop or Stop.
	return <-serveErr
}

func newGRPCServerMetrics() *grpcprom.ServerMetrics {
	return grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram())
}

func newGRPCClientMetrics() *grpcprom.ClientMetrics {
	return grpcprom.NewClientMetrics(grpcprom.WithClientHandlingTimeHistogram())
}

// slogLogger adapts slog to the go-grpc-middleware logging interface
// (go-grpc-middleware examples/server/main.go).
func slogLogger(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}

// errorCode is the code the logging interceptors report for err: a bare
// context error (a stream ended because its caller went away or the
// process shuts down) is Canceled or DeadlineExceeded, not Unknown.
func errorCode(err error) codes.Code {
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return status.Code(err)
}

// serverOptions returns the options every gRPC server of a role is built
// with: prometheus metrics, request logging at Debug (finish only), panic
// recovery that turns a panic into codes.Internal, and an otelgrpc stats
// handler so traces continue from the caller.
func (o *observability) serverOptions() []grpc.ServerOption {
	logOpts := []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall),
		logging.WithCodes(errorCode),
		logging.WithLevels(func(c codes.Code) logging.Level {
			if c == codes.OK || c == codes.Canceled || c == codes.Unavailable {
				return logging.LevelDebug
			}
			return logging.DefaultServerCodeToLevel(c)
		}),
	}
	recov := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		o.log.ErrorContext(ctx, "panic in gRPC handler", "panic", fmt.Sprint(p))
		return status.Errorf(codes.Internal, "internal error: %v", p)
	})
	lg := slogLogger(o.log)
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxGRPCMessageBytes),
		grpc.MaxSendMsgSize(math.MaxInt32),
		grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(o.tracer), otelgrpc.WithPropagators(o.propagator))),
		grpc.ChainUnaryInterceptor(
			o.serverMetrics.UnaryServerInterceptor(),
			logging.UnaryServerInterceptor(lg, logOpts...),
			recovery.UnaryServerInterceptor(recov),
		),
		grpc.ChainStreamInterceptor(
			o.serverMetrics.StreamServerInterceptor(),
			logging.StreamServerInterceptor(lg, logOpts...),
			recovery.StreamServerInterceptor(recov),
		),
	}
}

// dialOptions returns the options of every gRPC client connection between
// roles: metrics, Debug logging, otelgrpc, and message limits that match
// serverOptions. Transport credentials are added by the caller.
func (o *observability) dialOptions() []grpc.DialOption {
	lg := slogLogger(o.log)
	logOpts := []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall),
		logging.WithLevels(func(codes.Code) logging.Level { return logging.LevelDebug }),
	}
	unary := []grpc.UnaryClientInterceptor{o.clientMetrics.UnaryClientInterceptor()}
	stream := []grpc.StreamClientInterceptor{o.clientMetrics.StreamClientInterceptor()}
	// The client side logs only at Debug: below that level its
	// interceptor is pure cost on every call (issue 6 profiles).
	if o.log.Enabled(context.Background(), slog.LevelDebug) {
		unary = append(unary, logging.UnaryClientInterceptor(lg, logOpts...))
		stream = append(stream, logging.StreamClientInterceptor(lg, logOpts...))
	}
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(math.MaxInt32),
			grpc.MaxCallSendMsgSize(maxGRPCMessageBytes),
		),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(o.tracer), otelgrpc.WithPropagators(o.propagator))),
		grpc.WithChainUnaryInterceptor(unary...),
		grpc.WithChainStreamInterceptor(stream...),
	}
}

// etcdClientConfig is the configuration of every etcd client of a role:
// sends as large as the cluster's --max-request-bytes allows, unlimited
// receives, etcd's client log at error level only, plus dialOpts.
func etcdClientConfig(endpoints []string, maxRequestBytes int, dialOpts []grpc.DialOption) clientv3.Config {
	return clientv3.Config{
		Endpoints:          endpoints,
		DialTimeout:        txnengine.DefaultDialTimeout,
		MaxCallSendMsgSize: maxRequestBytes + 1<<20,
		MaxCallRecvMsgSize: math.MaxInt32,
		Logger:             zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.Lock(os.Stderr), zapcore.ErrorLevel)),
		DialOptions:        dialOpts,
	}
}

// newEtcdClient connects to etcd with an otelgrpc stats handler, so that
// traces continue from a role into etcd (frontend -> txnengine -> etcd).
func (o *observability) newEtcdClient(endpoints []string, maxRequestBytes int) (*clientv3.Client, error) {
	cli, err := clientv3.New(etcdClientConfig(endpoints, maxRequestBytes, []grpc.DialOption{
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(o.tracer), otelgrpc.WithPropagators(o.propagator))),
	}))
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %v: %w", endpoints, err)
	}
	return cli, nil
}
