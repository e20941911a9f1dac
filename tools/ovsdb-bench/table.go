package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Metric names, in the order the table shows them.
const (
	mTxnRate    = "txn/s"
	mRowRate    = "rows/s"
	mTxnP50     = "txn p50 ms"
	mTxnP99     = "txn p99 ms"
	mVisP50     = "visible p50 ms"
	mVisP99     = "visible p99 ms"
	mLoad       = "load s"
	mInitial    = "initial state s"
	mLeader     = "new leader ready s"
	mServerRSS  = "server peak RSS MiB"
	mServerCPU  = "server CPU s"
	mEtcdRSS    = "etcd peak RSS MiB"
	mEtcdCPU    = "etcd CPU s"
	mCPUPerTxn  = "server+etcd CPU us/txn"
	mMonitor    = "monitor"
	naText      = "n/a"
	failText    = "FAIL"
	ratioDigits = 2
)

var metricOrder = []string{mTxnRate, mRowRate, mTxnP50, mTxnP99, mVisP50, mVisP99,
	mLoad, mInitial, mLeader, mServerRSS, mServerCPU, mEtcdRSS, mEtcdCPU, mCPUPerTxn}

// result is what one system did in one scenario.
type result struct {
	metrics map[string]float64
	// monitor is the monitor method the watchers used, if any.
	monitor string
	// errs, when not empty, make the result a FAIL.
	errs []string
}

func (r *result) set(name string, v float64) {
	if r.metrics == nil {
		r.metrics = map[string]float64{}
	}
	r.metrics[name] = v
}

func hasMetric(r *result, m string) bool {
	_, ok := r.metrics[m]
	return ok
}

func (r *result) failed() bool { return r != nil && len(r.errs) > 0 }

// results holds every result by scenario name, then system id.
type results map[string]map[string]*result

func (rs results) get(scenario, system string) *result {
	return rs[scenario][system]
}

func (rs results) put(scenario, system string, r *result) {
	if rs[scenario] == nil {
		rs[scenario] = map[string]*result{}
	}
	rs[scenario][system] = r
}

// value returns a metric, ok false when it is missing or the run failed.
func (rs results) value(scenario, system, metric string) (float64, bool) {
	r := rs.get(scenario, system)
	if r == nil || r.failed() {
		return 0, false
	}
	v, ok := r.metrics[metric]
	return v, ok
}

// ratioCol is a ratio column: system num over system den.
type ratioCol struct{ num, den string }

func formatValue(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// renderTable writes one markdown table: a row per scenario and metric, a
// column per system, then the ratio columns.
func renderTable(w io.Writer, rs results, scenarios []string, systems []system, ratios []ratioCol) {
	var b strings.Builder
	b.WriteString("| scenario | metric |")
	sep := "|---|---|"
	for _, s := range systems {
		b.WriteString(" " + s.title + " |")
		sep += "---:|"
	}
	for _, rc := range ratios {
		fmt.Fprintf(&b, " %s / %s |", rc.num, rc.den)
		sep += "---:|"
	}
	b.WriteString("\n" + sep + "\n")
	for _, sc := range scenarios {
		var metrics []string
		for _, m := range metricOrder {
			for _, s := range systems {
				if r := rs.get(sc, s.id); r != nil && !r.failed() && hasMetric(r, m) {
					metrics = append(metrics, m)
					break
				}
			}
		}
		anyFail := false
		for _, s := range systems {
			anyFail = anyFail || rs.get(sc, s.id).failed()
		}
		if len(metrics) == 0 && anyFail {
			metrics = []string{"-"}
		}
		for _, m := range metrics {
			fmt.Fprintf(&b, "| %s | %s |", sc, m)
			for _, s := range systems {
				r := rs.get(sc, s.id)
				switch {
				case r == nil:
					b.WriteString(" " + naText + " |")
				case r.failed():
					b.WriteString(" " + failText + " |")
				default:
					if v, ok := r.metrics[m]; ok {
						b.WriteString(" " + formatValue(v) + " |")
					} else {
						b.WriteString(" " + naText + " |")
					}
				}
			}
			for _, rc := range ratios {
				n, ok1 := rs.value(sc, rc.num, m)
				d, ok2 := rs.value(sc, rc.den, m)
				if ok1 && ok2 && d != 0 {
					fmt.Fprintf(&b, " %.*f |", ratioDigits, n/d)
				} else {
					b.WriteString(" " + naText + " |")
				}
			}
			b.WriteString("\n")
		}
		var mons []string
		for _, s := range systems {
			if r := rs.get(sc, s.id); r != nil && r.monitor != "" {
				mons = append(mons, s.id+"="+r.monitor)
			}
		}
		if len(mons) > 0 {
			fmt.Fprintf(&b, "| %s | %s | %s |%s\n", sc, mMonitor, strings.Join(mons, ", "),
				strings.Repeat(" |", len(systems)-1+len(ratios)))
		}
	}
	_, _ = io.WriteString(w, b.String())
}

// target is one of issue 6's targets.
type target struct {
	text string
	// eval returns whether the target is met; ok is false when the run
	// lacks the numbers (a system or scenario not run, or failed).
	eval func(rs results) (met bool, detail string, ok bool)
	// floor, if set, is the same target for raw etcd writing the same
	// bytes (etcd-ovn): it costs etcd what ovsdb-etcd's commits cost it
	// and nothing else, so where it misses the target no etcd-backed
	// system can meet it on this machine.
	floor *target
}

// withFloor sets t's floor.
func (t target) withFloor(f target) target {
	t.floor = &f
	return t
}

// ratioTarget: metric of system a (ovsdb-etcd on 3-member etcd, or its
// floor) in scenario sc compared with factor times the metric of system
// b; lessIsBetter flips the comparison.
func ratioTarget(text, sc, metric, a, b string, factor float64, lessIsBetter, strict bool) target {
	return target{text: text, eval: func(rs results) (bool, string, bool) {
		va, ok1 := rs.value(sc, a, metric)
		vb, ok2 := rs.value(sc, b, metric)
		if !ok1 || !ok2 {
			return false, "", false
		}
		limit := factor * vb
		detail := fmt.Sprintf("%s %s vs %s %s (x%.2f)", formatValue(va), a, formatValue(vb), b, ratio(va, vb))
		switch {
		case lessIsBetter:
			return va <= limit, detail, true
		case strict:
			return va > limit, detail, true
		default:
			return va >= limit, detail, true
		}
	}}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.Inf(1)
	}
	return a / b
}

