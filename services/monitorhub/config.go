package monitorhub

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// Defaults of Config, as NewConfig sets them.
const (
	DefaultPrefix  = "ovsdb"
	DefaultService = "default"
	DefaultListen  = "127.0.0.1:6651"
	// DefaultHistoryMaxTxns is the number of updates (etcd revisions that
	// changed a database) kept per database for resuming (issue 5: at
	// least 10,000; ovsdb-server keeps about 100).
	DefaultHistoryMaxTxns = 10000
	// DefaultHistoryMaxBytes bounds the history of one database by the
	// size of the row values it holds (old and new) plus about 200 bytes
	// per changed row. 32 MiB holds 10,000 transactions of a few rows
	// each, or about 45,000 inserts (25,000 updates) of 500-byte rows,
	// while bounding what the history adds to the hub's memory: the
	// current rows of a 100,000-row database cost about 60 MB, and a
	// subscriber that falls further behind resumes from a snapshot.
	DefaultHistoryMaxBytes = 32 << 20
	// DefaultHistoryRebuildRevisions is how far back (in etcd revisions) a
	// starting hub reads so that frontends can resume across a hub
	// restart; it is capped by etcd's compaction.
	DefaultHistoryRebuildRevisions = 10000
	// DefaultSubscriberMaxLag is how many updates may pile up behind a
	// subscriber that had caught up before it is closed (resumably,
	// from the history).
	DefaultSubscriberMaxLag = DefaultHistoryMaxTxns / 2
	// DefaultProgressInterval is how often the hub asks etcd for a
	// progress notification, so idle databases still advance.
	DefaultProgressInterval = time.Second
	// DefaultDiscoveryInterval is how often the hub lists the service's
	// databases to find new ones.
	DefaultDiscoveryInterval = 5 * time.Second
	// DefaultSnapshotChunkBytes bounds one snapshot message.
	DefaultSnapshotChunkBytes = 1 << 20
	DefaultDialTimeout        = 5 * time.Second
)

// Config configures a Hub (New) and the monitorhub service (Run).
type Config struct {
	// EtcdEndpoints are used by Run when EtcdClient is nil.
	EtcdEndpoints []string
	// EtcdClient, when set, is used by Run as is and not closed.
	EtcdClient *clientv3.Client

	Prefix  string
	Service string
	// Listen is the gRPC address of Run: "unix:PATH" or "host:port".
	Listen string

	HistoryMaxTxns          int
	HistoryMaxBytes         int64
	HistoryRebuildRevisions int64
	SubscriberMaxLag        int
	ProgressInterval        time.Duration
	DiscoveryInterval       time.Duration
	SnapshotChunkBytes      int
	DialTimeout             time.Duration

	Logger *slog.Logger
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// ServerOptions are added to the gRPC server Run builds (interceptors,
	// metrics). Run always adds an otelgrpc stats handler.
	ServerOptions []grpc.ServerOption
}

// NewConfig returns a Config with the defaults.
func NewConfig() Config {
	return Config{
		EtcdEndpoints:           []string{"http://127.0.0.1:2379"},
		Prefix:                  DefaultPrefix,
		Service:                 DefaultService,
		Listen:                  DefaultListen,
		HistoryMaxTxns:          DefaultHistoryMaxTxns,
		HistoryMaxBytes:         DefaultHistoryMaxBytes,
		HistoryRebuildRevisions: DefaultHistoryRebuildRevisions,
		SubscriberMaxLag:        DefaultSubscriberMaxLag,
		ProgressInterval:        DefaultProgressInterval,
		DiscoveryInterval:       DefaultDiscoveryInterval,
		SnapshotChunkBytes:      DefaultSnapshotChunkBytes,
		DialTimeout:             DefaultDialTimeout,
	}
}

// AddFlags registers the flags of the monitorhub subcommand.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&c.EtcdEndpoints, "etcd-endpoints", c.EtcdEndpoints, "etcd client URLs (comma-separated)")
	fs.StringVar(&c.Prefix, "prefix", c.Prefix, "first element of every etcd key")
	fs.StringVar(&c.Service, "service", c.Service, "second element of every etcd key (one per OVN zone/database set)")
	fs.StringVar(&c.Listen, "listen", c.Listen, "gRPC listen address (unix:PATH or host:port)")
	fs.IntVar(&c.HistoryMaxTxns, "history-max-txns", c.HistoryMaxTxns, "monitorhub: updates (etcd revisions) of history kept per database")
	fs.Int64Var(&c.HistoryMaxBytes, "history-max-bytes", c.HistoryMaxBytes, "monitorhub: bytes of row values kept in the history of one database")
	fs.Int64Var(&c.HistoryRebuildRevisions, "history-rebuild-revisions", c.HistoryRebuildRevisions, "monitorhub: etcd revisions re-read at start to rebuild the history (0: none)")
	fs.IntVar(&c.SubscriberMaxLag, "subscriber-max-lag", c.SubscriberMaxLag, "monitorhub: updates a live subscriber may fall behind before it is closed (it resumes from the history)")
	fs.DurationVar(&c.ProgressInterval, "progress-interval", c.ProgressInterval, "monitorhub: how often to request etcd progress notifications")
	fs.DurationVar(&c.DiscoveryInterval, "discovery-interval", c.DiscoveryInterval, "monitorhub: how often to look for new databases in etcd")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.EtcdClient == nil && len(c.EtcdEndpoints) == 0 {
		errs = append(errs, errors.New("no etcd endpoints"))
	}
	if _, err := keys.New(c.Prefix, c.Service); err != nil {
		errs = append(errs, err)
	}
	if c.HistoryMaxTxns <= 0 || c.HistoryMaxBytes <= 0 {
		errs = append(errs, errors.New("history limits must be positive"))
	}
	if c.HistoryRebuildRevisions < 0 {
		errs = append(errs, errors.New("negative history rebuild revisions"))
	}
	if c.SubscriberMaxLag <= 0 {
		errs = append(errs, errors.New("subscriber max lag must be positive"))
	}
	if c.ProgressInterval <= 0 || c.DiscoveryInterval <= 0 || c.DialTimeout <= 0 {
		errs = append(errs, errors.New("intervals and timeouts must be positive"))
	}
	if c.SnapshotChunkBytes <= 0 {
		errs = append(errs, errors.New("snapshot chunk size must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("monitorhub config: %w", err)
	}
	return nil
}

func (c *Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// LogValue renders the effective configuration for the start-up log.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("etcd_endpoints", c.EtcdEndpoints),
		slog.String("prefix", c.Prefix),
		slog.String("service", c.Service),
		slog.String("listen", c.Listen),
		slog.Int("history_max_txns", c.HistoryMaxTxns),
		slog.Int64("history_max_bytes", c.HistoryMaxBytes),
		slog.Int64("history_rebuild_revisions", c.HistoryRebuildRevisions),
		slog.Int("subscriber_max_lag", c.SubscriberMaxLag),
		slog.Duration("progress_interval", c.ProgressInterval),
		slog.Duration("discovery_interval", c.DiscoveryInterval),
	)
}
