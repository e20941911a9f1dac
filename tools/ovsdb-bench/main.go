package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "etcd-member" {
		memberMain(os.Args[2:])
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := benchMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the command line.
type config struct {
	systems   []string
	scenarios []string
	duration  time.Duration
	scale     float64
	schema    string
	ovsdbEtcd string
	keep      bool
	catchUp   time.Duration
	profile   string
	runs      int
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("ovsdb-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var systems, scenarios string
	var ids []string
	for _, s := range allSystems {
		ids = append(ids, s.id)
	}
	var scIDs []string
	for _, s := range defaultScenarios(1) {
		scIDs = append(scIDs, s.id)
	}
	fs.StringVar(&systems, "systems", strings.Join(ids, ","), "comma-separated systems to run: "+strings.Join(ids, ","))
	fs.StringVar(&scenarios, "scenarios", strings.Join(scIDs, ","), "comma-separated scenarios to run: "+strings.Join(scIDs, ","))
	fs.DurationVar(&cfg.duration, "duration", 4*time.Second, "how long the writers of each load scenario write")
	fs.Float64Var(&cfg.scale, "scale", 1, "multiplies the writer, watcher and row counts of the scenarios")
	fs.StringVar(&cfg.schema, "schema", "/usr/share/ovn/ovn-nb.ovsschema", "the OVN Northbound schema")
	fs.StringVar(&cfg.ovsdbEtcd, "ovsdb-etcd", "bin/ovsdb-etcd", "the ovsdb-etcd binary (make build)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the run directory (logs, databases) instead of removing it")
	fs.StringVar(&cfg.profile, "profile", "", "write CPU profiles of the ovsdb-etcd and etcd processes during each load scenario to this directory")
	fs.IntVar(&cfg.runs, "runs", 1, "run every scenario on every system this many times, systems taking turns, and report each metric's median")
	fs.DurationVar(&cfg.catchUp, "catch-up-timeout", 30*time.Second, "how long watchers may take to see the last transactions")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	cfg.systems = strings.Split(systems, ",")
	for _, s := range cfg.systems {
		if !slices.Contains(ids, s) {
			return cfg, fmt.Errorf("-systems: unknown system %q (have %s)", s, strings.Join(ids, ","))
		}
	}
	cfg.scenarios = strings.Split(scenarios, ",")
	for _, s := range cfg.scenarios {
		if !slices.Contains(scIDs, s) {
			return cfg, fmt.Errorf("-scenarios: unknown scenario %q (have %s)", s, strings.Join(scIDs, ","))
		}
	}
	if cfg.duration <= 0 || cfg.scale <= 0 || cfg.runs <= 0 {
		return cfg, errors.New("-duration, -scale and -runs must be positive")
	}
	return cfg, nil
}

// benchMain runs the benchmark and returns the exit code: 0, 1 when a
// check failed, 2 on bad usage or setup.
func benchMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "ovsdb-bench:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	raiseFileLimit(log)
	e, cleanup, err := newEnv(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "ovsdb-bench:", err)
		return 2
	}
	defer cleanup()
	var systems []system
	for _, s := range allSystems {
		if slices.Contains(cfg.systems, s.id) {
			systems = append(systems, s)
		}
	}
	var scenarios []scenario
	for _, sc := range defaultScenarios(cfg.scale) {
		if slices.Contains(cfg.scenarios, sc.id) {
			scenarios = append(scenarios, sc)
		}
	}
	loadBefore := loadAverage()
	rs := runAll(ctx, log, e, systems, scenarios, runOptions{duration: cfg.duration, catchUpTimeout: cfg.catchUp, profileDir: cfg.profile}, cfg.runs)
	fmt.Fprintf(stdout, "Machine: %d CPUs, load average %s before the run and %s after; "+
		"other load on the machine makes the numbers noisy, so compare systems within one run.\n",
		runtime.NumCPU(), loadBefore, loadAverage())
	if cfg.runs > 1 {
		fmt.Fprintf(stdout, "Every cell is the median of %d runs (-runs); a check failed in any run fails the cell.\n", cfg.runs)
	}
	fmt.Fprintln(stdout)
	report(stdout, rs, systems, scenarios)
	for _, sc := range scenarios {
		for _, s := range systems {
			if rs.get(sc.id, s.id).failed() {
				return 1
			}
		}
	}
	return 0
}