func allTargets() []target {
	both := func(text string, ts ...target) target {
		return target{text: text, eval: func(rs results) (bool, string, bool) {
			met := true
			var details []string
			for _, t := range ts {
				m, d, ok := t.eval(rs)
				if !ok {
					return false, "", false
				}
				met = met && m
				details = append(details, d)
			}
			return met, strings.Join(details, "; "), true
		}}
	}
	const a, floor = sysSvc3, sysEtcdOVN
	return []target{
		both("16 writers + 32 watchers: txn/s >= 4x Raft, visible p99 <= Raft",
			ratioTarget("", "w16r32", mTxnRate, a, sysRaft, 4, false, false),
			ratioTarget("", "w16r32", mVisP99, a, sysRaft, 1, true, false)).
			withFloor(ratioTarget("", "w16r32", mTxnRate, floor, sysRaft, 4, false, false)),
		ratioTarget("64 writers: txn/s >= 1.5x raw etcd puts/s", "w64", mTxnRate, a, sysEtcd, 1.5, false, false).
			withFloor(ratioTarget("", "w64", mTxnRate, floor, sysEtcd, 1.5, false, false)),
		ratioTarget("1 writer serial: txn p50 <= 1.3x raw etcd put p50", "w1", mTxnP50, a, sysEtcd, 1.3, true, false).
			withFloor(ratioTarget("", "w1", mTxnP50, floor, sysEtcd, 1.3, true, false)),
		both("100-row transactions: rows/s > Raft and >= 0.75x raw etcd 100-key Txns",
			ratioTarget("", "w8rows100", mRowRate, a, sysRaft, 1, false, true),
			ratioTarget("", "w8rows100", mRowRate, a, sysEtcd, 0.75, false, false)).
			withFloor(both("",
				ratioTarget("", "w8rows100", mRowRate, floor, sysRaft, 1, false, true),
				ratioTarget("", "w8rows100", mRowRate, floor, sysEtcd, 0.75, false, false))),
		ratioTarget("1,000 watchers: visible p99 <= Raft", "r1000", mVisP99, a, sysRaft, 1, true, false),
		ratioTarget("100,000 rows: frontend+txnengine+monitorhub RSS <= 2x standalone ovsdb-server", "rows100k", mServerRSS, a, sysStandalone, 2, true, false),
	}
}

// renderTargets writes the targets with PASS, MISS or n/a.
func renderTargets(w io.Writer, rs results, targets []target) {
	var b strings.Builder
	b.WriteString("\n| target (ovsdb-etcd 3-services on 3-member etcd) | result | numbers | the same target for raw etcd writing the same bytes (etcd-ovn) |\n|---|---|---|---|\n")
	for _, t := range targets {
		verdict, detail := judge(t, rs)
		floor := ""
		if t.floor != nil {
			if v, d := judge(*t.floor, rs); v != naText {
				floor = v + ": " + d
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.text, verdict, detail, floor)
	}
	_, _ = io.WriteString(w, b.String())
}

// judge returns PASS, MISS or n/a, with the numbers.
func judge(t target, rs results) (verdict, detail string) {
	met, detail, ok := t.eval(rs)
	switch {
	case ok && met:
		return "PASS", detail
	case ok:
		return "MISS", detail
	}
	return naText, detail
}

// renderFailures lists the problems of failed runs.
func renderFailures(w io.Writer, rs results, scenarios []string, systems []system) bool {
	var b strings.Builder
	for _, sc := range scenarios {
		for _, s := range systems {
			if r := rs.get(sc, s.id); r.failed() {
				fmt.Fprintf(&b, "- FAIL %s on %s:\n", sc, s.id)
				for _, e := range r.errs {
					fmt.Fprintf(&b, "  - %s\n", e)
				}
			}
		}
	}
	if b.Len() == 0 {
		return false
	}
	_, _ = io.WriteString(w, "\nFailures:\n"+b.String())
	return true
}
