package main

import (
	"fmt"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method, or 0 when ds is empty. It sorts ds in place.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(p/100*float64(len(ds)) + 0.999999999)
	if rank < 1 {
		rank = 1
	}
	if rank > len(ds) {
		rank = len(ds)
	}
	return ds[rank-1]
}

// ms converts d to fractional milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// medianResult merges runs of one scenario on one system: each metric is
// the median of the runs that have it (the mean of the middle two for an
// even count), the monitor method is the first run's, and the errors of
// every run are kept, so that one failed run fails the result.
func medianResult(runs []*result) *result {
	if len(runs) == 1 {
		return runs[0]
	}
	out := &result{}
	vals := map[string][]float64{}
	for i, r := range runs {
		if i == 0 {
			out.monitor = r.monitor
		}
		for name, v := range r.metrics {
			vals[name] = append(vals[name], v)
		}
		for _, e := range r.errs {
			out.errs = append(out.errs, fmt.Sprintf("run %d: %s", i+1, e))
		}
	}
	for name, vs := range vals {
		slices.Sort(vs)
		m := vs[len(vs)/2]
		if len(vs)%2 == 0 {
			m = (vs[len(vs)/2-1] + m) / 2
		}
		out.set(name, m)
	}
	return out
}
