package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/services/txnengine"
)

func newTxnEngineCmd() *cobra.Command {
	var obs obsConfig
	cfg := txnengine.NewConfig()
	cmd := &cobra.Command{
		Use:   "txnengine --schema F [--schema F ...] --etcd-endpoints URL[,URL...] [--listen ADDR] [--prefix P] [--service S]",
		Short: "Run the transaction engine: the elected leader executes and commits OVSDB transactions to etcd",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			o, err := obs.start(cmd.Context(), "txnengine")
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, o.close()) }()
			return runTxnEngine(cmd.Context(), o, cfg)
		},
	}
	obs.addFlags(cmd.Flags())
	cfg.AddFlags(cmd.Flags())
	return cmd
}

// runTxnEngine fills in what the command line does not carry (logger,
// metrics, gRPC options) and runs the service until ctx ends.
func runTxnEngine(ctx context.Context, o *observability, cfg txnengine.Config) error {
	cfg.Logger = o.log.With("service", "txnengine")
	cfg.Registerer = o.registry
	cfg.TracerProvider = o.tracer
	cfg.ServerOptions = append(o.serverOptions(), cfg.ServerOptions...)
	cfg.NewEtcdClient = func(endpoints []string) (*clientv3.Client, error) {
		return o.newEtcdClient(endpoints, cfg.MaxRequestBytes)
	}
	if cfg.EtcdClient == nil {
		cli, err := o.newEtcdClient(cfg.EtcdEndpoints, cfg.MaxRequestBytes)
		if err != nil {
			return err
		}
		defer cli.Close()
		cfg.EtcdClient = cli
	}
	return txnengine.Run(ctx, cfg)
}
