package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// TestGRPCOptions serves the gRPC health service with serverOptions over a
// unix socket and calls it with dialOptions: the server span must continue
// the client's trace (as frontend -> txnengine does), and the RPC metrics
// of both sides must count the call.
func TestGRPCOptions(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	o := &observability{
		log:           slog.New(slog.DiscardHandler),
		registry:      prometheus.NewRegistry(),
		tracer:        tp,
		propagator:    propagation.TraceContext{},
		serverMetrics: newGRPCServerMetrics(),
		clientMetrics: newGRPCClientMetrics(),
	}
	o.registry.MustRegister(o.serverMetrics, o.clientMetrics)

	sock := filepath.Join(t.TempDir(), "g.sock")
	if len(sock) > maxUnixSocketPath {
		sock = filepath.Join("/tmp", filepath.Base(t.TempDir())+".sock")
	}
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(o.serverOptions()...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- serveGRPC(ctx, srv, lis) }()

	conn, err := grpc.NewClient("unix:"+sock, append(o.dialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	tracer := tp.Tracer("test")
	callCtx, parent := tracer.Start(t.Context(), "caller")
	_, err = healthpb.NewHealthClient(conn).Check(callCtx, &healthpb.HealthCheckRequest{})
	parent.End()
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	conn.Close()
	cancel()
	if err = <-served; err != nil {
		t.Fatalf("serveGRPC: %v", err)
	}

	traceID := parent.SpanContext().TraceID()
	var kinds []trace.SpanKind
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID() == traceID {
			kinds = append(kinds, s.SpanKind())
		}
	}
	if len(kinds) != 3 {
		t.Errorf("trace %s has spans of kinds %v, want caller, client and server", traceID, kinds)
	}
	mfs, err := o.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, mf := range mfs {
		found[mf.GetName()] = len(mf.GetMetric()) > 0
	}
	for _, name := range []string{"grpc_server_handled_total", "grpc_client_handled_total"} {
		if !found[name] {
			t.Errorf("metric %s has no series", name)
		}
	}
}

func TestErrorCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{name: "nil", err: nil, want: codes.OK},
		{name: "canceled", err: context.Canceled, want: codes.Canceled},
		{name: "wrapped deadline", err: fmt.Errorf("watch: %w", context.DeadlineExceeded), want: codes.DeadlineExceeded},
		{name: "status", err: status.Error(codes.Unavailable, "not leader"), want: codes.Unavailable},
		{name: "other", err: errors.New("boom"), want: codes.Unknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorCode(tc.err); got != tc.want {
				t.Errorf("errorCode(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
