package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// System ids (the -systems flag).
const (
	sysStandalone = "standalone"
	sysRaft       = "raft"
	sysAIO        = "aio"
	sysSvc3       = "svc3"
	sysEtcd       = "etcd"
	sysEtcdOVN    = "etcd-ovn"
)

// system is one column of the table.
type system struct{ id, title string }

var allSystems = []system{
	{sysStandalone, "ovsdb-server"},
	{sysRaft, "ovsdb-server Raft x3"},
	{sysAIO, "ovsdb-etcd all-in-one"},
	{sysSvc3, "ovsdb-etcd 3 services, etcd x3"},
	{sysEtcd, "raw etcd x3"},
	{sysEtcdOVN, "raw etcd x3, OVN-sized Txns"},
}

const (
	dbName       = "OVN_Northbound"
	readyTimeout = 60 * time.Second
	pollInterval = 50 * time.Millisecond
	callTimeout  = 60 * time.Second
)

// env is what starting systems needs.
type env struct {
	schema    string // OVN Northbound schema
	ovsdbEtcd string // the ovsdb-etcd binary
	self      string // this binary, for etcd-member
	dir       string // parent of every system's directory
	n         int    // counter for directory names
	// ovn are the values of the OVN-sized raw etcd floor (etcd-ovn).
	ovn *ovnValues
	// profileDir receives CPU profiles of the load scenarios (-profile).
	profileDir string
	// keep keeps every instance's directory (-keep).
	keep bool
}

// instance is one running system.
type instance struct {
	id  string
	dir string
	// writerAddrs and watcherAddrs are OVSDB addresses, used round-robin;
	// empty for raw etcd.
	writerAddrs, watcherAddrs []string
	// etcdEndpoints are the client URLs of the etcd cluster, if any.
	etcdEndpoints []string
	// rowEndpoints reach the etcd that holds ovsdb-etcd's rows, so the
	// end-of-run check reads them from etcd itself; empty otherwise.
	rowEndpoints []string
	// server procs are counted as the server, etcd procs as etcd; other
	// procs (a standby txnengine) are counted as neither. killed procs
	// were killed on purpose (a leader change) and are not checked.
	server, etcd, other, killed []*proc
	// failover kills the leader and returns the time until a new one
	// commits a transaction; nil when the system has no such thing.
	failover func(ctx context.Context) (time.Duration, error)
}

func (in *instance) stop() {
	for _, group := range [][]*proc{in.server, in.other, in.etcd} {
		for _, p := range group {
			p.stop()
		}
	}
}

// finish stops in and, unless -keep, removes its directory: the
// databases of earlier runs would otherwise stay in the page cache as
// dirty pages that the kernel writes back during later runs, slowing
// their fsyncs.
func (e *env) finish(in *instance) {
	in.stop()
	if !e.keep {
		_ = os.RemoveAll(in.dir)
	}
}

