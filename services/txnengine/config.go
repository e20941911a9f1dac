package txnengine

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// Defaults of Config, as NewConfig sets them.
const (
	DefaultPrefix             = "ovsdb"
	DefaultService            = "default"
	DefaultListen             = "127.0.0.1:6650"
	DefaultLeaseTTL           = 5 * time.Second
	DefaultCompactionInterval = 5 * time.Minute
	// DefaultHistoryWindow is the number of revisions compaction keeps,
	// at least the monitorhub's history window (issue 5: 10,000 txns).
	DefaultHistoryWindow = 20000
	// DefaultMaxBatchOps and DefaultMaxBatchBytes bound what group commit
	// adds to a batch; one transaction alone may go past them up to the
	// cluster's limits (DefaultMaxTxnOps, DefaultMaxRequestBytes).
	DefaultMaxBatchOps     = 2048
	DefaultMaxBatchBytes   = 1 << 20
	DefaultMaxTxnOps       = 100000
	DefaultMaxRequestBytes = 64 << 20
	DefaultCommitTimeout   = 10 * time.Second
	DefaultDialTimeout     = 5 * time.Second
	DefaultQueueLength     = 4096
)

// Config configures an Engine (New) and the txnengine service (Run).
type Config struct {
	// EtcdEndpoints are used when EtcdClient is nil.
	EtcdEndpoints []string
	// EtcdClient, when set, is used as is and not closed by the Engine.
	EtcdClient *clientv3.Client

	Prefix  string
	Service string
	// SchemaFiles are the databases served, one schema file each.
	SchemaFiles []string

	// Listen is the gRPC address: "unix:PATH" or "host:port".
	Listen string
	// Advertise is the address other processes dial to reach this engine
	// when it leads; it is the election value. Empty means Listen.
	Advertise string

	LeaseTTL           time.Duration
	CompactionInterval time.Duration // 0 disables compaction
	HistoryWindow      int64         // revisions kept by compaction

	MaxBatchOps     int
	MaxBatchBytes   int
	MaxTxnOps       int // the etcd cluster's --max-txn-ops
	MaxRequestBytes int // the etcd cluster's --max-request-bytes

	CommitTimeout time.Duration
	DialTimeout   time.Duration
	QueueLength   int

	Logger *slog.Logger
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// TracerProvider makes the commit-stage spans; nil: otel's global.
	TracerProvider trace.TracerProvider
	// ServerOptions are added to the gRPC server Run creates (interceptors,
	// stats handlers, message limits).
	ServerOptions []grpc.ServerOption
	// NewEtcdClient connects a client to the given endpoints; the engine
	// uses it for a client pinned to the etcd leader (commits). nil: a
	// plain clientv3.New with DialTimeout and the message limits.
	NewEtcdClient func(endpoints []string) (*clientv3.Client, error)
}

// newEtcdClient connects to endpoints with NewEtcdClient, or a plain
// client if it is nil.
func (c *Config) newEtcdClient(endpoints []string) (*clientv3.Client, error) {
	if c.NewEtcdClient != nil {
		return c.NewEtcdClient(endpoints)
	}
	return clientv3.New(clientv3.Config{
		Endpoints:          endpoints,
		DialTimeout:        c.DialTimeout,
		MaxCallSendMsgSize: c.MaxRequestBytes + 1<<20,
		MaxCallRecvMsgSize: 1<<31 - 1,
	})
}

// NewConfig returns a Config with the defaults.
func NewConfig() Config {
	return Config{
		EtcdEndpoints:      []string{"http://127.0.0.1:2379"},
		Prefix:             DefaultPrefix,
		Service:            DefaultService,
		Listen:             DefaultListen,
		LeaseTTL:           DefaultLeaseTTL,
		CompactionInterval: DefaultCompactionInterval,
		HistoryWindow:      DefaultHistoryWindow,
		MaxBatchOps:        DefaultMaxBatchOps,
		MaxBatchBytes:      DefaultMaxBatchBytes,
		MaxTxnOps:          DefaultMaxTxnOps,
		MaxRequestBytes:    DefaultMaxRequestBytes,
		CommitTimeout:      DefaultCommitTimeout,
		DialTimeout:        DefaultDialTimeout,
		QueueLength:        DefaultQueueLength,
	}
}

