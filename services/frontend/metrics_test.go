package frontend

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// gatherValue returns the value of an unlabelled gauge or counter.
func gatherValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		m := mf.GetMetric()[0]
		if g := m.GetGauge(); g != nil {
			return g.GetValue()
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestOneSubscriptionPerDatabase: however many clients monitor, the
// frontend holds one monitorhub subscription per database.
func TestOneSubscriptionPerDatabase(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	env := startServer(t, func(c *Config) { c.Registerer = reg })
	const clients = 5
	for i := range clients {
		c := dial(t, env.addr(), nil)
		call(t, c, "monitor_cond", "T", i, map[string]any{"A": map[string]any{}})
	}
	for name, want := range map[string]float64{
		"ovsdb_etcd_frontend_monitorhub_subscriptions": 1,
		"ovsdb_etcd_frontend_monitors":                 clients,
		"ovsdb_etcd_frontend_sessions":                 clients,
	} {
		if got := gatherValue(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}
