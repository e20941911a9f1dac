package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// allInOneConfig is the command line of all-in-one: the observability
// flags, the etcd choice, and the flags of the three services merged so
// that a shared flag (--prefix, --schema, ...) is given once.
type allInOneConfig struct {
	obs           obsConfig
	dataDir       string
	etcdEndpoints []string
}

func newAllInOneCmd() *cobra.Command {
	c := &allInOneConfig{}
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
	return cmd
}

// etcdClientConfig is the etcd client every role of all-in-one shares.
func etcdClientConfig(endpoints []string) clientv3.Config {
	return clientv3.Config{
		Endpoints:          endpoints,
		DialTimeout:        embeddedReadyTimeout,
		MaxCallSendMsgSize: maxGRPCMessageBytes,
		MaxCallRecvMsgSize: 0, // unlimited
	}
}

func (c *allInOneConfig) run(ctx context.Context, endpointsGiven bool) (err error) {
	switch {
	case c.dataDir == "" && !endpointsGiven:
		return errors.New("all-in-one: need --data-dir (embedded etcd) or --etcd-endpoints")
	case c.dataDir != "" && endpointsGiven:
		return errors.New("all-in-one: --data-dir and --etcd-endpoints exclude each other")
	}
	obs, err := c.obs.start(ctx, "all-in-one")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, obs.close()) }()

	endpoints := c.etcdEndpoints
	sockDir := c.dataDir
	if c.dataDir != "" {
		e, err := startEmbeddedEtcd(ctx, obs.log, c.dataDir)
		if err != nil {
			return err
		}
		defer e.Close()
		endpoints = e.endpoints
	} else {
		sockDir, err = os.MkdirTemp("", "ovsdb-etcd-")
		if err != nil {
			return fmt.Errorf("create socket directory: %w", err)
		}
		defer os.RemoveAll(sockDir)
	}
	sockDir, err = filepath.Abs(sockDir)
	if err != nil {
		return fmt.Errorf("resolve socket directory: %w", err)
	}
	cli, err := clientv3.New(etcdClientConfig(endpoints))
	if err != nil {
		return fmt.Errorf("connect to etcd %v: %w", endpoints, err)
	}
	defer cli.Close()
	obs.log.Info("all-in-one started", "etcd_endpoints", endpoints, "socket_dir", sockDir)

	var wg sync.WaitGroup
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	_ = &wg
	<-ctx.Done()
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}
