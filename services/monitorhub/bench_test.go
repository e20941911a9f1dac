package monitorhub

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// countingSender counts updates and closes done when the shared total
// reaches target.
type countingSender struct {
	total  *atomic.Int64
	target int64
	done   chan struct{}
	once   *sync.Once
}

func (c countingSender) snapshot(int64, []Row, bool) error { return nil }
func (c countingSender) progress(int64) error              { return nil }
func (c countingSender) update(*Update) error {
	if c.total.Add(1) == c.target {
		c.once.Do(func() { close(c.done) })
	}
	return nil
}

// benchHub is a hub serving one in-memory database NB, without etcd.
func benchHub(b *testing.B) (*Hub, *database) {
	b.Helper()
	cfg := NewConfig()
	cfg.Logger = testConfig().Logger
	m, err := newMetrics(nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	h := &Hub{cfg: cfg, layout: testLayout, log: cfg.logger(), metrics: m, ctx: ctx, cancel: cancel, dbs: map[string]*database{}}
	d := newDatabase(h, "NB")
	d.readyRev, d.rev, d.baseRev = 1, 1, 1
	d.markReadyLocked()
	h.dbs["NB"] = d
	return h, d
}

func putEvent(key string, val []byte, rev int64) []*clientv3.Event {
	return []*clientv3.Event{{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{Key: []byte(key), Value: val, ModRevision: rev}}}
}

// BenchmarkFanout measures one update reaching every subscriber: the
// watch loop's apply plus each subscriber goroutine copying it out of
// the shared history.
func BenchmarkFanout(b *testing.B) {
	for _, subs := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			h, d := benchHub(b)
			var total atomic.Int64
			done := make(chan struct{})
			s := countingSender{total: &total, target: int64(subs * b.N), done: done, once: &sync.Once{}}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for range subs {
				wg.Go(func() { _ = h.serve(ctx, "NB", 1, s) })
			}
			key := rowKeyOf("NB", "Logical_Switch_Port", newUUID())
			val := []byte(`{"name":"lsp","addresses":["00:00:00:00:00:01 10.0.0.1"]}`)
			b.ResetTimer()
			for i := range b.N {
				if err := d.apply(putEvent(key, val, int64(i+2))); err != nil {
					b.Fatal(err)
				}
			}
			<-done
			b.StopTimer()
			cancel()
			wg.Wait()
		})
	}
}

// BenchmarkApply measures the watch loop alone: one revision of one row
// into the rows and the history, no subscriber.
func BenchmarkApply(b *testing.B) {
	_, d := benchHub(b)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = rowKeyOf("NB", "Logical_Switch_Port", newUUID())
	}
	val := []byte(`{"name":"lsp","addresses":["00:00:00:00:00:01 10.0.0.1"]}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := d.apply(putEvent(keys[i%len(keys)], val, int64(i+2))); err != nil {
			b.Fatal(err)
		}
	}
}