// start starts system id in a new directory. standby asks ovsdb-etcd's
// three services for a standby txnengine (for the failover measurement).
func (e *env) start(ctx context.Context, id string, standby bool) (*instance, error) {
	// Every system starts with nothing left to write back: what earlier
	// runs left dirty would compete with this run's fsyncs.
	syscall.Sync()
	e.n++
	dir := filepath.Join(e.dir, fmt.Sprintf("%s-%d", id, e.n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("start %s: %w", id, err)
	}
	in := &instance{id: id, dir: dir}
	var err error
	switch id {
	case sysStandalone:
		err = e.startStandalone(ctx, in)
	case sysRaft:
		err = e.startRaft(ctx, in)
	case sysAIO:
		err = e.startAIO(ctx, in)
	case sysSvc3:
		err = e.startSvc3(ctx, in, standby)
	case sysEtcd, sysEtcdOVN:
		err = e.startEtcdCluster(ctx, in)
		in.failover = func(ctx context.Context) (time.Duration, error) { return etcdFailover(ctx, in) }
	default:
		err = fmt.Errorf("unknown system %q", id)
	}
	if err != nil {
		in.stop()
		return nil, fmt.Errorf("start %s: %w", id, err)
	}
	return in, nil
}

func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (e *env) startOVSDBServer(in *instance, name, db string) (*proc, string, error) {
	sock := filepath.Join(in.dir, name+".sock")
	p, err := startProc(name, filepath.Join(in.dir, name+".log"), "ovsdb-server",
		"--remote=punix:"+sock, "--unixctl="+filepath.Join(in.dir, name+".ctl"),
		"--pidfile="+filepath.Join(in.dir, name+".pid"), "--no-chdir", "-vconsole:off",
		"--log-file="+filepath.Join(in.dir, name+".ovslog"), db)
	if err != nil {
		return nil, "", err
	}
	in.server = append(in.server, p)
	return p, "unix:" + sock, nil
}

func (e *env) startStandalone(ctx context.Context, in *instance) error {
	db := filepath.Join(in.dir, "nb.db")
	if err := run(ctx, "ovsdb-tool", "create", db, e.schema); err != nil {
		return err
	}
	p, addr, err := e.startOVSDBServer(in, "ovsdb-server", db)
	if err != nil {
		return err
	}
	if err := waitOVSDB(ctx, p, addr); err != nil {
		return err
	}
	in.writerAddrs, in.watcherAddrs = []string{addr}, []string{addr}
	return nil
}

func (e *env) startRaft(ctx context.Context, in *instance) error {
	var ports [3]int
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return err
		}
		ports[i] = p
	}
	raftAddr := func(i int) string { return fmt.Sprintf("tcp:127.0.0.1:%d", ports[i]) }
	dbs := make([]string, 3)
	for i := range dbs {
		dbs[i] = filepath.Join(in.dir, fmt.Sprintf("nb%d.db", i))
		var err error
		if i == 0 {
			err = run(ctx, "ovsdb-tool", "create-cluster", dbs[i], e.schema, raftAddr(0))
		} else {
			err = run(ctx, "ovsdb-tool", "join-cluster", dbs[i], dbName, raftAddr(i), raftAddr(0))
		}
		if err != nil {
			return err
		}
	}
	addrs := make([]string, 3)
	procs := make([]*proc, 3)
	for i := range dbs {
		p, addr, err := e.startOVSDBServer(in, fmt.Sprintf("ovsdb-server-%d", i), dbs[i])
		if err != nil {
			return err
		}
		procs[i], addrs[i] = p, addr
	}
	for i := range addrs {
		if err := waitOVSDB(ctx, procs[i], addrs[i]); err != nil {
			return err
		}
	}
	leader, err := raftLeader(ctx, addrs)
	if err != nil {
		return err
	}
	// Writers talk to the leader, as ovn-northd does; watchers spread
	// over every member, as ovn-controllers do.
	in.writerAddrs, in.watcherAddrs = []string{addrs[leader]}, addrs
	in.failover = func(ctx context.Context) (time.Duration, error) {
		l, err := raftLeader(ctx, addrs)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		procs[l].kill()
		in.server = slices.DeleteFunc(in.server, func(p *proc) bool { return p == procs[l] })
		in.killed = append(in.killed, procs[l])
		others := make([]string, 0, 2)
		for i, a := range addrs {
			if i != l {
				others = append(others, a)
			}
		}
		if err := waitCommit(ctx, others); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	}
	return nil
}

