package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// metricsShutdownTimeout bounds how long the metrics endpoint and the trace
// exporter may take to flush on shutdown.
const metricsShutdownTimeout = 5 * time.Second

// obsConfig holds the process-wide observability flags shared by every role.
type obsConfig struct {
	LogLevel      string
	LogFormat     string
	MetricsListen string
	OTLPEndpoint  string
}

func (c *obsConfig) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.MetricsListen, "metrics-listen", "", "address (host:port) of an HTTP endpoint serving /metrics; empty disables it")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", "", "OTLP/gRPC collector (host:port) to export traces to; empty keeps traces in process")
}

// observability is what every role gets: one logger, one registry, one
// tracer provider and the gRPC metric collectors registered on it.
type observability struct {
	log           *slog.Logger
	registry      *prometheus.Registry
	tracer        trace.TracerProvider
	propagator    propagation.TextMapPropagator
	serverMetrics *grpcprom.ServerMetrics
	clientMetrics *grpcprom.ClientMetrics

	mu      sync.Mutex // mu guards closers
	closers []func(context.Context) error
	wg      sync.WaitGroup
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToLower(s))); err != nil {
		return 0, fmt.Errorf("parse --log-level %q: %w", s, err)
	}
	return l, nil
}

// start builds the observability of one process. The returned value must be
// closed; close stops the metrics endpoint and flushes traces.
func (c *obsConfig) start(ctx context.Context, role string) (*observability, error) {
	level, err := parseLevel(c.LogLevel)
	if err != nil {
		return nil, err
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch c.LogFormat {
	case "text", "":
		h = slog.NewTextHandler(os.Stderr, hopts)
	case "json":
		h = slog.NewJSONHandler(os.Stderr, hopts)
	default:
		return nil, fmt.Errorf("parse --log-format %q: want text or json", c.LogFormat)
	}
	o := &observability{
		log:        slog.New(h).With("role", role),
		registry:   prometheus.NewRegistry(),
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	o.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	o.serverMetrics = newGRPCServerMetrics()
	o.clientMetrics = newGRPCClientMetrics()
	o.registry.MustRegister(o.serverMetrics, o.clientMetrics)

	tpOpts := []sdktrace.TracerProviderOption{}
	if c.OTLPEndpoint != "" {
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(c.OTLPEndpoint), otlptracegrpc.WithInsecure())
		if err != nil {
			return nil, fmt.Errorf("start OTLP trace exporter %q: %w", c.OTLPEndpoint, err)
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	} else {
		// Without an exporter no span leaves the process, so recording
		// them is pure cost on the hot path (otelgrpc starts several per
		// transaction: issue 6 profiles). Trace context still propagates,
		// so a caller's sampled trace is continued.
		tpOpts = append(tpOpts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	o.tracer = tp
	o.addCloser(tp.Shutdown)

	if c.MetricsListen != "" {
		if err := o.serveMetrics(c.MetricsListen); err != nil {
			_ = o.close()
			return nil, err
		}
	}
	return o, nil
}

func (o *observability) addCloser(f func(context.Context) error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closers = append(o.closers, f)
}

// serveMetrics starts the /metrics and /debug/pprof/ endpoints; its goroutine is owned by o and
// stopped by close.
func (o *observability) serveMetrics(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for metrics on %q: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(o.registry, promhttp.HandlerOpts{Registry: o.registry}))
	// Profiles for finding what a slow pipeline waits on (issue 6); the
	// endpoint is opt-in (--metrics-listen) and meant for loopback.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	o.wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.log.Error("metrics endpoint stopped", "err", err)
		}
	})
	o.addCloser(srv.Shutdown)
	o.log.Info("serving metrics", "addr", ln.Addr().String())
	return nil
}

// close stops everything start started, in reverse order.
func (o *observability) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), metricsShutdownTimeout)
	defer cancel()
	o.mu.Lock()
	closers := o.closers
	o.closers = nil
	o.mu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		errs = append(errs, closers[i](ctx))
	}
	o.wg.Wait()
	return errors.Join(errs...)
}
