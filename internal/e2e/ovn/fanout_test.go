package ovn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// Shape of the fan-out test.
const (
	fanoutClients = 200
	fanoutTxns    = 60
	// bigRows rows of Logical_Switch get a bigName-byte name in every
	// transaction, so that the stalled client's unsent output grows well
	// past the lag threshold and the socket buffers.
	bigRows = 4
	bigName = 16 << 10
	// fanoutLagBytes is the frontend's --lag-backlog-bytes in this test.
	fanoutLagBytes = 64 << 10
	// fanoutBacklogBound is what the stalled client's backlog may reach:
	// merged per row, it holds about one big name per row past the lag
	// threshold, never all fanoutTxns of them.
	fanoutBacklogBound = fanoutLagBytes + 4*bigRows*bigName
	// fanoutTimeout bounds the stream and its delivery.
	fanoutTimeout = 3 * time.Minute
)

// seqClient records the nb_cfg values a monitoring client receives.
type seqClient struct {
	mu   sync.Mutex // mu guards seen and done
	seen []int
	done chan struct{} // closed when fanoutTxns is seen
}

// handle returns the client's notification handler; it reports bad
// updates through errorf.
func (s *seqClient) handle(errorf func(format string, args ...any)) jsonrpc.NotificationHandler {
	return func(method string, params json.RawMessage) {
		if method != "update2" {
			return
		}
		var p []json.RawMessage
		var body map[string]map[string]map[string]map[string]any
		if json.Unmarshal(params, &p) != nil || len(p) != 2 || json.Unmarshal(p[1], &body) != nil {
			errorf("bad update2 %s", params)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, ch := range body["NB_Global"] {
			if row, ok := ch["modify"]; ok {
				if v, ok := row["nb_cfg"].(float64); ok {
					s.seen = append(s.seen, int(v))
					if int(v) == fanoutTxns {
						close(s.done)
					}
				}
			}
		}
	}
}

// bigValue is the name of big row r after transaction i.
func bigValue(r, i int) string {
	return fmt.Sprintf("big%d-%03d-", r, i) + strings.Repeat("x", bigName)
}

// TestFanOutWithStalledClient has 200 clients monitor NB_Global.nb_cfg
// while one writer commits a stream of transactions; each client must see
// every value in order, none lost or duplicated. One more client monitors
// big rows too and stops reading its socket: the frontend's backlog for it
// must stay bounded (merged per row) and, when it reads again, it must
// receive the final state.
func TestFanOutWithStalledClient(t *testing.T) {
	port := e2etest.FreePort(t)
	a := startAllInOne(t, "--metrics-listen", "127.0.0.1:"+strconv.Itoa(port),
		"--lag-backlog-bytes", strconv.Itoa(fanoutLagBytes),
		// The stalled client neither reads nor answers echo while stalled.
		"--inactivity-probe", "0")
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	ctx, cancel := context.WithTimeout(t.Context(), fanoutTimeout)
	defer cancel()

	setup := []any{map[string]any{"op": "insert", "table": "NB_Global", "row": map[string]any{"nb_cfg": 0}}}
	for r := range bigRows {
		setup = append(setup, map[string]any{"op": "insert", "table": "Logical_Switch", "uuid-name": fmt.Sprintf("b%d", r),
			"row": map[string]any{"name": fmt.Sprintf("big%d", r)}})
	}
	res := transact(t, a.Addr(), nbDB, setup...)
	bigUUIDs := make([]string, bigRows)
	for r := range bigRows {
		bigUUIDs[r] = res[1+r]["uuid"].([]any)[1].(string)
	}

	clients := make([]*seqClient, fanoutClients)
	for i := range clients {
		s := &seqClient{done: make(chan struct{})}
		clients[i] = s
		c := dial(t, a.Addr(), jsonrpc.WithNotificationHandler(s.handle(t.Errorf)))
		call(t, c, "monitor_cond", nbDB, "seq", map[string]any{"NB_Global": []any{map[string]any{"columns": []string{"nb_cfg"}}}})
	}

	// The stalled client: a raw socket that asks for a monitor and then
	// does not read.
	stalled, err := net.Dial("unix", a.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	req, err := jsonrpc.NewRequest(1, "monitor_cond", nbDB, "stall", map[string]any{
		"NB_Global":      []any{map[string]any{"columns": []string{"nb_cfg"}}},
		"Logical_Switch": []any{map[string]any{"columns": []string{"name"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, werr := stalled.Write(raw); werr != nil {
		t.Fatal(werr)
	}

	w, err := jsonrpc.Dial(ctx, a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 1; i <= fanoutTxns; i++ {
		ops := []any{map[string]any{"op": "update", "table": "NB_Global", "where": []any{}, "row": map[string]any{"nb_cfg": i}}}
		r := i % bigRows
		ops = append(ops, map[string]any{"op": "update", "table": "Logical_Switch",
			"where": []any{[]any{"_uuid", "==", []any{"uuid", bigUUIDs[r]}}}, "row": map[string]any{"name": bigValue(r, i)}})
		if _, err := w.Call(ctx, "transact", append([]any{nbDB}, ops...)...); err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
	}

	for i, s := range clients {
		select {
		case <-s.done:
		case <-ctx.Done():
			s.mu.Lock()
			t.Fatalf("client %d: saw %d updates (last %v) after %v", i, len(s.seen), s.seen[max(0, len(s.seen)-3):], fanoutTimeout)
			s.mu.Unlock()
		}
	}
	for i, s := range clients {
		s.mu.Lock()
		for j, v := range s.seen {
			if v != j+1 {
				t.Errorf("client %d: update %d is nb_cfg=%d, want %d (lost, duplicated or out of order): %v", i, j, v, j+1, s.seen)
				break
			}
		}
		if len(s.seen) != fanoutTxns {
			t.Errorf("client %d: %d updates, want %d", i, len(s.seen), fanoutTxns)
		}
		s.mu.Unlock()
	}

	// The frontend's backlog metrics, where the binary exports them (the
	// bound itself is checked below on what the client receives).
	mfs := e2etest.Scrape(t, metricsURL)
	if high, ok := gauge(mfs, "ovsdb_etcd_frontend_backlog_high_water_mark_bytes"); ok {
		t.Logf("while stalled: backlog high-water mark %v bytes", high)
		if high > fanoutBacklogBound {
			t.Errorf("backlog high-water mark %v bytes, want at most %d: the stalled client's updates are not merged", high, fanoutBacklogBound)
		}
	} else {
		t.Logf("no ovsdb_etcd_frontend_* metrics at --metrics-listen")
	}

	// Resume reading: the stalled client must converge on the final state.
	want := map[string]string{}
	for r := range bigRows {
		last := fanoutTxns - (fanoutTxns-r)%bigRows
		want[bigUUIDs[r]] = bigValue(r, last)
	}
	if err := stalled.SetReadDeadline(time.Now().Add(e2etest.ClientTimeout)); err != nil {
		t.Fatal(err)
	}
	counted := &countingReader{r: stalled}
	dec := json.NewDecoder(counted)
	names := map[string]string{}
	nbCfg, msgs := -1, 0
	converged := func() bool {
		if nbCfg != fanoutTxns {
			return false
		}
		for u, v := range want {
			if names[u] != v {
				return false
			}
		}
		return true
	}
	for !converged() {
		var m struct {
			Method string            `json:"method"`
			Params []json.RawMessage `json:"params"`
			Result json.RawMessage   `json:"result"`
			Error  json.RawMessage   `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				t.Fatalf("the stalled client was disconnected after %d messages (nb_cfg %d)", msgs, nbCfg)
			}
			t.Fatalf("the stalled client: after %d messages (nb_cfg %d): %v", msgs, nbCfg, err)
		}
		msgs++
		var body json.RawMessage
		switch {
		case m.Method == "update2" && len(m.Params) == 2:
			body = m.Params[1]
		case m.Method == "" && m.Result != nil:
			body = m.Result
		default:
			continue
		}
		var upd map[string]map[string]map[string]map[string]any
		if err := json.Unmarshal(body, &upd); err != nil {
			t.Fatalf("stalled client: bad update %s: %v", body, err)
		}
		for _, ch := range upd["NB_Global"] {
			for _, row := range ch {
				if v, ok := row["nb_cfg"].(float64); ok {
					nbCfg = int(v)
				}
			}
		}
		for u, ch := range upd["Logical_Switch"] {
			for _, row := range ch {
				if v, ok := row["name"].(string); ok {
					names[u] = v
				}
			}
		}
	}
	t.Logf("the stalled client converged on the final state after %d messages, %d bytes, for %d transactions (%d bytes unmerged)",
		msgs, counted.n, fanoutTxns, fanoutTxns*bigName)
	// What it read was queued while it stalled: the socket buffers plus
	// the frontend's backlog. Merged per row, that is far less than the
	// stream.
	if counted.n > fanoutReadBound {
		t.Errorf("the stalled client read %d bytes to converge, want at most %d: its updates were not merged", counted.n, fanoutReadBound)
	}
}

// fanoutReadBound bounds what the stalled client reads to converge: the
// kernel's unix socket buffering (about 200 KiB of send buffer) plus the
// merged backlog.
const fanoutReadBound = 256<<10 + fanoutBacklogBound

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