// raftLeader returns the index of the member that says it leads, waiting
// for an election if need be.
func raftLeader(ctx context.Context, addrs []string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		for i, a := range addrs {
			res, err := oneCall(ctx, a, "transact", dbServerSelect()...)
			if err != nil {
				continue
			}
			var rows []struct {
				Rows []struct {
					Leader bool `json:"leader"`
				} `json:"rows"`
			}
			if json.Unmarshal(res, &rows) == nil && len(rows) == 1 && len(rows[0].Rows) == 1 && rows[0].Rows[0].Leader {
				return i, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("raft leader of %v: %w", addrs, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

func dbServerSelect() []any {
	return []any{"_Server", map[string]any{"op": "select", "table": "Database",
		"where": []any{[]any{"name", "==", dbName}}, "columns": []string{"leader"}}}
}

func (e *env) startAIO(ctx context.Context, in *instance) error {
	sock := filepath.Join(in.dir, "aio.sock")
	start := func() (*proc, error) {
		return e.startRole("ovsdb-etcd", filepath.Join(in.dir, "ovsdb-etcd.log"), "all-in-one",
			"--schema", e.schema, "--remote", "punix:"+sock, "--data-dir", filepath.Join(in.dir, "data"),
			"--log-level", "warn")
	}
	p, err := start()
	if err != nil {
		return err
	}
	in.server = append(in.server, p)
	if err := waitOVSDB(ctx, p, "unix:"+sock); err != nil {
		return err
	}
	// All-in-one has no standby: its new leader is the same process
	// restarted on the same data after a crash.
	in.failover = func(ctx context.Context) (time.Duration, error) {
		t0 := time.Now()
		p.kill()
		in.server, in.killed = nil, append(in.killed, p)
		np, err := start()
		if err != nil {
			return 0, err
		}
		in.server = []*proc{np}
		if err := waitCommit(ctx, []string{"unix:" + sock}); err != nil {
			return 0, err
		}
		return time.Since(t0), nil
	}
	in.writerAddrs, in.watcherAddrs = []string{"unix:" + sock}, []string{"unix:" + sock}
	// The embedded etcd listens on a unix socket in the data dir when its
	// path is short enough (cmd/ovsdb-etcd/etcd.go).
	if etcdSock := filepath.Join(in.dir, "data", "etcd-client.sock"); fileExists(etcdSock) {
		in.rowEndpoints = []string{"unix://" + etcdSock}
	}
	return nil
}

// startRole starts an ovsdb-etcd role, serving pprof with -profile.
func (e *env) startRole(name, logPath string, args ...string) (*proc, error) {
	extra, pprof, err := e.profileArgs()
	if err != nil {
		return nil, err
	}
	p, err := startProc(name, logPath, e.ovsdbEtcd, append(args, extra...)...)
	if p != nil {
		p.pprof = pprof
	}
	return p, err
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (e *env) startSvc3(ctx context.Context, in *instance, standby bool) error {
	if err := e.startEtcdCluster(ctx, in); err != nil {
		return err
	}
	eps := strings.Join(in.etcdEndpoints, ",")
	common := []string{"--etcd-endpoints", eps, "--log-level", "warn"}
	engine := func(i int) (*proc, error) {
		return e.startRole(fmt.Sprintf("txnengine-%d", i), filepath.Join(in.dir, fmt.Sprintf("txnengine-%d.log", i)),
			append([]string{"txnengine", "--schema", e.schema, "--listen", "unix:" + filepath.Join(in.dir, fmt.Sprintf("engine-%d.sock", i))}, common...)...)
	}
	leader, err := engine(0)
	if err != nil {
		return err
	}
	in.server = append(in.server, leader)
	hubSock := filepath.Join(in.dir, "hub.sock")
	hub, err := e.startRole("monitorhub", filepath.Join(in.dir, "monitorhub.log"),
		append([]string{"monitorhub", "--listen", "unix:" + hubSock}, common...)...)
	if err != nil {
		return err
	}
	in.server = append(in.server, hub)
	sock := filepath.Join(in.dir, "frontend.sock")
	fe, err := e.startRole("frontend", filepath.Join(in.dir, "frontend.log"),
		append([]string{"frontend", "--monitorhub", "unix:" + hubSock, "--remote", "punix:" + sock}, common...)...)
	if err != nil {
		return err
	}
	in.server = append(in.server, fe)
	addr := "unix:" + sock
	for _, p := range in.server {
		if err := waitOVSDB(ctx, p, addr); err != nil {
			return err
		}
	}
	if err := waitCommit(ctx, []string{addr}); err != nil {
		return err
	}
	in.writerAddrs, in.watcherAddrs = []string{addr}, []string{addr}
	in.rowEndpoints = in.etcdEndpoints
	if standby {
		sb, err := engine(1)
		if err != nil {
			return err
		}
		in.other = append(in.other, sb)
		in.failover = func(ctx context.Context) (time.Duration, error) {
			if !sb.running() {
				return 0, fmt.Errorf("standby txnengine exited: %s", sb.tail())
			}
			start := time.Now()
			leader.kill()
			in.killed = append(in.killed, leader)
			if err := waitCommit(ctx, []string{addr}); err != nil {
				return 0, err
			}
			d := time.Since(start)
			// The new leader is now the server's txnengine.
			for i, p := range in.server {
				if p == leader {
					in.server[i] = sb
				}
			}
			in.other = nil
			return d, nil
		}
	}
	return nil
}

func (e *env) startEtcdCluster(ctx context.Context, in *instance) error {
	const n = 3
	var clientURLs, peerURLs, initial []string
	for i := range n {
		cp, err1 := freePort()
		pp, err2 := freePort()
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		clientURLs = append(clientURLs, fmt.Sprintf("http://127.0.0.1:%d", cp))
		peerURLs = append(peerURLs, fmt.Sprintf("http://127.0.0.1:%d", pp))
		initial = append(initial, fmt.Sprintf("m%d=%s", i, peerURLs[i]))
	}
	for i := range n {
		p, err := startProc(fmt.Sprintf("etcd-%d", i), filepath.Join(in.dir, fmt.Sprintf("etcd-%d.log", i)), e.self,
			"etcd-member", "-name", fmt.Sprintf("m%d", i), "-data-dir", filepath.Join(in.dir, fmt.Sprintf("etcd-%d", i)),
			"-client-url", clientURLs[i], "-peer-url", peerURLs[i], "-initial-cluster", strings.Join(initial, ","),
			"-token", filepath.Base(in.dir), fmt.Sprintf("-pprof=%v", e.profileDir != ""))
		if err != nil {
			return err
		}
		if e.profileDir != "" {
			p.pprof = clientURLs[i]
		}
		in.etcd = append(in.etcd, p)
	}
	in.etcdEndpoints = clientURLs
	cli, err := newEtcdClient(clientURLs)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := cli.Put(cctx, "ovsdb-bench/ready", "1")
		ccancel()
		if err == nil {
			return nil
		}
		for _, p := range in.etcd {
			if !p.running() {
				return fmt.Errorf("%s exited: %s", p.name, p.tail())
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcd cluster not ready: %w", err)
		case <-time.After(pollInterval):
		}
	}
}

// etcdFailover kills the etcd leader and returns the time until a put
// succeeds again.
func etcdFailover(ctx context.Context, in *instance) (time.Duration, error) {
	cli, err := newEtcdClient(in.etcdEndpoints)
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	leader := -1
	for i, ep := range in.etcdEndpoints {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := cli.Status(cctx, ep)
		cancel()
		if err == nil && st.Leader == st.Header.MemberId {
			leader = i
		}
	}
	if leader < 0 {
		return 0, errors.New("etcd leader not found")
	}
	t0 := time.Now()
	in.etcd[leader].kill()
	in.killed = append(in.killed, in.etcd[leader])
	in.etcd = slices.Delete(slices.Clone(in.etcd), leader, leader+1)
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		_, err := cli.Put(cctx, "ovsdb-bench/failover", "1")
		ccancel()
		if err == nil {
			return time.Since(t0), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no put after killing the etcd leader: %w", err)
		case <-time.After(pollInterval):
		}
	}
}

func newEtcdClient(endpoints []string) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:          endpoints,
		DialTimeout:        5 * time.Second,
		MaxCallSendMsgSize: memberMaxRequestBytes,
		MaxCallRecvMsgSize: 1 << 30,
		Logger:             zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client of %v: %w", endpoints, err)
	}
	return cli, nil
}

// freePort returns a loopback port below the ephemeral range that was
// free a moment ago.
func freePort() (int, error) {
	var lastErr error
	for range 50 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(port)))
		if err != nil {
			lastErr = err
			continue
		}
		_ = l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("free port: %w", lastErr)
}

