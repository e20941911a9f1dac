package frontend

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// Defaults of Config.
const (
	// DefaultInactivityProbeInterval is ovsdb-server's default probe
	// interval for passive connections (5 s).
	DefaultInactivityProbeInterval = 5 * time.Second
	// DefaultMaxMessageSize bounds one client message.
	DefaultMaxMessageSize = jsonrpc.DefaultMaxMessageSize
	// DefaultMaxDepth bounds the nesting of one client message.
	DefaultMaxDepth = jsonrpc.DefaultMaxDepth
	// DefaultMaxBacklogBytes bounds a session's unsent output; a client
	// that lets more pile up is disconnected.
	DefaultMaxBacklogBytes = 256 << 20
	// DefaultLagBacklogBytes is the unsent output past which a session
	// stops being read from and its monitors' updates are merged per row.
	DefaultLagBacklogBytes = 4 << 20
	// DefaultMaxInflight bounds the concurrent transact requests of one
	// session; past it the session stops reading from its client (so it
	// must be well above the blocking "wait"s a client may leave pending,
	// or their "cancel" could not be read).
	DefaultMaxInflight = 1024
	// DefaultUpdateWaitTimeout bounds how long a transact reply waits for
	// the update of its own commit to reach the session.
	DefaultUpdateWaitTimeout = 5 * time.Second
	// DefaultMonitorSyncTimeout bounds how long a new monitor waits for
	// its database feed to reach etcd's current revision (read when the
	// request arrives). It covers one monitorhub progress interval, the
	// longest the feed takes to learn of a revision that changed another
	// database.
	DefaultMonitorSyncTimeout = 2 * time.Second
	// DefaultReadyTimeout bounds how long Serve waits for every database
	// feed to load its first snapshot before it listens.
	DefaultReadyTimeout = 60 * time.Second
	// DefaultWriteTimeout bounds one write to a client.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultLockLeaseTTL is the lease of this frontend's lock keys: a
	// dead frontend's locks are free after about this long.
	DefaultLockLeaseTTL = 5 * time.Second
	// DefaultHistoryRevisions is how many recent revisions each database
	// feed keeps, so that monitor_cond_since answers found=true for a
	// client that missed no more than that.
	DefaultHistoryRevisions = 1000
)

// Config configures a frontend.
type Config struct {
	// Remotes are ovsdb-server style passive addresses: punix:PATH,
	// ptcp:PORT[:IP], pssl:PORT[:IP].
	Remotes []string
	// PrivateKey, Certificate and CACert are PEM files for pssl remotes,
	// as ovsdb-server's --private-key, --certificate and --ca-cert.
	// CACert may be empty: then client certificates are not verified.
	PrivateKey, Certificate, CACert string
	// InactivityProbeInterval: after this long without input from a
	// client the server sends an echo request, and after as long again
	// without input it drops the client. 0 disables probing.
	InactivityProbeInterval time.Duration
	MaxMessageSize          int
	MaxDepth                int
	MaxBacklogBytes         int
	LagBacklogBytes         int
	MaxInflight             int
	UpdateWaitTimeout       time.Duration
	// MonitorSyncTimeout bounds the catch-up of a new monitor to etcd's
	// revision (only with Deps.Etcd); 0 skips that catch-up.
	MonitorSyncTimeout time.Duration
	ReadyTimeout       time.Duration
	WriteTimeout       time.Duration
	HistoryRevisions   int
	LockLeaseTTL       time.Duration
	// DirectWrites lets a message be written to a plain (not TLS) socket
	// by the goroutine that produced it, with one non-blocking write,
	// while the session has nothing queued; otherwise, and for what does
	// not fit the socket buffer, the session's writer goroutine writes.
	// It saves a goroutine wake-up per message, which matters when an
	// update fans out to thousands of sessions.
	DirectWrites bool
	// Registerer receives the frontend's metrics; nil: not registered.
	Registerer prometheus.Registerer
}

// NewConfig returns a Config with the defaults.
func NewConfig() Config {
	return Config{
		InactivityProbeInterval: DefaultInactivityProbeInterval,
		MaxMessageSize:          DefaultMaxMessageSize,
		MaxDepth:                DefaultMaxDepth,
		MaxBacklogBytes:         DefaultMaxBacklogBytes,
		LagBacklogBytes:         DefaultLagBacklogBytes,
		MaxInflight:             DefaultMaxInflight,
		UpdateWaitTimeout:       DefaultUpdateWaitTimeout,
		MonitorSyncTimeout:      DefaultMonitorSyncTimeout,
		ReadyTimeout:            DefaultReadyTimeout,
		WriteTimeout:            DefaultWriteTimeout,
		HistoryRevisions:        DefaultHistoryRevisions,
		LockLeaseTTL:            DefaultLockLeaseTTL,
		DirectWrites:            true,
	}
}

