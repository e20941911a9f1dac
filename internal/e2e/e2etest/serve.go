package e2etest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/etcdtest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// WaitServing polls addr with list_dbs until it lists every database in
// want, the child p (if not nil) exits, or ReadyTimeout passes; then p is
// sent SIGQUIT so that its goroutines are in the logged output.
func WaitServing(t testing.TB, p *Proc, addr string, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	var last error
	for {
		if last = probeDBs(ctx, addr, want); last == nil {
			return
		}
		var exited <-chan struct{}
		if p != nil {
			exited = p.exited
		}
		select {
		case <-exited:
			t.Fatalf("%s exited before serving %s: %v (last probe: %v)", p.name, addr, p.err, last)
		case <-ctx.Done():
			if p != nil {
				p.Quit()
			}
			t.Fatalf("%s not serving after %v: %v", addr, ReadyTimeout, last)
		case <-tick.C:
		}
	}
}

func probeDBs(ctx context.Context, addr string, want []string) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := jsonrpc.Dial(pctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	raw, err := c.Call(pctx, "list_dbs")
	if err != nil {
		return err
	}
	for _, db := range want {
		if !bytes.Contains(raw, []byte(`"`+db+`"`)) {
			return errors.New("list_dbs " + string(raw) + " lacks " + db)
		}
	}
	return nil
}

// Transact sends one transact over a fresh connection and returns the
// decoded result array. It fails the test only when the call itself fails:
// checking the operations' results is the caller's.
func Transact(t testing.TB, addr, db string, ops ...any) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), ClientTimeout)
	defer cancel()
	c, err := jsonrpc.Dial(ctx, addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	raw, err := c.Call(ctx, "transact", append([]any{db}, ops...)...)
	if err != nil {
		t.Fatalf("transact on %s: %v", addr, err)
	}
	var res []map[string]any
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("transact on %s: decode %s: %v", addr, raw, err)
	}
	return res
}

// Scrape reads the prometheus text exposition at url.
func Scrape(t testing.TB, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return mfs
}

// ShortDir returns a fresh temporary directory, removed at cleanup, whose
// path is short enough for unix sockets inside it (t.TempDir() of a
// subtest may not be: sun_path holds 107 bytes).
func ShortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "e2e") //nolint:usetesting // t.TempDir() of a subtest can exceed the unix socket path limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// FreePort returns a loopback TCP port that was free a moment ago, below
// the ephemeral range (etcdtest.FreePort): a port the kernel handed out
// for ":0" can be given to an outgoing connection before the child that
// is told to listen on it binds it.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := etcdtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
