package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/ovsdb-etcd/ovsdb-etcd/services/frontend"
	"github.com/ovsdb-etcd/ovsdb-etcd/services/monitorhub"
	"github.com/ovsdb-etcd/ovsdb-etcd/services/txnengine"
)

// Internal gRPC sockets of all-in-one, inside the data directory (or a
// private temporary directory with --etcd-endpoints).
const (
	txnEngineSocket  = "txnengine.sock"
	monitorHubSocket = "monitorhub.sock"
)

// allInOneSkipFlags are service flags that all-in-one sets itself: the
// internal gRPC addresses and the etcd endpoints (its own --etcd-endpoints
// or the embedded etcd).
var allInOneSkipFlags = []string{"listen", "advertise", "etcd-endpoints", "txnengine", "monitorhub"}

// allInOneConfig is the command line of all-in-one: the observability
// flags, the etcd choice, and the flags of the three services merged so
// that a shared flag (--prefix, --schema, ...) is given once.
type allInOneConfig struct {
	obs           obsConfig
	dataDir       string
	etcdEndpoints []string
	txn           txnengine.Config
	hub           monitorhub.Config
	fe            frontend.Config
}

func newAllInOneCmd() *cobra.Command {
	cmd, _ := newAllInOne()
	return cmd
}

// newAllInOne returns the command and the configuration its flags fill.
func newAllInOne() (*cobra.Command, *allInOneConfig) {
	c := &allInOneConfig{
		txn: txnengine.NewConfig(),
		hub: monitorhub.NewConfig(),
		fe:  frontend.NewConfig(),
	}
	cmd := &cobra.Command{
		Use:   "all-in-one --schema F [--schema F ...] --remote punix:PATH|ptcp:PORT[:IP]|pssl:PORT[:IP] [...] (--data-dir DIR | --etcd-endpoints URL[,URL...]) [--prefix P] [--service S]",
		Short: "Run frontend, txnengine and monitorhub in one process, on an embedded etcd or an existing cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.run(cmd.Context(), cmd.Flags().Changed("etcd-endpoints"))
		},
	}
	fs := cmd.Flags()
	c.obs.addFlags(fs)
	fs.StringVar(&c.dataDir, "data-dir", "", "directory of the embedded etcd and the internal sockets")
	fs.StringSliceVar(&c.etcdEndpoints, "etcd-endpoints", nil, "etcd client URLs (comma-separated) of an existing cluster")
	txnFS := pflag.NewFlagSet("txnengine", pflag.ContinueOnError)
	c.txn.AddFlags(txnFS)
	hubFS := pflag.NewFlagSet("monitorhub", pflag.ContinueOnError)
	c.hub.AddFlags(hubFS)
	feFS := pflag.NewFlagSet("frontend", pflag.ContinueOnError)
	c.fe.AddFlags(feFS)
	if err := mergeFlags(fs, allInOneSkipFlags, txnFS, hubFS, feFS); err != nil {
		panic(fmt.Sprintf("all-in-one flags: %v", err)) // a programming error
	}
	return cmd, c
}

// roleGroup runs the roles of one process. The first role to fail cancels
// the others; wait returns that failure.
type roleGroup struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
}

func newRoleGroup(ctx context.Context) *roleGroup {
	g := &roleGroup{}
	g.ctx, g.cancel = context.WithCancelCause(ctx)
	return g
}

// goRole runs f under the group's context. A role that returns while the
// group is still running ends the group, with its error or with "stopped".
func (g *roleGroup) goRole(name string, f func(ctx context.Context) error) {
	g.wg.Go(func() {
		err := f(g.ctx)
		if g.ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
			return
		}
		if err == nil {
			err = errors.New("stopped")
		}
		g.cancel(fmt.Errorf("%s: %w", name, err))
	})
}

