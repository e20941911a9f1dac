package frontend

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are one Server's collectors, per Server so that tests can run
// several servers in one process.
type metrics struct {
	sessions       prometheus.Gauge
	monitors       prometheus.Gauge
	requests       *prometheus.CounterVec
	transactTime   prometheus.Histogram
	dropped        *prometheus.CounterVec
	backlogHigh    prometheus.Gauge
	updates        prometheus.Counter
	feedRevision   *prometheus.GaugeVec
	subscriptions  prometheus.Gauge
	resubscribes   prometheus.Counter
	updateWaitMiss prometheus.Counter
	lagging        prometheus.Gauge
	// monitorCatchUps counts new monitors that waited for their feed to
	// catch up; monitorCatchUpMiss those whose wait timed out.
	monitorCatchUps    prometheus.Counter
	monitorCatchUpMiss prometheus.Counter
	// writes counts socket writes to clients by path: "direct" from the
	// goroutine that produced the message, "writer" from the session's
	// writer goroutine (TLS, or output already queued or not taken).
	writes                    *prometheus.CounterVec
	writesDirect, writesQueue prometheus.Counter

	backlogMax atomic.Int64 // the value behind backlogHigh
}

// Reasons a session is dropped, the "reason" label.
const (
	dropBacklog     = "backlog"
	dropProbe       = "inactivity_probe"
	dropWrite       = "write_failed"
	dropProtocol    = "protocol_error"
	dropUnavailable = "txnengine_unavailable"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "ovsdb_etcd", "frontend"
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "sessions",
			Help: "Connected OVSDB clients."}),
		monitors: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "monitors",
			Help: "Active monitors of all clients."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "requests_total",
			Help: "JSON-RPC requests received, by method (\"other\" for unknown methods)."}, []string{"method"}),
		transactTime: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "transact_latency_seconds",
			Help:    "Time from a transact request to its reply being queued, including the wait for its own update.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16)}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "dropped_sessions_total",
			Help: "Clients disconnected by the server, by reason."}, []string{"reason"}),
		backlogHigh: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "backlog_high_water_mark_bytes",
			Help: "Largest unsent output any session has had queued."}),
		updates: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "update_notifications_total",
			Help: "update, update2 and update3 notifications queued to clients."}),
		feedRevision: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "feed_revision",
			Help: "etcd revision each database feed has applied."}, []string{"db"}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "monitorhub_subscriptions",
			Help: "Open subscriptions to the monitorhub: one per database, whatever the number of clients."}),
		resubscribes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "resubscribes_total",
			Help: "Database subscriptions restarted after a failure."}),
		updateWaitMiss: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "update_wait_timeouts_total",
			Help: "transact replies sent before their own update arrived (the wait timed out)."}),
		lagging: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "lagging_monitors",
			Help: "Monitors of backlogged clients whose updates are being merged per row."}),
		monitorCatchUps: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "monitor_catch_ups_total",
			Help: "New monitors that waited for their database feed to reach the last acknowledged revision."}),
		monitorCatchUpMiss: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "monitor_catch_up_timeouts_total",
			Help: "New monitors whose wait for the last acknowledged revision timed out."}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "client_writes_total",
			Help: "Writes to client connections, by path: direct (by the goroutine that produced the message) or writer (by the session's writer goroutine)."}, []string{"path"}),
	}
	m.writesDirect = m.writes.WithLabelValues("direct")
	m.writesQueue = m.writes.WithLabelValues("writer")
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sessions, m.monitors, m.requests, m.transactTime, m.dropped,
		m.backlogHigh, m.updates, m.feedRevision, m.subscriptions, m.resubscribes, m.updateWaitMiss, m.lagging,
		m.monitorCatchUps, m.monitorCatchUpMiss, m.writes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("frontend: register metrics: %w", err)
		}
	}
	return m, nil
}

// observeBacklog raises the backlog high-water mark to n.
func (m *metrics) observeBacklog(n int64) {
	for {
		cur := m.backlogMax.Load()
		if n <= cur {
			return
		}
		if m.backlogMax.CompareAndSwap(cur, n) {
			m.backlogHigh.Set(float64(n))
			return
		}
	}
}
