package ovn

import (
	"fmt"
	"strconv"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
)

// gauge sums the gauge (or counter) values of a metric family; ok is
// false when the family is missing.
func gauge(mfs map[string]*dto.MetricFamily, name string) (sum float64, ok bool) {
	mf, ok := mfs[name]
	if !ok {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		sum += m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
	}
	return sum, true
}

// watchClients is how many clients monitor both databases.
const watchClients = 60

// TestOneEtcdWatchPerDatabase has many clients monitor NB and SB through
// all-in-one and checks through --metrics-listen that the monitorhub
// holds one etcd watch per database, before and with the clients.
func TestOneEtcdWatchPerDatabase(t *testing.T) {
	port := e2etest.FreePort(t)
	a := startAllInOne(t, "--metrics-listen", "127.0.0.1:"+strconv.Itoa(port))
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)

	check := func(when string) {
		t.Helper()
		mfs := e2etest.Scrape(t, url)
		watches, ok := gauge(mfs, "ovsdb_etcd_monitorhub_etcd_watches")
		if !ok {
			t.Fatalf("%s: no ovsdb_etcd_monitorhub_etcd_watches metric", when)
		}
		dbs, ok := gauge(mfs, "ovsdb_etcd_monitorhub_databases")
		if !ok {
			t.Fatalf("%s: no ovsdb_etcd_monitorhub_databases metric", when)
		}
		if watches != 2 || dbs != 2 {
			t.Errorf("%s: %v etcd watches for %v databases, want 2 and 2 (NB, SB)", when, watches, dbs)
		}
	}
	check("no clients")
	for i := range watchClients {
		c := dial(t, a.Addr())
		for _, db := range []string{nbDB, sbDB} {
			table := "NB_Global"
			if db == sbDB {
				table = "SB_Global"
			}
			call(t, c, "monitor_cond", db, "m-"+db, map[string]any{table: []any{map[string]any{}}})
		}
		if i%2 == 0 {
			call(t, c, "monitor_cond_since", nbDB, "since", lsMonitor, zeroUUID)
		}
	}
	check(fmt.Sprintf("%d clients with %d monitors", watchClients, watchClients*5/2))
	transact(t, a.Addr(), nbDB, map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "w"}})
	check("after a transaction")
}

// TestOneEtcdWatchPerDatabaseRoles checks the same on the role processes:
// a monitorhub serving two frontends, each with many monitoring clients,
// still holds one etcd watch per database.
func TestOneEtcdWatchPerDatabaseRoles(t *testing.T) {
	r := startRoles(t)
	for fe := range rolesFrontends {
		for i := range watchClients / 2 {
			c := dial(t, r.Addr(fe))
			call(t, c, "monitor_cond", nbDB, "nb", map[string]any{"NB_Global": []any{map[string]any{}}})
			call(t, c, "monitor_cond", sbDB, "sb", map[string]any{"SB_Global": []any{map[string]any{}}})
			if i%2 == 0 {
				call(t, c, "monitor_cond_since", nbDB, "since", lsMonitor, zeroUUID)
			}
		}
	}
	transact(t, r.Addr(0), nbDB, map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": "w"}})
	mfs := e2etest.Scrape(t, r.hubMetrics)
	watches, ok := gauge(mfs, "ovsdb_etcd_monitorhub_etcd_watches")
	if !ok {
		t.Fatal("no ovsdb_etcd_monitorhub_etcd_watches metric on the monitorhub")
	}
	subs, _ := gauge(mfs, "ovsdb_etcd_monitorhub_subscribers")
	t.Logf("%v etcd watches, %v subscribers for %d frontends with %d clients each", watches, subs, rolesFrontends, watchClients/2)
	if watches != 2 {
		t.Errorf("%v etcd watches with %d frontends and %d clients, want 2 (NB, SB)", watches, rolesFrontends, rolesFrontends*watchClients/2)
	}
	// A frontend subscribes once per database and fans out in memory.
	if want := float64(2 * rolesFrontends); subs != want {
		t.Errorf("%v monitorhub subscribers, want %v (one per frontend and database)", subs, want)
	}
}
