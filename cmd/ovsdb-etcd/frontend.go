package main

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/ovsdb-etcd/ovsdb-etcd/services/frontend"
	"github.com/ovsdb-etcd/ovsdb-etcd/services/monitorhub"
	"github.com/ovsdb-etcd/ovsdb-etcd/services/txnengine"
)

// frontendFlags are the frontend subcommand's flags beyond frontend.Config:
// where etcd is (to find the txnengine leader and the schemas) and where
// the monitorhub is.
type frontendFlags struct {
	etcdEndpoints []string
	prefix        string
	service       string
	monitorHub    string
}

func newFrontendCmd() *cobra.Command {
	var obs obsConfig
	cfg := frontend.NewConfig()
	ff := frontendFlags{
		etcdEndpoints: []string{"http://127.0.0.1:2379"},
		prefix:        keys.DefaultPrefix,
		service:       keys.DefaultService,
		monitorHub:    monitorhub.DefaultListen,
	}
	cmd := &cobra.Command{
		Use:   "frontend --remote punix:PATH|ptcp:PORT[:IP]|pssl:PORT[:IP] [...] --etcd-endpoints URL[,URL...] [--monitorhub ADDR] [--prefix P] [--service S]",
		Short: "Run an OVSDB JSON-RPC frontend: client sessions, transact via the txnengine leader, monitors via a monitorhub",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			ctx := cmd.Context()
			if err = cfg.Validate(); err != nil {
				return err
			}
			if _, err = keys.New(ff.prefix, ff.service); err != nil {
				return fmt.Errorf("frontend: %w", err)
			}
			o, err := obs.start(ctx, "frontend")
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, o.close()) }()
			tuneReplicaGC(o.log)
			cli, err := o.newEtcdClient(ff.etcdEndpoints, txnengine.DefaultMaxRequestBytes)
			if err != nil {
				return err
			}
			defer cli.Close()
			return runFrontend(ctx, o, cfg, cli, ff.prefix, ff.service, ff.monitorHub)
		},
	}
	fs := cmd.Flags()
	obs.addFlags(fs)
	cfg.AddFlags(fs)
	fs.StringSliceVar(&ff.etcdEndpoints, "etcd-endpoints", ff.etcdEndpoints, "etcd client URLs (comma-separated)")
	fs.StringVar(&ff.prefix, "prefix", ff.prefix, "first element of every etcd key")
	fs.StringVar(&ff.service, "service", ff.service, "second element of every etcd key (one per OVN zone/database set)")
	fs.StringVar(&ff.monitorHub, "monitorhub", ff.monitorHub, "gRPC address of a monitorhub (unix:PATH or host:port)")
	return cmd
}

// runFrontend connects the frontend to the txnengine leader (found through
// etcd) and to the monitorhub at hubAddr, and serves clients until ctx
// ends.
func runFrontend(ctx context.Context, o *observability, cfg frontend.Config, cli *clientv3.Client, prefix, service, hubAddr string) error {
	l, err := keys.New(prefix, service)
	if err != nil {
		return fmt.Errorf("frontend: %w", err)
	}
	log := o.log.With("service", "frontend")
	cfg.Registerer = o.registry
	tcfg := txnengine.NewClientConfig()
	tcfg.Prefix, tcfg.Service = prefix, service
	tcfg.DialOptions = o.dialOptions()
	tcfg.Logger = log
	txc, err := txnengine.NewClient(ctx, cli, tcfg)
	if err != nil {
		return fmt.Errorf("txnengine client: %w", err)
	}
	defer txc.Close()

	conn, err := grpc.NewClient(hubAddr, append(o.dialOptions(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32)))...)
	if err != nil {
		return fmt.Errorf("monitorhub client %q: %w", hubAddr, err)
	}
	defer conn.Close()
	hc, err := monitorhub.NewClient(conn, monitorhub.WithClientLogger(log))
	if err != nil {
		return fmt.Errorf("monitorhub client %q: %w", hubAddr, err)
	}
	deps := frontend.Deps{
		Transactor:  txc,
		Subscriber:  hubSubscriber{hc},
		LoadSchemas: waitForSchemas(log, schemaRetryInterval, etcdSchemaLoader(cli, l)),
		// Etcd makes locks cluster-wide (DESIGN.md "Locks") and gives the
		// cluster id that transaction ids are derived from.
		Etcd: cli,
		Keys: l,
	}
	return frontend.Run(ctx, cfg, deps, frontend.WithLogger(log))
}

// hubSubscriber adapts the monitorhub client to the frontend's Subscriber
// seam; the two event types mirror each other field by field.
type hubSubscriber struct{ c *monitorhub.Client }

func (h hubSubscriber) Subscribe(ctx context.Context, database string, fromRev int64, fn func(frontend.Event) error) error {
	return h.c.Subscribe(ctx, database, fromRev, func(ev monitorhub.Event) error {
		return fn(toFrontendEvent(ev))
	})
}

// SubscribeLive makes hubSubscriber a frontend.LiveSubscriber.
func (h hubSubscriber) SubscribeLive(ctx context.Context, database string, fromRev int64, fn func(frontend.Event) error) error {
	return h.c.Subscribe(ctx, database, fromRev, func(ev monitorhub.Event) error {
		return fn(toFrontendEvent(ev))
	}, monitorhub.WithoutOld())
}

func toFrontendEvent(ev monitorhub.Event) frontend.Event {
	out := frontend.Event{Rev: ev.Rev, Last: ev.Last}
	switch ev.Kind {
	case monitorhub.EventSnapshot:
		out.Kind = frontend.EventSnapshot
	case monitorhub.EventUpdate:
		out.Kind = frontend.EventUpdate
	case monitorhub.EventProgress:
		out.Kind = frontend.EventProgress
	default:
		panic(fmt.Sprintf("unknown monitorhub event kind %v", ev.Kind)) // impossible state
	}
	if len(ev.Rows) > 0 {
		out.Rows = make([]frontend.RawRow, len(ev.Rows))
		for i, r := range ev.Rows {
			out.Rows[i] = frontend.RawRow{Table: r.Table, UUID: r.UUID, Value: r.Value}
		}
	}
	if len(ev.Changes) > 0 {
		out.Changes = make([]frontend.RawChange, len(ev.Changes))
		for i, c := range ev.Changes {
			out.Changes[i] = frontend.RawChange{Table: c.Table, UUID: c.UUID, Old: c.Old, New: c.New}
		}
	}
	return out
}
