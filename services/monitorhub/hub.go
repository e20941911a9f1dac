package monitorhub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Hub serves the databases of one <prefix>/<service> from one etcd watch
// each. New starts it; Close stops it.
type Hub struct {
	cfg     Config
	layout  keys.Layout
	cli     *clientv3.Client
	watcher clientv3.Watcher // the hub's own watch streams
	log     *slog.Logger
	metrics *metrics

	ctx       context.Context // the hub's lifetime
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu sync.Mutex
	// mu guards dbs. Lock order: Hub.mu before database.mu.
	dbs map[string]*database
}

// New starts a Hub on cli: it discovers the databases of cfg.Service in
// etcd now and every DiscoveryInterval, and starts one watch per database.
// cli stays owned by the caller.
func New(cfg Config, cli *clientv3.Client) (*Hub, error) {
	if cli == nil {
		return nil, errors.New("monitorhub: nil etcd client")
	}
	cfg.EtcdClient = cli
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	layout, err := keys.New(cfg.Prefix, cfg.Service)
	if err != nil {
		return nil, fmt.Errorf("monitorhub config: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{
		cfg:     cfg,
		layout:  layout,
		cli:     cli,
		watcher: clientv3.NewWatcher(cli),
		log:     cfg.logger(),
		metrics: m,
		ctx:     ctx,
		cancel:  cancel,
		dbs:     map[string]*database{},
	}
	h.wg.Go(h.discoverLoop)
	h.wg.Go(h.progressLoop)
	return h, nil
}

// Close stops every watch and ends every Watch stream with Unavailable.
// It is idempotent.
func (h *Hub) Close() error {
	var err error
	h.closeOnce.Do(func() {
		// Cancel under mu so that ensure never starts a loop after Wait.
		h.mu.Lock()
		h.cancel()
		h.mu.Unlock()
		h.wg.Wait()
		err = h.watcher.Close()
	})
	return err
}

// Databases returns the names of the databases the hub serves.
func (h *Hub) Databases() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.dbs))
	for n := range h.dbs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// DatabaseStatus is the state of one database of the hub.
type DatabaseStatus struct {
	Name string
	// Rev is the newest revision applied; OldestRev the oldest revision
	// a subscriber can resume from without a snapshot.
	Rev, OldestRev int64
	Rows           int
	HistoryUpdates int
	Subscribers    int
}

// Status reports every database.
func (h *Hub) Status() []DatabaseStatus {
	h.mu.Lock()
	dbs := make([]*database, 0, len(h.dbs))
	for _, d := range h.dbs {
		dbs = append(dbs, d)
	}
	h.mu.Unlock()
	out := make([]DatabaseStatus, 0, len(dbs))
	for _, d := range dbs {
		d.mu.RLock()
		out = append(out, DatabaseStatus{
			Name: d.name, Rev: d.rev, OldestRev: d.baseRev, Rows: len(d.rows),
			HistoryUpdates: d.hist.len(), Subscribers: len(d.subs),
		})
		d.mu.RUnlock()
	}
	slices.SortFunc(out, func(a, b DatabaseStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// database returns the named database, starting it if its schema key
// exists in etcd, and waits until its first load is done.
func (h *Hub) database(ctx context.Context, name string) (*database, error) {
	if keys.CheckDB(name) != nil {
		return nil, fmt.Errorf("%w: database name %q", ErrInvalidRequest, name)
	}
	h.mu.Lock()
	d := h.dbs[name]
	h.mu.Unlock()
	if d == nil {
		resp, err := h.cli.Get(ctx, h.layout.Schema(name), clientv3.WithCountOnly())
		if err != nil {
			return nil, fmt.Errorf("look up database %q: %w", name, err)
		}
		if resp.Count == 0 {
			return nil, fmt.Errorf("%w: %q", ErrUnknownDatabase, name)
		}
		if d = h.ensure(name); d == nil {
			return nil, ErrClosed
		}
	}
	select {
	case <-d.ready:
		return d, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-h.ctx.Done():
		return nil, ErrClosed
	}
}

// ensure starts serving the named database unless it is already served.
// It returns nil once the hub is closed.
func (h *Hub) ensure(name string) *database {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx.Err() != nil {
		return nil
	}
	if d := h.dbs[name]; d != nil {
		return d
	}
	d := newDatabase(h, name)
	h.dbs[name] = d
	h.metrics.databases.Set(float64(len(h.dbs)))
	h.log.Info("serving database", "db", name)
	h.wg.Go(func() { d.run(h.ctx) })
	return d
}

// discoverLoop looks for new databases now and every DiscoveryInterval.
func (h *Hub) discoverLoop() {
	t := time.NewTicker(h.cfg.DiscoveryInterval)
	defer t.Stop()
	for {
		if err := h.discover(h.ctx); err != nil && h.ctx.Err() == nil {
			h.log.Warn("discover databases", "err", err)
		}
		select {
		case <-t.C:
		case <-h.ctx.Done():
			return
		}
	}
}

// discover lists the database names under the service prefix without
// reading their rows: one keys-only request of one key per database,
// each skipping past the previous database's keys, then a count of each
// new candidate's _schema key.
func (h *Hub) discover(ctx context.Context) error {
	sp := h.layout.Service()
	key, end := sp, clientv3.GetPrefixRangeEnd(sp)
	for {
		resp, err := h.cli.Get(ctx, key, clientv3.WithRange(end), clientv3.WithLimit(1), clientv3.WithKeysOnly())
		if err != nil {
			return fmt.Errorf("list databases: %w", err)
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		rest := strings.TrimPrefix(string(resp.Kvs[0].Key), sp)
		name, _, found := strings.Cut(rest, "/")
		if !found {
			key = string(resp.Kvs[0].Key) + "\x00"
			continue
		}
		key = sp + name + "0" // '0' follows '/': the first key after this database
		h.mu.Lock()
		known := h.dbs[name] != nil
		h.mu.Unlock()
		if known || keys.CheckDB(name) != nil {
			continue
		}
		sr, err := h.cli.Get(ctx, h.layout.Schema(name), clientv3.WithCountOnly())
		if err != nil {
			return fmt.Errorf("look up database %q: %w", name, err)
		}
		if sr.Count > 0 {
			h.ensure(name)
		}
	}
}

// progressLoop asks etcd every ProgressInterval for a progress
// notification on the hub's watch stream, so that idle databases advance
// (etcd's own periodic progress notifications are minutes apart).
func (h *Hub) progressLoop() {
	t := time.NewTicker(h.cfg.ProgressInterval)
	defer t.Stop()
	// The watches' contexts carry the same metadata, so they share one
	// gRPC watch stream, which this context selects.
	ctx := clientv3.WithRequireLeader(h.ctx)
	for {
		select {
		case <-t.C:
		case <-h.ctx.Done():
			return
		}
		h.mu.Lock()
		n := len(h.dbs)
		h.mu.Unlock()
		if n == 0 {
			continue
		}
		if err := h.watcher.RequestProgress(ctx); err != nil && h.ctx.Err() == nil {
			h.log.Debug("request etcd watch progress", "err", err)
		}
	}
}
