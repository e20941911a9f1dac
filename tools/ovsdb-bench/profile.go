package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// profiler fetches CPU profiles from the ovsdb-etcd and etcd processes of
// a load scenario while its writers run (-profile DIR), for the pprof
// analysis the benchmark's misses need. Each process must serve
// /debug/pprof on its proc.pprof base URL.
type profiler struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []string
}

// profileArgs returns the flags that make an ovsdb-etcd role serve pprof
// on a fresh loopback port, and that base URL; none without -profile.
func (e *env) profileArgs() ([]string, string, error) {
	if e.profileDir == "" {
		return nil, "", nil
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	return []string{"--metrics-listen", addr}, "http://" + addr, nil
}

// startProfiles starts one CPU profile of d per profiled process of in,
// written to dir/<scenario>-<system>-<process>.pprof.
func startProfiles(ctx context.Context, dir, scenario string, in *instance, d time.Duration) *profiler {
	pr := &profiler{}
	secs := max(1, int(d/time.Second)-1)
	for _, group := range [][]*proc{in.server, in.etcd} {
		for _, p := range group {
			if p.pprof == "" {
				continue
			}
			path := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.pprof", scenario, in.id, p.name))
			pr.wg.Go(func() {
				if err := fetchProfile(ctx, p.pprof, secs, path); err != nil {
					pr.mu.Lock()
					pr.errs = append(pr.errs, fmt.Sprintf("profile %s: %v", p.name, err))
					pr.mu.Unlock()
				}
			})
		}
	}
	return pr
}

// wait returns the errors of the profiles, once all are written.
func (pr *profiler) wait() []string {
	pr.wg.Wait()
	return pr.errs
}

// fetchProfile writes a CPU profile of secs seconds to path, then the
// process's Prometheus metrics (batch sizes, commit latency) as they
// stand at its end to path with ".metrics" for ".pprof".
func fetchProfile(ctx context.Context, base string, secs int, path string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs+30)*time.Second)
	defer cancel()
	if err := fetch(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, secs), path); err != nil {
		return err
	}
	return fetch(ctx, base+"/metrics", strings.TrimSuffix(path, ".pprof")+".metrics")
}

// fetch writes the body of a GET of url to path.
func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
