package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/ovsdb-etcd/ovsdb-etcd/services/monitorhub"
	"github.com/ovsdb-etcd/ovsdb-etcd/services/txnengine"
)

func newMonitorHubCmd() *cobra.Command {
	var obs obsConfig
	cfg := monitorhub.NewConfig()
	cmd := &cobra.Command{
		Use:   "monitorhub --etcd-endpoints URL[,URL...] [--listen ADDR] [--prefix P] [--service S]",
		Short: "Run a monitor hub: one etcd watch per database, streamed to frontends grouped by revision",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			o, err := obs.start(cmd.Context(), "monitorhub")
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, o.close()) }()
			tuneReplicaGC(o.log)
			return runMonitorHub(cmd.Context(), o, cfg)
		},
	}
	obs.addFlags(cmd.Flags())
	cfg.AddFlags(cmd.Flags())
	return cmd
}

// runMonitorHub fills in logger, metrics and gRPC options and runs the
// service until ctx ends.
func runMonitorHub(ctx context.Context, o *observability, cfg monitorhub.Config) error {
	cfg.Logger = o.log.With("service", "monitorhub")
	cfg.Registerer = o.registry
	cfg.ServerOptions = append(o.serverOptions(), cfg.ServerOptions...)
	if cfg.EtcdClient == nil {
		cli, err := o.newEtcdClient(cfg.EtcdEndpoints, txnengine.DefaultMaxRequestBytes)
		if err != nil {
			return err
		}
		defer cli.Close()
		cfg.EtcdClient = cli
	}
	return monitorhub.Run(ctx, cfg)
}
