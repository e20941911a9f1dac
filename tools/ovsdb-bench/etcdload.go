package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
)

// benchPrefix holds the raw etcd scenarios' keys, one per row, named
// <benchPrefix><row name>.
const benchPrefix = "ovsdb-bench/rows/"

// etcdClients is how many clients the writers and watchers share; etcd
// multiplexes requests and watches over each client's connection.
const etcdClients = 4

// rowValue is about the size of a small Logical_Switch_Port row as
// ovsdb-etcd stores it.
var rowValue = strings.Repeat("x", 200)

// etcdPut is one raw etcd transaction of writer w: etcdTxn, or
// ovnValues.txn.
type etcdPut func(ctx context.Context, cli *clientv3.Client, w, seq, rows int) error

func etcdTxn(ctx context.Context, cli *clientv3.Client, w, seq, rows int) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if rows == 1 {
		_, err := cli.Put(cctx, benchPrefix+rowName(w, seq, 0), rowValue)
		if err != nil {
			return fmt.Errorf("writer %d put %d: %w", w, seq, err)
		}
		return nil
	}
	ops := make([]clientv3.Op, rows)
	for k := range rows {
		ops[k] = clientv3.OpPut(benchPrefix+rowName(w, seq, k), rowValue)
	}
	return commitOps(cctx, cli, w, seq, ops)
}

// commitOps sends ops as one plain Txn for writer w's transaction seq.
func commitOps(ctx context.Context, cli *clientv3.Client, w, seq int, ops []clientv3.Op) error {
	resp, err := cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("writer %d txn %d: %w", w, seq, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("writer %d txn %d: not succeeded", w, seq)
	}
	return nil
}

// etcdWatch feeds w from a watch on benchPrefix from rev until ctx ends.
// Each watch response counts as one update.
func etcdWatch(ctx context.Context, cli *clientv3.Client, rev int64, w *watcher) {
	wch := cli.Watch(clientv3.WithRequireLeader(ctx), benchPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev))
	for resp := range wch {
		now := time.Now()
		if err := resp.Err(); err != nil {
			if ctx.Err() == nil {
				w.errorf("watch: %v", err)
			}
			continue
		}
		rows := map[txnKey]int{}
		for _, ev := range resp.Events {
			if ev.Type != clientv3.EventTypePut || !ev.IsCreate() {
				w.errorf("watch: unexpected %s of %s", ev.Type, ev.Kv.Key)
				continue
			}
			key, _, ok := parseRowName(strings.TrimPrefix(string(ev.Kv.Key), benchPrefix))
			if !ok {
				w.errorf("watch: unexpected key %s", ev.Kv.Key)
				continue
			}
			rows[key]++
		}
		w.update(rows, now)
	}
}

// etcdNames returns the row names under benchPrefix; withValues reads the
// values too, as a new monitor would.
func etcdNames(ctx context.Context, cli *clientv3.Client, withValues bool) ([]string, error) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	opts := []clientv3.OpOption{clientv3.WithPrefix()}
	if !withValues {
		opts = append(opts, clientv3.WithKeysOnly())
	}
	resp, err := cli.Get(cctx, benchPrefix, opts...)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", benchPrefix, err)
	}
	names := make([]string, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		names[i] = strings.TrimPrefix(string(kv.Key), benchPrefix)
	}
	return names, nil
}

func openEtcdClients(in *instance) ([]*clientv3.Client, error) {
	var clis []*clientv3.Client
	for range etcdClients {
		cli, err := newEtcdClient(in.etcdEndpoints)
		if err != nil {
			closeEtcdClients(clis)
			return nil, err
		}
		clis = append(clis, cli)
	}
	return clis, nil
}

func closeEtcdClients(clis []*clientv3.Client) {
	for _, c := range clis {
		_ = c.Close()
	}
}

