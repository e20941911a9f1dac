package frontend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestDirectWritesKeepOrder: a monitoring client that does not read while
// far more than its socket buffer is sent to it still receives every
// update whole and in commit order, then the reply to a request it sent
// after them. With direct writes, messages start as direct writes, the
// socket then takes part of one, and the writer goroutine sends the
// rest; without them, every write is the writer goroutine's.
func TestDirectWritesKeepOrder(t *testing.T) {
	for _, direct := range []bool{true, false} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) {
			env := startServer(t, func(c *Config) {
				c.DirectWrites = direct
				c.LagBacklogBytes = 1 << 30 // no merging: every update is sent
				c.InactivityProbeInterval = 0
			})
			rc := dialRaw(t, env.sock)
			rc.send(`{"method":"monitor_cond","params":["T","m",{"A":{"columns":["s","i"]}}],"id":1}`)
			rc.recv()

			// The writer monitors T as an IDL does, so each transact
			// reply waits until the feed has queued that update to
			// every monitor, rc's included (a writer without monitors
			// is answered without that wait), and the echo below is
			// queued behind all 40.
			writer := dial(t, env.addr(), func(string, json.RawMessage) {})
			call(t, writer, "monitor_cond", "T", "w", map[string]any{"A": map[string]any{"columns": []string{"i"}}})
			call(t, writer, "transact", "T", map[string]any{"op": "insert", "table": "A", "row": map[string]any{"s": "row", "i": 100}})
			// 40 updates of 64 KiB: several times a unix socket's buffer.
			big := strings.Repeat("q", 64<<10)
			const txns = 40
			for i := 1; i <= txns; i++ {
				call(t, writer, "transact", "T", map[string]any{"op": "update", "table": "A", "where": []any{},
					"row": map[string]any{"s": fmt.Sprintf("%s-%d", big, i), "i": 100 + i}})
			}
			rc.send(`{"method":"echo","params":["after"],"id":"e"}`)

			for i := 0; i <= txns; i++ {
				b := rc.recv()
				if !bytes.HasPrefix(b, []byte(`{"id":null,"method":"update2","params":["m",`)) {
					t.Fatalf("message %d: %.200s", i, b)
				}
				if !bytes.Contains(b, fmt.Appendf(nil, `"i":%d`, 100+i)) {
					t.Fatalf("message %d is not update %d: %.120s...%s", i, i, b, b[max(0, len(b)-80):])
				}
				if i > 0 && !bytes.Contains(b, fmt.Appendf(nil, `%s-%d"`, big, i)) {
					t.Fatalf("update %d lacks its whole value", i)
				}
			}
			if b := rc.recv(); string(b) != `{"id":"e","result":["after"],"error":null}` {
				t.Fatalf("echo reply = %s", b)
			}

			d, q := counterValue(t, env.srv.metrics.writesDirect), counterValue(t, env.srv.metrics.writesQueue)
			t.Logf("direct writes %v, writer goroutine writes %v", d, q)
			if direct && (d == 0 || q == 0) {
				t.Fatalf("direct writes %v, writer writes %v: want both paths taken", d, q)
			}
			if !direct && d != 0 {
				t.Fatalf("direct writes %v with DirectWrites off", d)
			}
		})
	}
}
