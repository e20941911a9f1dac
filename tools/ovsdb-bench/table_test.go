package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestRenderTable(t *testing.T) {
	systems := []system{{sysRaft, "Raft"}, {sysSvc3, "3svc"}, {sysEtcd, "etcd"}}
	rs := results{}
	rs.put("w1", sysRaft, &result{metrics: map[string]float64{mTxnRate: 1000, mTxnP50: 0.5}})
	rs.put("w1", sysSvc3, &result{metrics: map[string]float64{mTxnRate: 4000, mTxnP50: 1.25}})
	rs.put("w1", sysEtcd, &result{errs: []string{"boom"}})
	rs.put("r1", sysSvc3, &result{metrics: map[string]float64{mVisP99: 12.345}, monitor: monCondSince})
	var b strings.Builder
	renderTable(&b, rs, []string{"w1", "r1"}, systems, []ratioCol{{sysSvc3, sysRaft}, {sysSvc3, sysEtcd}})
	want := `| scenario | metric | Raft | 3svc | etcd | svc3 / raft | svc3 / etcd |
|---|---|---:|---:|---:|---:|---:|
| w1 | txn/s | 1000 | 4000 | FAIL | 4.00 | n/a |
| w1 | txn p50 ms | 0.50 | 1.25 | FAIL | 2.50 | n/a |
| r1 | visible p99 ms | n/a | 12.35 | n/a | n/a | n/a |
| r1 | monitor | svc3=monitor_cond_since | | | | |
`
	if got := b.String(); got != want {
		t.Errorf("renderTable =\n%s\nwant\n%s", got, want)
	}
}

func TestRenderTableAllFailed(t *testing.T) {
	rs := results{}
	rs.put("w1", sysRaft, &result{errs: []string{"boom"}})
	var b strings.Builder
	renderTable(&b, rs, []string{"w1"}, []system{{sysRaft, "Raft"}}, nil)
	if !strings.Contains(b.String(), "| w1 | - | FAIL |") {
		t.Errorf("renderTable = %q, want a FAIL row", b.String())
	}
	var f strings.Builder
	if !renderFailures(&f, rs, []string{"w1"}, []system{{sysRaft, "Raft"}}) || !strings.Contains(f.String(), "boom") {
		t.Errorf("renderFailures = %q, want the failure listed", f.String())
	}
}

func TestTargets(t *testing.T) {
	byText := func(prefix string) target {
		for _, tg := range allTargets() {
			if strings.HasPrefix(tg.text, prefix) {
				return tg
			}
		}
		t.Fatalf("no target %q", prefix)
		return target{}
	}
	tests := []struct {
		name    string
		target  string
		results map[string]map[string]map[string]float64 // scenario, system, metric
		failed  []string                                 // systems whose run failed
		wantMet bool
		wantOK  bool
	}{
		{
			name:   "4x raft and visible p99 met",
			target: "16 writers",
			results: map[string]map[string]map[string]float64{"w16r32": {
				sysRaft: {mTxnRate: 1000, mVisP99: 20}, sysSvc3: {mTxnRate: 4000, mVisP99: 20}}},
			wantMet: true, wantOK: true,
		},
		{
			name:   "4x raft but visible p99 worse",
			target: "16 writers",
			results: map[string]map[string]map[string]float64{"w16r32": {
				sysRaft: {mTxnRate: 1000, mVisP99: 20}, sysSvc3: {mTxnRate: 5000, mVisP99: 21}}},
			wantMet: false, wantOK: true,
		},
		{
			name:    "serial p50 within 1.3x",
			target:  "1 writer",
			results: map[string]map[string]map[string]float64{"w1": {sysEtcd: {mTxnP50: 1}, sysSvc3: {mTxnP50: 1.3}}},
			wantMet: true, wantOK: true,
		},
		{
			name:    "100-row must strictly beat raft",
			target:  "100-row",
			results: map[string]map[string]map[string]float64{"w8rows100": {sysRaft: {mRowRate: 100}, sysEtcd: {mRowRate: 100}, sysSvc3: {mRowRate: 100}}},
			wantMet: false, wantOK: true,
		},
		{
			name:    "missing system",
			target:  "64 writers",
			results: map[string]map[string]map[string]float64{"w64": {sysSvc3: {mTxnRate: 100}}},
			wantOK:  false,
		},
		{
			name:    "failed run",
			target:  "64 writers",
			results: map[string]map[string]map[string]float64{"w64": {sysSvc3: {mTxnRate: 100}, sysEtcd: {mTxnRate: 1}}},
			failed:  []string{sysSvc3},
			wantOK:  false,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := results{}
			for sc, bySys := range tc.results {
				for sys, m := range bySys {
					rs.put(sc, sys, &result{metrics: m})
				}
			}
			for _, s := range tc.failed {
				for sc := range tc.results {
					rs.get(sc, s).errs = []string{"x"}
				}
			}
			met, detail, ok := byText(tc.target).eval(rs)
			if ok != tc.wantOK || (ok && met != tc.wantMet) {
				t.Errorf("eval = %v, %q, %v; want met %v ok %v", met, detail, ok, tc.wantMet, tc.wantOK)
			}
		})
	}
}

