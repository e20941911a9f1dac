package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// etcd limits of the bench cluster: the txnengine's defaults
// (--max-txn-ops, --max-request-bytes), so large transactions fit.
const (
	memberMaxTxnOps       = 100000
	memberMaxRequestBytes = 64 << 20
	memberReadyTimeout    = 60 * time.Second
)

// runEtcdMember is the hidden "etcd-member" subcommand: one embedded etcd
// member of a new cluster, until SIGTERM or SIGINT.
func runEtcdMember(args []string) error {
	fs := flag.NewFlagSet("etcd-member", flag.ContinueOnError)
	name := fs.String("name", "", "member name")
	dir := fs.String("data-dir", "", "data directory")
	clientURL := fs.String("client-url", "", "client URL (http://127.0.0.1:PORT)")
	peerURL := fs.String("peer-url", "", "peer URL (http://127.0.0.1:PORT)")
	initial := fs.String("initial-cluster", "", "name=peerURL,... of every member")
	token := fs.String("token", "ovsdb-bench", "initial cluster token")
	pprof := fs.Bool("pprof", false, "serve /debug/pprof on the client URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cu, err := url.Parse(*clientURL)
	if err != nil {
		return fmt.Errorf("etcd-member: client url: %w", err)
	}
	pu, err := url.Parse(*peerURL)
	if err != nil {
		return fmt.Errorf("etcd-member: peer url: %w", err)
	}
	cfg := embed.NewConfig()
	cfg.Name = *name
	cfg.Dir = *dir
	cfg.LogLevel = "error"
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = *initial
	cfg.InitialClusterToken = *token
	cfg.ClusterState = embed.ClusterStateFlagNew
	cfg.MaxTxnOps = memberMaxTxnOps
	cfg.MaxRequestBytes = memberMaxRequestBytes
	cfg.EnablePprof = *pprof
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("etcd-member %s: start: %w", *name, err)
	}
	defer e.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(memberReadyTimeout):
		return fmt.Errorf("etcd-member %s: not ready after %v", *name, memberReadyTimeout)
	case <-ctx.Done():
		return nil
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-e.Err():
		return fmt.Errorf("etcd-member %s: %w", *name, err)
	}
}

// memberMain runs the subcommand and exits.
func memberMain(args []string) {
	if err := runEtcdMember(args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
