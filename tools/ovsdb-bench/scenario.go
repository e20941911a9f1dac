package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// scenario is one row group of the table.
type scenario struct {
	id, desc   string
	writers    int
	watchers   int
	rowsPerTxn int
	// interval paces each writer (a slow stream); 0 writes back to back.
	interval time.Duration
	// preload, when > 0, makes this the big-database scenario: load that
	// many rows, then measure RSS, a new monitor's initial state and a
	// leader change.
	preload int
}

// defaultScenarios returns issue 6's scenarios with sizes multiplied by
// scale (at least 1 each).
func defaultScenarios(scale float64) []scenario {
	n := func(v int) int { return max(1, int(math.Round(float64(v)*scale))) }
	return []scenario{
		{id: "w1", desc: "1 writer serial", writers: 1, rowsPerTxn: 1},
		{id: "w8r4", desc: "8 writers + 4 watchers", writers: n(8), watchers: n(4), rowsPerTxn: 1},
		{id: "w16r32", desc: "16 writers + 32 watchers", writers: n(16), watchers: n(32), rowsPerTxn: 1},
		{id: "w64", desc: "64 writers", writers: n(64), rowsPerTxn: 1},
		{id: "w8rows100", desc: "8 writers, 100-row transactions", writers: n(8), rowsPerTxn: 100},
		{id: "r1000", desc: "1,000 watchers, 1 writer at 20 txn/s", writers: 1, watchers: n(1000), rowsPerTxn: 1, interval: 50 * time.Millisecond},
		{id: "rows100k", desc: "100,000 Logical_Switch_Port rows", rowsPerTxn: 1000, preload: n(100000)},
	}
}

// runOptions are the knobs common to every scenario.
type runOptions struct {
	duration       time.Duration
	catchUpTimeout time.Duration
	profileDir     string // -profile; empty: no profiles
	scenario       string // the running scenario's id, for profile names
}

// runScenario starts a fresh instance of system id, runs sc on it, and
// stops it.
func runScenario(ctx context.Context, e *env, id string, sc scenario, opts runOptions) *result {
	res := &result{}
	opts.scenario = sc.id
	in, err := e.start(ctx, id, sc.preload > 0)
	if err != nil {
		res.errs = append(res.errs, err.Error())
		return res
	}
	defer e.finish(in)
	switch {
	case id == sysEtcd && sc.preload > 0:
		runEtcdBig(ctx, in, sc, etcdTxn, res)
	case id == sysEtcd:
		runEtcdLoad(ctx, in, sc, opts, etcdTxn, res)
	case id == sysEtcdOVN && sc.preload > 0:
		runEtcdBig(ctx, in, sc, e.ovn.txn, res)
	case id == sysEtcdOVN:
		runEtcdLoad(ctx, in, sc, opts, e.ovn.txn, res)
	case sc.preload > 0:
		runOVSDBBig(ctx, in, sc, res)
	default:
		runOVSDBLoad(ctx, in, sc, opts, res)
	}
	for _, group := range [][]*proc{in.server, in.other, in.etcd} {
		for _, p := range group {
			if !p.running() {
				res.errs = append(res.errs, fmt.Sprintf("%s exited during the run: %v: %s", p.name, p.err, p.tail()))
			}
		}
	}
	return res
}

// usageBefore snapshots CPU of the server and etcd processes.
type usageSnap struct{ server, etcd usage }

func snapUsage(in *instance) (usageSnap, error) {
	s, err1 := sumUsage(in.server)
	e, err2 := sumUsage(in.etcd)
	if err1 != nil {
		return usageSnap{}, err1
	}
	return usageSnap{s, e}, err2
}

// recordUsage sets the RSS and CPU metrics: peak RSS now, CPU since before.
func recordUsage(in *instance, before usageSnap, res *result) {
	after, err := snapUsage(in)
	if err != nil {
		res.errs = append(res.errs, err.Error())
		return
	}
	const mib = 1024
	if len(in.server) > 0 {
		res.set(mServerRSS, float64(after.server.peakRSSKiB)/mib)
		res.set(mServerCPU, (after.server.cpu - before.server.cpu).Seconds())
	}
	if len(in.etcd) > 0 {
		res.set(mEtcdRSS, float64(after.etcd.peakRSSKiB)/mib)
		res.set(mEtcdCPU, (after.etcd.cpu - before.etcd.cpu).Seconds())
	}
}

// recordWriters sets the rate and latency metrics.
func recordWriters(sc scenario, run writerRun, tr *tracker, res *result) {
	total := 0
	for _, n := range run.acked {
		total += n
	}
	secs := run.elapsed.Seconds()
	res.set(mTxnRate, float64(total)/secs)
	// The CPU every process of the system spent per acknowledged
	// transaction, catching up included: on a machine where all of them
	// share the cores, this bounds the rate more than any latency.
	server, okS := res.metrics[mServerCPU]
	etcd, okE := res.metrics[mEtcdCPU]
	if total > 0 && (okS || okE) {
		res.set(mCPUPerTxn, (server+etcd)/float64(total)*1e6)
	}
	res.set(mRowRate, float64(total*sc.rowsPerTxn)/secs)
	res.set(mTxnP50, ms(percentile(run.lat, 50)))
	res.set(mTxnP99, ms(percentile(run.lat, 99)))
	if sc.watchers > 0 {
		vis := tr.visibleLatencies()
		res.set(mVisP50, ms(percentile(vis, 50)))
		res.set(mVisP99, ms(percentile(vis, 99)))
	}
}

