package monitorhub

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/listen"
	monitorhubv1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/monitorhub/v1"
)

// gracefulStopTimeout bounds how long Run waits for streams to end.
const gracefulStopTimeout = 5 * time.Second

// Register adds the hub's MonitorHubService to a gRPC server.
func (h *Hub) Register(r grpc.ServiceRegistrar) {
	monitorhubv1.RegisterMonitorHubServiceServer(r, &server{h: h})
}

// server is the thin gRPC layer: decode, call the hub, map errors.
type server struct {
	monitorhubv1.UnimplementedMonitorHubServiceServer
	h *Hub
}

func (s *server) Watch(req *monitorhubv1.WatchRequest, stream grpc.ServerStreamingServer[monitorhubv1.WatchResponse]) error {
	err := s.h.serve(stream.Context(), req.GetDatabase(), req.GetStartRevision(), grpcSender{stream: stream, omitOld: req.GetOmitOld()})
	if ce, ok := errors.AsType[*SubscriberClosedError](err); ok {
		stream.SetTrailer(lastRevTrailer(ce.LastRev))
	}
	return toStatus(err)
}

func (s *server) Status(_ context.Context, _ *monitorhubv1.StatusRequest) (*monitorhubv1.StatusResponse, error) {
	resp := &monitorhubv1.StatusResponse{}
	for _, st := range s.h.Status() {
		resp.Databases = append(resp.Databases, &monitorhubv1.DatabaseStatus{
			Database: st.Name, Revision: st.Rev, OldestRevision: st.OldestRev,
		})
	}
	return resp, nil
}

// grpcSender writes a subscription to a Watch stream.
type grpcSender struct {
	stream  grpc.ServerStreamingServer[monitorhubv1.WatchResponse]
	omitOld bool
}

func (g grpcSender) snapshot(rev int64, rows []Row, last bool) error {
	pr := make([]*monitorhubv1.Row, len(rows))
	for i, r := range rows {
		pr[i] = &monitorhubv1.Row{Table: r.Table, Uuid: r.UUID, Value: r.Value}
	}
	return g.stream.Send(&monitorhubv1.WatchResponse{Event: &monitorhubv1.WatchResponse_Snapshot{
		Snapshot: &monitorhubv1.Snapshot{Revision: rev, Rows: pr, Last: last},
	}})
}

func (g grpcSender) update(u *Update) error { return g.stream.Send(u.wire(g.omitOld)) }

func (g grpcSender) progress(rev int64) error {
	return g.stream.Send(&monitorhubv1.WatchResponse{Event: &monitorhubv1.WatchResponse_Progress{
		Progress: &monitorhubv1.Progress{Revision: rev},
	}})
}

// Run runs the monitorhub service until ctx ends: it connects to etcd
// (unless cfg.EtcdClient is set), starts a Hub and serves it on
// cfg.Listen. With no cfg.ServerOptions the server gets an otelgrpc stats
// handler and no send limit; callers that pass options pass all of them.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.logger()
	log.Info("starting monitorhub", "config", cfg)
	cli := cfg.EtcdClient
	if cli == nil {
		var err error
		cli, err = clientv3.New(clientv3.Config{
			Endpoints:          cfg.EtcdEndpoints,
			DialTimeout:        cfg.DialTimeout,
			MaxCallRecvMsgSize: math.MaxInt32,
			Context:            ctx,
		})
		if err != nil {
			return fmt.Errorf("connect to etcd %v: %w", cfg.EtcdEndpoints, err)
		}
		defer cli.Close()
	}
	h, err := New(cfg, cli)
	if err != nil {
		return err
	}
	defer h.Close()
	lis, err := Listen(cfg.Listen)
	if err != nil {
		return err
	}
	opts := cfg.ServerOptions
	if opts == nil {
		opts = []grpc.ServerOption{
			grpc.StatsHandler(otelgrpc.NewServerHandler()),
			grpc.MaxSendMsgSize(math.MaxInt32),
		}
	}
	srv := grpc.NewServer(opts...)
	h.Register(srv)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(lis) }()
	log.Info("monitorhub serving", "listen", cfg.Listen)
	var runErr error
	served := false
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		served = true
		runErr = fmt.Errorf("serve gRPC on %s: %w", cfg.Listen, err)
	}
	// Closing the hub first ends every Watch stream with Unavailable, so
	// that GracefulStop does not wait on them.
	h.Close()
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	t := time.NewTimer(gracefulStopTimeout)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		srv.Stop()
		<-stopped
	}
	if !served {
		// Serve returns once the server stopped: nil after GracefulStop
		// or Stop, an error only if it failed on its own meanwhile.
		if err := <-serveErr; err != nil {
			runErr = fmt.Errorf("serve gRPC on %s: %w", cfg.Listen, err)
		}
	}
	return runErr
}

// Listen opens a gRPC listener for "unix:PATH" (replacing a stale socket)
// or "host:port".
func Listen(addr string) (net.Listener, error) {
	return listen.Addr(addr)
}