// AddFlags registers the frontend's flags.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&c.Remotes, "remote", c.Remotes, "listen on `ADDR`: punix:PATH, ptcp:PORT[:IP] or pssl:PORT[:IP] (repeatable)")
	fs.StringVar(&c.PrivateKey, "private-key", c.PrivateKey, "PEM private key `FILE` for pssl remotes")
	fs.StringVar(&c.Certificate, "certificate", c.Certificate, "PEM certificate `FILE` for pssl remotes")
	fs.StringVar(&c.CACert, "ca-cert", c.CACert, "PEM CA certificate `FILE` that client certificates must chain to (pssl)")
	fs.DurationVar(&c.InactivityProbeInterval, "inactivity-probe", c.InactivityProbeInterval, "probe idle clients with echo after this long, drop them after as long again (0 disables)")
	fs.IntVar(&c.MaxMessageSize, "max-message-size", c.MaxMessageSize, "largest accepted client message in bytes")
	fs.IntVar(&c.MaxBacklogBytes, "max-backlog-bytes", c.MaxBacklogBytes, "disconnect a client whose unsent output exceeds this many bytes")
	fs.IntVar(&c.HistoryRevisions, "frontend-history", c.HistoryRevisions, "recent revisions kept per database for monitor_cond_since")
	fs.IntVar(&c.LagBacklogBytes, "lag-backlog-bytes", c.LagBacklogBytes, "past this much unsent output, stop reading a client and merge its updates per row")
	fs.DurationVar(&c.LockLeaseTTL, "lock-lease-ttl", c.LockLeaseTTL, "lease of this frontend's OVSDB lock keys in etcd (whole seconds)")
	fs.DurationVar(&c.MonitorSyncTimeout, "monitor-sync-timeout", c.MonitorSyncTimeout, "how long a new monitor waits for the database to reach etcd's current revision (0: do not read it)")
	fs.BoolVar(&c.DirectWrites, "direct-writes", c.DirectWrites, "write to a plain socket from the goroutine that produced the message while nothing is queued (false: always from the session's writer goroutine)")
	fs.DurationVar(&c.UpdateWaitTimeout, "update-wait-timeout", c.UpdateWaitTimeout, "how long a transact reply waits for its own update to be sent first")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if len(c.Remotes) == 0 {
		return errors.New("frontend: no --remote given")
	}
	needTLS := false
	for _, r := range c.Remotes {
		ep, err := parseRemote(r)
		if err != nil {
			return err
		}
		needTLS = needTLS || ep.tls
	}
	if needTLS && (c.PrivateKey == "" || c.Certificate == "") {
		return errors.New("frontend: pssl remotes need --private-key and --certificate")
	}
	switch {
	case c.InactivityProbeInterval < 0:
		return errors.New("frontend: negative inactivity probe interval")
	case c.MaxMessageSize <= 0, c.MaxDepth <= 0, c.MaxBacklogBytes <= 0, c.LagBacklogBytes <= 0, c.MaxInflight <= 0, c.HistoryRevisions < 0:
		return errors.New("frontend: limits must be positive")
	case c.UpdateWaitTimeout <= 0, c.ReadyTimeout <= 0, c.WriteTimeout <= 0, c.LockLeaseTTL < time.Second:
		return errors.New("frontend: timeouts must be positive")
	case c.MonitorSyncTimeout < 0:
		return errors.New("frontend: negative monitor sync timeout")
	}
	return nil
}

// endpoint is a parsed --remote.
type endpoint struct {
	network string // "unix" or "tcp"
	address string
	tls     bool
}

// parseRemote parses punix:PATH, ptcp:PORT[:IP] and pssl:PORT[:IP] the way
// ovsdb-server does: the port comes first, the IP (default all addresses)
// after it, and an IPv6 address may be bracketed.
func parseRemote(r string) (endpoint, error) {
	kind, rest, ok := strings.Cut(r, ":")
	if !ok {
		return endpoint{}, fmt.Errorf("frontend: bad remote %q (want punix:PATH, ptcp:PORT[:IP] or pssl:PORT[:IP])", r)
	}
	switch kind {
	case "punix":
		if rest == "" {
			return endpoint{}, fmt.Errorf("frontend: bad remote %q: empty path", r)
		}
		return endpoint{network: "unix", address: rest}, nil
	case "ptcp", "pssl":
		port, ip, _ := strings.Cut(rest, ":")
		if port == "" {
			port = "0"
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return endpoint{}, fmt.Errorf("frontend: bad remote %q: bad port %q", r, port)
		}
		ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
		if ip != "" && net.ParseIP(ip) == nil {
			return endpoint{}, fmt.Errorf("frontend: bad remote %q: bad IP %q", r, ip)
		}
		return endpoint{network: "tcp", address: net.JoinHostPort(ip, port), tls: kind == "pssl"}, nil
	}
	return endpoint{}, fmt.Errorf("frontend: bad remote %q (want punix:PATH, ptcp:PORT[:IP] or pssl:PORT[:IP])", r)
}
