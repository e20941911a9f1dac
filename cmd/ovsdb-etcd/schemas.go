package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

// schemaRetryInterval paces the wait of a frontend started before any
// txnengine stored a schema.
const schemaRetryInterval = time.Second

// errNoSchemas says that no txnengine has stored a schema yet.
var errNoSchemas = errors.New("no database schema in etcd")

// waitForSchemas wraps a schema loader so that it waits, until ctx ends,
// for a txnengine to store the schemas: processes of a deployment may
// start in any order.
func waitForSchemas(log *slog.Logger, interval time.Duration, load func(context.Context) (map[string]*schema.Database, error)) func(context.Context) (map[string]*schema.Database, error) {
	return func(ctx context.Context) (map[string]*schema.Database, error) {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		logged := false
		for {
			s, err := load(ctx)
			if !errors.Is(err, errNoSchemas) {
				return s, err
			}
			if !logged {
				log.Warn("waiting for a txnengine to store the schemas", "err", err)
				logged = true
			}
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %w", err, ctx.Err())
			case <-tick.C:
			}
		}
	}
}

// serviceDirName is the per-service directory of locks and the election
// (DESIGN.md "Keys in etcd"), which is not a database.
const serviceDirName = "_"

// etcdSchemaLoader returns the frontend's LoadSchemas: the schemas the
// txnengine stored under <prefix>/<service>/<db>/_schema. It finds the
// databases by skipping from one database prefix to the next with
// keys-only, limit-1 reads, so its cost is one read per database whatever
// the number of rows.
func etcdSchemaLoader(cli *clientv3.Client, l keys.Layout) func(context.Context) (map[string]*schema.Database, error) {
	return func(ctx context.Context) (map[string]*schema.Database, error) {
		base := l.Service()
		end := clientv3.GetPrefixRangeEnd(base)
		out := map[string]*schema.Database{}
		from := base
		for {
			resp, err := cli.Get(ctx, from, clientv3.WithRange(end), clientv3.WithLimit(1), clientv3.WithKeysOnly())
			if err != nil {
				return nil, fmt.Errorf("list databases under %q: %w", base, err)
			}
			if len(resp.Kvs) == 0 {
				break
			}
			rest := strings.TrimPrefix(string(resp.Kvs[0].Key), base)
			db, _, _ := strings.Cut(rest, "/")
			// '/'+1 == '0': the first key after every key of db/.
			from = base + db + "0"
			if db == serviceDirName {
				continue
			}
			sresp, err := cli.Get(ctx, l.Schema(db))
			if err != nil {
				return nil, fmt.Errorf("read schema of database %q: %w", db, err)
			}
			if len(sresp.Kvs) == 0 {
				continue // rows without a schema: not a served database
			}
			sch, err := schema.Parse(sresp.Kvs[0].Value)
			if err != nil {
				return nil, fmt.Errorf("parse stored schema of database %q: %w", db, err)
			}
			out[db] = sch
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%w under %q (has a txnengine started with --schema?)", errNoSchemas, base)
		}
		return out, nil
	}
}