func newEnv(cfg config) (*env, func(), error) {
	if _, err := os.Stat(cfg.schema); err != nil {
		return nil, nil, fmt.Errorf("schema: %w (install ovn-central, or make deps)", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("own executable: %w", err)
	}
	bin := cfg.ovsdbEtcd
	if abs, absErr := filepath.Abs(bin); absErr == nil {
		bin = abs
	}
	// A short directory, so that unix socket paths stay under 108 bytes.
	dir, err := os.MkdirTemp("", "ovsdb-bench")
	if err != nil {
		return nil, nil, fmt.Errorf("run directory: %w", err)
	}
	cleanup := func() {
		if cfg.keep {
			fmt.Fprintln(os.Stderr, "ovsdb-bench: kept", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}
	if cfg.profile != "" {
		if merr := os.MkdirAll(cfg.profile, 0o755); merr != nil {
			return nil, nil, fmt.Errorf("-profile: %w", merr)
		}
	}
	ovn, err := newOVNValues(cfg.schema)
	if err != nil {
		return nil, nil, err
	}
	return &env{schema: cfg.schema, ovsdbEtcd: bin, self: self, dir: dir, profileDir: cfg.profile, ovn: ovn, keep: cfg.keep}, cleanup, nil
}

func runAll(ctx context.Context, log *slog.Logger, e *env, systems []system, scenarios []scenario, opts runOptions, runs int) results {
	rs := results{}
	for _, sc := range scenarios {
		// Systems take turns, so that a slow spell of the machine does not
		// fall on one system's runs only.
		all := map[string][]*result{}
		for run := range runs {
			for _, s := range systems {
				if ctx.Err() != nil {
					return rs
				}
				t0 := time.Now()
				log.Info("running", "scenario", sc.id, "system", s.id, "run", run+1)
				r := runScenario(ctx, e, s.id, sc, opts)
				all[s.id] = append(all[s.id], r)
				rs.put(sc.id, s.id, medianResult(all[s.id]))
				if r.failed() {
					log.Error("failed", "scenario", sc.id, "system", s.id, "err", strings.Join(r.errs, "; "))
				} else {
					log.Info("done", "scenario", sc.id, "system", s.id, "took", time.Since(t0).Round(time.Millisecond))
				}
			}
		}
	}
	return rs
}

// ratios are the ratio columns: ovsdb-etcd on 3-member etcd against the
// Raft cluster, raw etcd, and raw etcd writing the same bytes.
var ratios = []ratioCol{{sysSvc3, sysRaft}, {sysSvc3, sysEtcd}, {sysSvc3, sysEtcdOVN}}

func report(w io.Writer, rs results, systems []system, scenarios []scenario) {
	fmt.Fprintln(w, "Scenarios:")
	var ids []string
	for _, sc := range scenarios {
		fmt.Fprintf(w, "- %s: %s (writers %d, watchers %d, rows/txn %d", sc.id, sc.desc, sc.writers, sc.watchers, sc.rowsPerTxn)
		if sc.preload > 0 {
			fmt.Fprintf(w, ", rows %d", sc.preload)
		}
		fmt.Fprintln(w, ")")
		ids = append(ids, sc.id)
	}
	fmt.Fprintln(w)
	var rcs []ratioCol
	for _, rc := range ratios {
		if hasSystem(systems, rc.num) && hasSystem(systems, rc.den) {
			rcs = append(rcs, rc)
		}
	}
	renderTable(w, rs, ids, systems, rcs)
	renderTargets(w, rs, allTargets())
	renderFailures(w, rs, ids, systems)
}

func hasSystem(systems []system, id string) bool {
	return slices.ContainsFunc(systems, func(s system) bool { return s.id == id })
}

// loadAverage returns the 1-minute load average, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// raiseFileLimit lifts the soft limit on open files to the hard one, for
// this process and, through inheritance, the servers it starts: 1,000
// watchers need more than the usual 1,024 descriptors.
func raiseFileLimit(log *slog.Logger) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("getrlimit", "err", err)
		return
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("setrlimit", "err", err)
	}
}