// wait waits for every role and returns the first failure, nil when the
// parent context ended.
func (g *roleGroup) wait() error {
	g.wg.Wait()
	err := context.Cause(g.ctx)
	g.cancel(nil)
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (c *allInOneConfig) run(ctx context.Context, endpointsGiven bool) (err error) {
	switch {
	case c.dataDir == "" && !endpointsGiven:
		return errors.New("all-in-one: need --data-dir (embedded etcd) or --etcd-endpoints")
	case c.dataDir != "" && endpointsGiven:
		return errors.New("all-in-one: --data-dir and --etcd-endpoints exclude each other")
	}
	// Validate what the user gave before starting anything.
	c.txn.EtcdEndpoints, c.hub.EtcdEndpoints = []string{"placeholder"}, []string{"placeholder"}
	c.txn.Listen, c.hub.Listen = "unix:placeholder", "unix:placeholder"
	if verr := errors.Join(c.txn.Validate(), c.hub.Validate(), c.fe.Validate()); verr != nil {
		return verr
	}
	o, err := c.obs.start(ctx, "all-in-one")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, o.close()) }()

	endpoints := c.etcdEndpoints
	sockDir := c.dataDir
	var etcdErr <-chan error // the embedded etcd's fatal errors
	if c.dataDir != "" {
		// The embedded etcd gets the limits the txnengine assumes.
		e, eerr := startEmbeddedEtcd(ctx, o.log, c.dataDir, c.txn.MaxTxnOps, c.txn.MaxRequestBytes)
		if eerr != nil {
			return eerr
		}
		defer e.Close()
		etcdErr = e.Err()
		endpoints = e.endpoints
	}
	if sockDir != "" {
		if sockDir, err = filepath.Abs(sockDir); err != nil {
			return fmt.Errorf("resolve socket directory: %w", err)
		}
	}
	// Without a data directory, or with one too deep for unix socket
	// paths, the internal sockets go to a private temporary directory.
	if sockDir == "" || len(filepath.Join(sockDir, monitorHubSocket)) > maxUnixSocketPath {
		if sockDir, err = os.MkdirTemp("", "ovsdb-etcd-"); err != nil {
			return fmt.Errorf("create socket directory: %w", err)
		}
		defer os.RemoveAll(sockDir)
	}
	cli, err := o.newEtcdClient(endpoints, c.txn.MaxRequestBytes)
	if err != nil {
		return err
	}
	defer cli.Close()
	o.log.Info("all-in-one starting", "etcd_endpoints", endpoints, "socket_dir", sockDir)

	c.txn.EtcdEndpoints, c.hub.EtcdEndpoints = endpoints, endpoints
	c.txn.EtcdClient, c.hub.EtcdClient = cli, cli
	c.txn.Listen = "unix:" + filepath.Join(sockDir, txnEngineSocket)
	c.hub.Listen = "unix:" + filepath.Join(sockDir, monitorHubSocket)

	g := newRoleGroup(ctx)
	if etcdErr != nil {
		g.goRole("embedded etcd", func(ctx context.Context) error {
			select {
			case ferr := <-etcdErr:
				return ferr
			case <-ctx.Done():
				return nil
			}
		})
	}
	// The txnengine runs in process so that all-in-one can wait for it to
	// lead before the frontend listens: a punix socket appears only once
	// the server is ready to transact. A refused schema fails New.
	engine, lis, err := startTxnEngine(ctx, o, c.txn)
	if err != nil {
		return err
	}
	srv := grpc.NewServer(o.serverOptions()...)
	engine.Register(srv)
	g.goRole("txnengine", func(ctx context.Context) error {
		err := serveGRPC(ctx, srv, lis)
		return errors.Join(err, engine.Close())
	})
	g.goRole("monitorhub", func(ctx context.Context) error {
		return runMonitorHub(ctx, o, c.hub)
	})
	g.goRole("frontend", func(ctx context.Context) error {
		// With its own etcd this engine is the only one and must lead
		// before clients connect. On a shared cluster another process
		// may lead; the frontend's client follows whoever does.
		if c.dataDir != "" {
			if err := engine.WaitLeader(ctx); err != nil {
				return fmt.Errorf("wait for the txnengine to lead: %w", err)
			}
		}
		return runFrontend(ctx, o, c.fe, cli, c.txn.Prefix, c.txn.Service, c.hub.Listen)
	})
	return g.wait()
}

// startTxnEngine creates the engine (which stores or checks the schemas)
// and its listener.
func startTxnEngine(ctx context.Context, o *observability, cfg txnengine.Config) (*txnengine.Engine, net.Listener, error) {
	cfg.Logger = o.log.With("service", "txnengine")
	cfg.Registerer = o.registry
	cfg.TracerProvider = o.tracer
	cfg.NewEtcdClient = func(endpoints []string) (*clientv3.Client, error) {
		return o.newEtcdClient(endpoints, cfg.MaxRequestBytes)
	}
	lis, err := txnengine.Listen(cfg.Listen)
	if err != nil {
		return nil, nil, err
	}
	e, err := txnengine.New(ctx, cfg)
	if err != nil {
		lis.Close()
		return nil, nil, err
	}
	return e, lis, nil
}
