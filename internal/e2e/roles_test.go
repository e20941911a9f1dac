package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
)

// Settings of the role processes in tests: short leases so that failover
// happens within seconds, and the etcd test cluster's request limit.
const (
	rolesLeaseTTL        = "2s"
	rolesMaxRequestBytes = etcdtest.DefaultMaxRequestBytes
)

// roles is ovsdb-etcd as separate processes, txnengines (one leader, the
// others standbys), one monitorhub and one frontend, on a 3-member etcd
// cluster running in the test process.
type roles struct {
	t        testing.TB
	dir      string
	cluster  *etcdtest.Cluster
	cli      *clientv3.Client
	schemas  []string
	dbs      []string
	engines  []*e2etest.Proc
	hub      *e2etest.Proc
	frontend *e2etest.Proc
	sock     string
}

// rolesOption changes how startRoles starts the processes.
type rolesOption func(*rolesConfig)

type rolesConfig struct {
	// engineEndpoints returns the etcd endpoints of engine i, "" for all
	// members.
	engineEndpoints func(c *etcdtest.Cluster, i int) string
	engineArgs      []string
}

// withFirstEngineVia makes engine 0, which leads first, reach etcd only
// through the endpoint that via returns (a fault-injecting proxy).
func withFirstEngineVia(via func(c *etcdtest.Cluster) string) rolesOption {
	return func(rc *rolesConfig) {
		rc.engineEndpoints = func(c *etcdtest.Cluster, i int) string {
			if i == 0 {
				return via(c)
			}
			return ""
		}
	}
}

// withEngineArgs adds arguments to every txnengine.
func withEngineArgs(args ...string) rolesOption {
	return func(rc *rolesConfig) { rc.engineArgs = append(rc.engineArgs, args...) }
}

// startRoles starts the cluster and the processes and waits until the
// frontend serves. Engine 0 starts first and leads when the others start.
func startRoles(t testing.TB, schemas []string, engines int, opts ...rolesOption) *roles {
	t.Helper()
	var rc rolesConfig
	for _, o := range opts {
		o(&rc)
	}
	r := &roles{t: t, dir: e2etest.ShortDir(t), schemas: schemas}
	r.cluster = etcdtest.NewCluster(t, 3)
	r.cli = r.cluster.Client(t)
	for _, s := range schemas {
		r.dbs = append(r.dbs, dbNameOf(t, s))
	}
	eps := strings.Join(r.cluster.Endpoints(), ",")
	common := []string{"--etcd-endpoints", eps, "--log-level", "warn"}
	for i := range engines {
		engineEps := eps
		if rc.engineEndpoints != nil {
			if e := rc.engineEndpoints(r.cluster, i); e != "" {
				engineEps = e
			}
		}
		args := []string{"txnengine", "--etcd-endpoints", engineEps, "--log-level", "warn",
			"--listen", "unix:" + r.engineSocket(i), "--lease-ttl", rolesLeaseTTL,
			"--max-request-bytes", fmt.Sprint(rolesMaxRequestBytes)}
		args = append(args, rc.engineArgs...)
		for _, s := range schemas {
			args = append(args, "--schema", s)
		}
		r.engines = append(r.engines, e2etest.StartProc(t, fmt.Sprintf("txnengine-%d", i), e2etest.Bin(), args...))
		if i == 0 {
			r.waitLeader("")
		}
	}
	hubSock := filepath.Join(r.dir, "hub.sock")
	r.hub = e2etest.StartProc(t, "monitorhub", e2etest.Bin(), append(append([]string{"monitorhub"}, common...), "--listen", "unix:"+hubSock)...)
	r.sock = filepath.Join(r.dir, "db.sock")
	r.frontend = e2etest.StartProc(t, "frontend", e2etest.Bin(), append(append([]string{"frontend"}, common...),
		"--monitorhub", "unix:"+hubSock, "--remote", "punix:"+r.sock)...)
	e2etest.WaitServing(t, r.frontend, r.Addr(), r.dbs...)
	return r
}

func (r *roles) engineSocket(i int) string {
	return filepath.Join(r.dir, fmt.Sprintf("txnengine-%d.sock", i))
}

// Addr is the frontend's OVSDB address.
func (r *roles) Addr() string { return "unix:" + r.sock }

// leader returns the index of the engine that leads (from the election
// keys in etcd), or -1.
func (r *roles) leader(ctx context.Context) (int, error) {
	resp, err := r.cli.Get(ctx, "ovsdb/default/_/_txnengine/", clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	if err != nil {
		return -1, err
	}
	for _, kv := range resp.Kvs {
		for i := range r.engines {
			if string(kv.Value) == "unix:"+r.engineSocket(i) {
				return i, nil
			}
		}
	}
	return -1, nil
}

// waitLeader waits until an engine other than the one at address not (if
// given) leads and returns its index.
func (r *roles) waitLeader(not string) int {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), e2etest.ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(e2etest.PollInterval)
	defer tick.Stop()
	for {
		i, err := r.leader(ctx)
		if err == nil && i >= 0 && "unix:"+r.engineSocket(i) != not {
			return i
		}
		select {
		case <-ctx.Done():
			r.t.Fatalf("no txnengine leader after %v (last: %d, %v)", e2etest.ReadyTimeout, i, err)
		case <-tick.C:
		}
	}
}

// restartAll restarts every process, one after the other, each with
// SIGTERM, and waits until the frontend serves again.
func (r *roles) restartAll() {
	r.t.Helper()
	for _, p := range r.engines {
		p.Restart()
	}
	r.waitLeader("")
	r.hub.Restart()
	r.frontend.Restart()
	e2etest.WaitServing(r.t, r.frontend, r.Addr(), r.dbs...)
}