// TestCPUPerTxn checks the CPU per transaction: server and etcd CPU over
// every acknowledged transaction, and none without CPU numbers.
func TestCPUPerTxn(t *testing.T) {
	run := writerRun{acked: []int{300, 700}, lat: []time.Duration{time.Millisecond}, elapsed: 2 * time.Second}
	res := &result{}
	res.set(mServerCPU, 0.3)
	res.set(mEtcdCPU, 0.2)
	recordWriters(scenario{rowsPerTxn: 1}, run, nil, res)
	if got := res.metrics[mCPUPerTxn]; math.Abs(got-500) > 1e-9 {
		t.Errorf("CPU per txn %v us, want 500", got)
	}
	if got := res.metrics[mTxnRate]; got != 500 {
		t.Errorf("txn/s %v, want 500", got)
	}
	bare := &result{}
	recordWriters(scenario{rowsPerTxn: 1}, run, nil, bare)
	if hasMetric(bare, mCPUPerTxn) {
		t.Errorf("CPU per txn %v without CPU numbers", bare.metrics[mCPUPerTxn])
	}
}

// TestTargetFloors: a target with a floor also judges raw etcd writing
// the same bytes (etcd-ovn) against it; one without shows nothing there.
func TestTargetFloors(t *testing.T) {
	rs := results{}
	rs.put("w64", sysSvc3, &result{metrics: map[string]float64{mTxnRate: 3000}})
	rs.put("w64", sysEtcd, &result{metrics: map[string]float64{mTxnRate: 7000}})
	rs.put("w64", sysEtcdOVN, &result{metrics: map[string]float64{mTxnRate: 3500}})
	rs.put("w1", sysSvc3, &result{metrics: map[string]float64{mTxnP50: 2}})
	rs.put("w1", sysEtcd, &result{metrics: map[string]float64{mTxnP50: 1}})
	rs.put("w1", sysEtcdOVN, &result{metrics: map[string]float64{mTxnP50: 1.2}})
	rs.put("r1000", sysSvc3, &result{metrics: map[string]float64{mVisP99: 20}})
	rs.put("r1000", sysRaft, &result{metrics: map[string]float64{mVisP99: 25}})
	var b strings.Builder
	renderTargets(&b, rs, allTargets())
	out := b.String()
	for _, want := range []string{
		"| 64 writers: txn/s >= 1.5x raw etcd puts/s | MISS | 3000 svc3 vs 7000 etcd (x0.43) | MISS: 3500 etcd-ovn vs 7000 etcd (x0.50) |",
		"| 1 writer serial: txn p50 <= 1.3x raw etcd put p50 | MISS | 2.00 svc3 vs 1.00 etcd (x2.00) | PASS: 1.20 etcd-ovn vs 1.00 etcd (x1.20) |",
		"| 1,000 watchers: visible p99 <= Raft | PASS | 20.00 svc3 vs 25.00 raft (x0.80) |  |",
		"| 16 writers + 32 watchers: txn/s >= 4x Raft, visible p99 <= Raft | n/a |  |  |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("targets lack %q:\n%s", want, out)
		}
	}
}