// runEtcdLoad is the floor: the same writers and watchers on raw etcd,
// one put (or one N-key Txn) per transaction.
func runEtcdLoad(ctx context.Context, in *instance, sc scenario, opts runOptions, put etcdPut, res *result) {
	clis, err := openEtcdClients(in)
	if err != nil {
		res.errs = append(res.errs, err.Error())
		return
	}
	defer closeEtcdClients(clis)
	start, err := clis[0].Get(ctx, "ovsdb-bench/ready")
	if err != nil {
		res.errs = append(res.errs, err.Error())
		return
	}
	rev := start.Header.Revision + 1
	tr := newTracker(sc.watchers)
	wctx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stopWatch()
		wg.Wait()
	}()
	watchers := make([]*watcher, sc.watchers)
	for i := range watchers {
		watchers[i] = newWatcher(sc.rowsPerTxn, tr)
		cli := clis[i%len(clis)]
		wg.Go(func() { etcdWatch(wctx, cli, rev, watchers[i]) })
	}
	if sc.watchers > 0 {
		res.monitor = "etcd watch"
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
	run := runWriters(ctx, writerPlan{writers: sc.writers, until: time.Now().Add(opts.duration), interval: sc.interval}, trw,
		func(ctx context.Context, w, seq int) error {
			return put(ctx, clis[w%len(clis)], w, seq, sc.rowsPerTxn)
		})
	res.errs = append(res.errs, run.errs...)
	waitCaughtUp(ctx, watchers, run.acked, opts.catchUpTimeout)
	recordUsage(in, before, res)
	res.errs = append(res.errs, checkWatchers(watchers, run.acked)...)
	names, err := etcdNames(ctx, clis[0], false)
	if err != nil {
		res.errs = append(res.errs, err.Error())
	} else {
		res.errs = append(res.errs, checkRows(names, run.acked, sc.rowsPerTxn)...)
	}
	recordWriters(sc, run, tr, res)
}

// runEtcdBig loads the rows as N-key Txns, reads them back as a new
// monitor would, and times an etcd leader change.
func runEtcdBig(ctx context.Context, in *instance, sc scenario, put etcdPut, res *result) {
	clis, err := openEtcdClients(in)
	if err != nil {
		res.errs = append(res.errs, err.Error())
		return
	}
	defer closeEtcdClients(clis)
	before, err := snapUsage(in)
	if err != nil {
		res.errs = append(res.errs, err.Error())
		return
	}
	txns := (sc.preload + sc.rowsPerTxn - 1) / sc.rowsPerTxn
	run := runWriters(ctx, writerPlan{writers: 1, txnsPerWriter: txns}, nil,
		func(ctx context.Context, w, seq int) error { return put(ctx, clis[0], w, seq, sc.rowsPerTxn) })
	if len(run.errs) > 0 {
		res.errs = append(res.errs, run.errs...)
		return
	}
	res.set(mLoad, run.elapsed.Seconds())
	res.set(mRowRate, float64(txns*sc.rowsPerTxn)/run.elapsed.Seconds())
	t0 := time.Now()
	names, err := etcdNames(ctx, clis[1], true)
	if err != nil {
		res.errs = append(res.errs, err.Error())
		return
	}
	res.set(mInitial, time.Since(t0).Seconds())
	res.errs = append(res.errs, checkRows(names, run.acked, sc.rowsPerTxn)...)
	recordUsage(in, before, res)
	d, err := in.failover(ctx)
	if err != nil {
		res.errs = append(res.errs, fmt.Sprintf("leader change: %v", err))
		return
	}
	res.set(mLeader, d.Seconds())
}

// etcdRowNames reads the name of every Logical_Switch_Port row that
// ovsdb-etcd keeps in etcd (DESIGN.md, "Keys in etcd").
func etcdRowNames(ctx context.Context, endpoints []string) ([]string, error) {
	cli, err := newEtcdClient(endpoints)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	prefix := keys.Default().Table(dbName, lspTable)
	resp, err := cli.Get(cctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", prefix, err)
	}
	names := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var row struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(kv.Value, &row); err != nil {
			return nil, fmt.Errorf("row %s: %w", kv.Key, err)
		}
		names = append(names, row.Name)
	}
	return names, nil
}
