package txnengine

import (
	"context"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/txn"
)

// loadPageSize is the number of keys read per etcd range request.
const loadPageSize = 5000

// load replaces the in-memory state with every database as etcd holds it
// at one revision. Called by the commit loop's goroutine (or before it
// starts).
func (t *term) load(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, 10*t.e.cfg.CommitTimeout)
	defer cancel()
	// The marker read fixes the revision every database is read at.
	resp, err := t.e.cli.Get(lctx, t.marker)
	if err != nil {
		return fmt.Errorf("read batch marker: %w", err)
	}
	rev := resp.Header.Revision
	markerRev := int64(0)
	if len(resp.Kvs) == 1 {
		markerRev = resp.Kvs[0].ModRevision
	}
	dbs := make(map[string]*txn.Database, len(t.e.dbs))
	for name, d := range t.e.dbs {
		db := txn.NewDatabase(d.schema)
		n, err := t.loadDB(lctx, name, db, rev)
		if err != nil {
			return fmt.Errorf("load database %q: %w", name, err)
		}
		t.log.Debug("loaded database", "db", name, "rev", rev, "rows", n)
		dbs[name] = db
	}
	if err := t.loadLocks(lctx, rev); err != nil {
		return err
	}
	t.dbs = dbs
	t.markerRev = markerRev
	t.setRev(rev)
	return nil
}

func (t *term) loadDB(ctx context.Context, name string, db *txn.Database, rev int64) (int, error) {
	prefix := t.e.keys.DB(name)
	end := clientv3.GetPrefixRangeEnd(prefix)
	key := prefix
	n := 0
	for {
		resp, err := t.e.cli.Get(ctx, key, clientv3.WithRange(end), clientv3.WithRev(rev),
			clientv3.WithLimit(loadPageSize)) // etcd returns ranges in key order
		if err != nil {
			return n, fmt.Errorf("read rows at rev %d: %w", rev, err)
		}
		for _, kv := range resp.Kvs {
			k, err := t.e.keys.ParseIn(name, string(kv.Key))
			if err != nil {
				return n, fmt.Errorf("load: %w", err)
			}
			if k.Kind != keys.KindRow {
				continue
			}
			table, uuid := k.Table, k.UUID
			ts, ok := db.Schema().Tables[table]
			if !ok {
				return n, fmt.Errorf("key %s: table %q not in the schema", kv.Key, table)
			}
			row, err := ts.DecodeRow(kv.Value)
			if err != nil {
				return n, fmt.Errorf("decode %s: %w", kv.Key, err)
			}
			if err := db.Put(table, uuid, row); err != nil {
				return n, fmt.Errorf("put %s: %w", kv.Key, err)
			}
			n++
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return n, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// compactLoop compacts etcd every CompactionInterval to the current
// revision minus HistoryWindow, so that the monitorhub's history window
// stays readable, and prunes comments and other terms' batch markers that
// compaction has made history. It runs beside the commit loop while the
// term lasts.
func (t *term) compactLoop(ctx context.Context) {
	ticker := time.NewTicker(t.e.cfg.CompactionInterval)
	defer ticker.Stop()
	var compacted int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		target := t.lastRev.Load() - t.e.cfg.HistoryWindow
		if target <= compacted {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, t.e.cfg.CommitTimeout)
		_, err := t.e.cli.Compact(cctx, target)
		cancel()
		if err != nil {
			t.log.Warn("compact etcd", "rev", target, "err", err)
			continue
		}
		compacted = target
		t.e.metrics.compactions.Inc()
		t.log.Info("compacted etcd", "rev", target)
		t.prune(ctx, target)
	}
}

// prune deletes comment keys and other terms' batch markers last written
// before rev, in fenced Txns. A marker that old is no longer needed by
// its term's unknown-outcome resolution, which gives up long before.
func (t *term) prune(ctx context.Context, rev int64) {
	prefixes := []string{strings.TrimSuffix(t.e.keys.Marker(0), "0")}
	for name := range t.e.dbs {
		prefixes = append(prefixes, t.e.keys.Comments(name))
	}
	for _, p := range prefixes {
		pctx, cancel := context.WithTimeout(ctx, t.e.cfg.CommitTimeout)
		resp, err := t.e.cli.Get(pctx, p, clientv3.WithPrefix(), clientv3.WithKeysOnly(),
			clientv3.WithMaxModRev(rev), clientv3.WithLimit(int64(t.e.cfg.MaxBatchOps)))
		if err != nil {
			cancel()
			t.log.Warn("list keys to prune", "err", err)
			continue
		}
		var ops []clientv3.Op
		for _, kv := range resp.Kvs {
			if string(kv.Key) != t.marker {
				ops = append(ops, clientv3.OpDelete(string(kv.Key)))
			}
		}
		if len(ops) > 0 {
			_, err = t.e.cli.Txn(pctx).
				If(clientv3.Compare(clientv3.CreateRevision(t.leaderKey), "=", t.leaderRev)).
				Then(ops...).Commit()
			if err != nil {
				t.log.Warn("prune keys", "err", err)
			}
		}
		cancel()
	}
}