// oneCall dials addr, makes one call and closes.
func oneCall(ctx context.Context, addr, method string, params ...any) (json.RawMessage, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := jsonrpc.Dial(cctx, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Call(cctx, method, params...)
}

// waitOVSDB waits until addr answers an empty transaction on the
// database, failing early if p exits.
func waitOVSDB(ctx context.Context, p *proc, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		_, err := oneCall(ctx, addr, "transact", dbName)
		if err == nil {
			return nil
		}
		if !p.running() {
			return fmt.Errorf("%s exited: %w: %s", p.name, p.err, p.tail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s at %s not ready: %w (last: %w)", p.name, addr, ctx.Err(), err)
		case <-time.After(pollInterval):
		}
	}
}

// waitCommit waits until one of addrs commits a (harmless) transaction.
func waitCommit(ctx context.Context, addrs []string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	// A real write: a transaction without changes may be answered
	// without reaching the leader.
	probe := []any{dbName, map[string]any{"op": "insert", "table": "Logical_Switch",
		"row": map[string]any{"name": "ovsdb-bench-probe"}}}
	var last error
	for {
		for _, a := range addrs {
			res, err := oneCall(ctx, a, "transact", probe...)
			if err == nil {
				err = txnError(res)
			}
			if err == nil {
				return nil
			}
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no commit through %v: %w (last: %w)", addrs, ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}

// txnError returns the first error object in a transact result.
func txnError(res json.RawMessage) error {
	var ops []map[string]any
	if err := json.Unmarshal(res, &ops); err != nil {
		return fmt.Errorf("transact result %.200s: %w", res, err)
	}
	for _, op := range ops {
		if e, ok := op["error"]; ok {
			return fmt.Errorf("transact: %v: %v", e, op["details"])
		}
	}
	return nil
}
