package monitorhub

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are one Hub's collectors. They are per Hub (not package globals)
// so that tests can run several hubs in one process, each registered to
// its own registry.
type metrics struct {
	etcdWatches      prometheus.Gauge
	databases        prometheus.Gauge
	historyUpdates   *prometheus.GaugeVec
	historyBytes     *prometheus.GaugeVec
	subscribers      *prometheus.GaugeVec
	laggingSubs      *prometheus.GaugeVec
	closedSubs       *prometheus.CounterVec
	watchLag         *prometheus.GaugeVec
	revision         *prometheus.GaugeVec
	watchRestarts    *prometheus.CounterVec
	resyncs          *prometheus.CounterVec
	updatesPublished *prometheus.CounterVec
	snapshotsServed  *prometheus.CounterVec
	historyReplays   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "ovsdb_etcd", "monitorhub"
	db := []string{"db"}
	m := &metrics{
		etcdWatches: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "etcd_watches",
			Help: "Open etcd watches; one per database whatever the number of subscribers.",
		}),
		databases: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "databases",
			Help: "Databases the hub serves.",
		}),
		historyUpdates: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "history_window_updates",
			Help: "Updates (etcd revisions) held in the history window.",
		}, db),
		historyBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "history_window_bytes",
			Help: "Bytes of row values held in the history window.",
		}, db),
		subscribers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "subscribers",
			Help: "Open Watch streams.",
		}, db),
		laggingSubs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "lagging_subscribers",
			Help: "Subscribers more than half their allowed lag behind the newest update.",
		}, db),
		closedSubs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "closed_subscribers_total",
			Help: "Subscribers closed by the hub, by reason (lagging, too_old, shutdown).",
		}, []string{"db", "reason"}),
		watchLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "watch_lag_revisions",
			Help: "etcd's revision minus the revision the hub applied, at the last watch response.",
		}, db),
		revision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "revision",
			Help: "The etcd revision the hub's copy of the database is current at.",
		}, db),
		watchRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "watch_restarts_total",
			Help: "etcd watches re-established after an error or close.",
		}, db),
		resyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "resyncs_total",
			Help: "Full re-reads of a database after its watch revision was compacted.",
		}, db),
		updatesPublished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "updates_total",
			Help: "Updates (etcd revisions that changed rows) published.",
		}, db),
		snapshotsServed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "snapshots_total",
			Help: "Watch streams that started with a snapshot.",
		}, db),
		historyReplays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "history_resumes_total",
			Help: "Watch streams that resumed from the history without a snapshot.",
		}, db),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{
		m.etcdWatches, m.databases, m.historyUpdates, m.historyBytes, m.subscribers,
		m.laggingSubs, m.closedSubs, m.watchLag, m.revision, m.watchRestarts,
		m.resyncs, m.updatesPublished, m.snapshotsServed, m.historyReplays,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register monitorhub metrics: %w", err)
		}
	}
	return m, nil
}
