package txnengine

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are one Engine's collectors. They are per Engine (not package
// globals) so that tests can run several engines in one process, each
// registered to its own registry.
type metrics struct {
	batchSize      prometheus.Histogram
	commitLatency  prometheus.Histogram
	etcdTxns       *prometheus.CounterVec
	transactions   *prometheus.CounterVec
	fenceFailures  prometheus.Counter
	isLeader       prometheus.Gauge
	queueHighWater prometheus.Gauge
	parked         prometheus.Gauge
	compactions    prometheus.Counter
	loadSeconds    prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "ovsdb_etcd", "txnengine"
	m := &metrics{
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "commit_batch_size_transactions",
			Help:    "OVSDB transactions committed together in one etcd Txn.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "commit_latency_seconds",
			Help:    "Time from a batch's first execution to etcd's acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
		}),
		etcdTxns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "etcd_txns_total",
			Help: "etcd write Txns sent, by outcome (ok, fenced, too_large, unknown, error).",
		}, []string{"outcome"}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "ovsdb_transactions_total",
			Help: "OVSDB transactions answered, by result (committed, failed, unavailable).",
		}, []string{"result"}),
		fenceFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "fence_failures_total",
			Help: "Commits refused by etcd because this engine no longer leads.",
		}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "is_leader",
			Help: "1 while this engine leads and serves transactions.",
		}),
		queueHighWater: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "queue_high_water_mark_requests",
			Help: "Most requests ever found waiting in the commit queue.",
		}),
		parked: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "parked_waits",
			Help: "Transactions blocked in an unsatisfied wait.",
		}),
		compactions: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "compactions_total",
			Help: "etcd compactions done by this engine.",
		}),
		loadSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "load_duration_seconds",
			Help:    "Time to load every database from etcd on taking leadership.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.batchSize, m.commitLatency, m.etcdTxns, m.transactions,
		m.fenceFailures, m.isLeader, m.queueHighWater, m.parked, m.compactions, m.loadSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register txnengine metrics: %w", err)
		}
	}
	return m, nil
}