// AddFlags registers the flags of the txnengine subcommand.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&c.EtcdEndpoints, "etcd-endpoints", c.EtcdEndpoints, "etcd client URLs (comma-separated)")
	fs.StringVar(&c.Prefix, "prefix", c.Prefix, "first element of every etcd key")
	fs.StringVar(&c.Service, "service", c.Service, "second element of every etcd key (one per OVN zone/database set)")
	fs.StringArrayVar(&c.SchemaFiles, "schema", c.SchemaFiles, "OVSDB schema file of a database to serve (repeatable)")
	fs.StringVar(&c.Listen, "listen", c.Listen, "gRPC listen address (unix:PATH or host:port)")
	fs.StringVar(&c.Advertise, "advertise", c.Advertise, "address others dial to reach this engine when leader (default: --listen)")
	fs.DurationVar(&c.LeaseTTL, "lease-ttl", c.LeaseTTL, "leader election lease TTL")
	fs.DurationVar(&c.CompactionInterval, "compaction-interval", c.CompactionInterval, "etcd compaction interval (0 disables)")
	fs.Int64Var(&c.HistoryWindow, "history-window", c.HistoryWindow, "etcd revisions kept by compaction (at least the monitorhub's history)")
	fs.IntVar(&c.MaxBatchOps, "max-batch-ops", c.MaxBatchOps, "group commit: etcd ops after which no more transactions join a batch")
	fs.IntVar(&c.MaxBatchBytes, "max-batch-bytes", c.MaxBatchBytes, "group commit: bytes after which no more transactions join a batch")
	fs.IntVar(&c.MaxTxnOps, "max-txn-ops", c.MaxTxnOps, "the etcd cluster's --max-txn-ops")
	fs.IntVar(&c.MaxRequestBytes, "max-request-bytes", c.MaxRequestBytes, "the etcd cluster's --max-request-bytes")
	fs.DurationVar(&c.CommitTimeout, "commit-timeout", c.CommitTimeout, "timeout of one etcd commit")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.EtcdClient == nil && len(c.EtcdEndpoints) == 0 {
		errs = append(errs, errors.New("no etcd endpoints"))
	}
	if c.Prefix == "" || strings.HasPrefix(c.Prefix, "/") {
		errs = append(errs, fmt.Errorf("invalid prefix %q", c.Prefix))
	}
	if c.Service == "" || strings.Contains(c.Service, "/") {
		errs = append(errs, fmt.Errorf("invalid service %q", c.Service))
	}
	if len(c.SchemaFiles) == 0 {
		errs = append(errs, errors.New("no --schema given"))
	}
	if c.Listen == "" && c.Advertise == "" {
		errs = append(errs, errors.New("no --listen or --advertise address"))
	}
	if c.LeaseTTL < time.Second {
		errs = append(errs, fmt.Errorf("lease TTL %v is under 1s", c.LeaseTTL))
	}
	if c.CompactionInterval < 0 || c.HistoryWindow < 0 {
		errs = append(errs, errors.New("negative compaction interval or history window"))
	}
	if c.MaxBatchOps <= 0 || c.MaxBatchBytes <= 0 || c.MaxTxnOps <= 0 || c.MaxRequestBytes <= 0 {
		errs = append(errs, errors.New("batch and etcd limits must be positive"))
	}
	if c.MaxBatchOps > c.MaxTxnOps || c.MaxBatchBytes > c.MaxRequestBytes {
		errs = append(errs, errors.New("batch limits exceed the etcd cluster's limits"))
	}
	if c.CommitTimeout <= 0 || c.DialTimeout <= 0 || c.QueueLength <= 0 {
		errs = append(errs, errors.New("timeouts and queue length must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("txnengine config: %w", err)
	}
	return nil
}

func (c *Config) advertise() string {
	if c.Advertise != "" {
		return c.Advertise
	}
	return c.Listen
}

func (c *Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// LogValue renders the effective configuration for the start-up log.
func (c Config) LogValue() slog.Value {
	endpoints := c.EtcdEndpoints
	if c.EtcdClient != nil {
		endpoints = c.EtcdClient.Endpoints()
	}
	return slog.GroupValue(
		slog.Any("etcd_endpoints", endpoints),
		slog.String("prefix", c.Prefix),
		slog.String("service", c.Service),
		slog.Any("schema", c.SchemaFiles),
		slog.String("listen", c.Listen),
		slog.String("advertise", c.advertise()),
		slog.Duration("lease_ttl", c.LeaseTTL),
		slog.Duration("compaction_interval", c.CompactionInterval),
		slog.Int64("history_window", c.HistoryWindow),
		slog.Int("max_batch_ops", c.MaxBatchOps),
		slog.Int("max_batch_bytes", c.MaxBatchBytes),
		slog.Int("max_txn_ops", c.MaxTxnOps),
		slog.Int("max_request_bytes", c.MaxRequestBytes),
	)
}