func runOVSDBLoad(ctx context.Context, in *instance, sc scenario, opts runOptions, res *result) {
	tr := newTracker(sc.watchers)
	watchers := make([]*watcher, sc.watchers)
	var clients []*jsonrpc.Client
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	for i := range watchers {
		watchers[i] = newWatcher(sc.rowsPerTxn, tr)
		c, method, _, err := dialWatcher(ctx, in.watcherAddrs[i%len(in.watcherAddrs)], watchers[i])
		if err != nil {
			res.errs = append(res.errs, fmt.Sprintf("watcher %d: %v", i, err))
			return
		}
		clients = append(clients, c)
		res.monitor = method
	}
	writers := make([]*ovsdbWriter, sc.writers)
	for i := range writers {
		c, err := jsonrpc.Dial(ctx, in.writerAddrs[i%len(in.writerAddrs)])
		if err != nil {
			res.errs = append(res.errs, fmt.Sprintf("writer %d: %v", i, err))
			return
		}
		clients = append(clients, c)
		writers[i] = newOVSDBWriter(c, i, sc.rowsPerTxn)
	}
	before, err := snapUsage(in)
	if err != nil {
		res.errs = append(res.errs, err.Error())
		return
	}
	var trw *tracker
	if sc.watchers > 0 {
		trw = tr
	}
	var prof *profiler
	if opts.profileDir != "" {
		prof = startProfiles(ctx, opts.profileDir, opts.scenario, in, opts.duration)
	}
	run := runWriters(ctx, writerPlan{writers: sc.writers, until: time.Now().Add(opts.duration), interval: sc.interval}, trw,
		func(ctx context.Context, w, seq int) error { return writers[w].txn(ctx, seq) })
	res.errs = append(res.errs, run.errs...)
	if prof != nil {
		res.errs = append(res.errs, prof.wait()...)
	}
	waitCaughtUp(ctx, watchers, run.acked, opts.catchUpTimeout)
	recordUsage(in, before, res)
	res.errs = append(res.errs, checkWatchers(watchers, run.acked)...)
	res.errs = append(res.errs, checkServerRows(ctx, in, run.acked, sc.rowsPerTxn)...)
	recordWriters(sc, run, tr, res)
}

// runOVSDBBig loads sc.preload rows, then measures RSS, a new monitor's
// initial state and a leader change.
func runOVSDBBig(ctx context.Context, in *instance, sc scenario, res *result) {
	c, err := jsonrpc.Dial(ctx, in.writerAddrs[0])
	if err != nil {
		res.errs = append(res.errs, err.Error())
		return
	}
	defer c.Close()
	w := newOVSDBWriter(c, 0, sc.rowsPerTxn)
	txns := (sc.preload + sc.rowsPerTxn - 1) / sc.rowsPerTxn
	before, err := snapUsage(in)
	if err != nil {
		res.errs = append(res.errs, err.Error())
		return
	}
	run := runWriters(ctx, writerPlan{writers: 1, txnsPerWriter: txns}, nil,
		func(ctx context.Context, _, seq int) error { return w.txn(ctx, seq) })
	if len(run.errs) > 0 {
		res.errs = append(res.errs, run.errs...)
		return
	}
	res.set(mLoad, run.elapsed.Seconds())
	res.set(mRowRate, float64(txns*sc.rowsPerTxn)/run.elapsed.Seconds())

	wt := newWatcher(sc.rowsPerTxn, newTracker(1))
	t0 := time.Now()
	wc, method, n, err := dialWatcher(ctx, in.watcherAddrs[len(in.watcherAddrs)-1], wt)
	if err != nil {
		res.errs = append(res.errs, err.Error())
		return
	}
	// A server may answer with a state that lags the last acknowledged
	// transaction and send the rest as updates (a Raft follower, the
	// monitorhub): the time counts until the monitor has everything.
	if n != txns*sc.rowsPerTxn {
		slog.Warn("initial state lags the acknowledged transactions", "system", in.id,
			"rows", n, "acknowledged_rows", txns*sc.rowsPerTxn)
	}
	waitCaughtUp(ctx, []*watcher{wt}, run.acked, callTimeout)
	res.set(mInitial, time.Since(t0).Seconds())
	res.monitor = method
	_ = wc.Close()
	res.errs = append(res.errs, wt.check(run.acked)...)
	res.errs = append(res.errs, checkServerRows(ctx, in, run.acked, sc.rowsPerTxn)...)
	recordUsage(in, before, res)
	if in.failover != nil {
		d, err := in.failover(ctx)
		if err != nil {
			res.errs = append(res.errs, fmt.Sprintf("leader change: %v", err))
			return
		}
		res.set(mLeader, d.Seconds())
	}
}

// checkServerRows compares the rows the server holds with the acknowledged
// transactions: through OVSDB (a select) and, for ovsdb-etcd, in etcd.
func checkServerRows(ctx context.Context, in *instance, acked []int, rowsPerTxn int) []string {
	names, err := selectNames(ctx, in.writerAddrs[0])
	if err != nil {
		return []string{err.Error()}
	}
	errs := checkRows(names, acked, rowsPerTxn)
	if len(in.rowEndpoints) == 0 {
		return errs
	}
	names, err = etcdRowNames(ctx, in.rowEndpoints)
	if err != nil {
		return append(errs, err.Error())
	}
	for _, e := range checkRows(names, acked, rowsPerTxn) {
		errs = append(errs, "in etcd: "+e)
	}
	return errs
}
