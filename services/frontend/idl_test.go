package frontend

import (
	"context"
	"os/exec"
	"strings"
	"testing"
)

// TestPythonIDL runs the OVS Python IDL (Debian python3-openvswitch, with
// Debian's /usr/bin/python3) against the frontend: its connect sequence
// (_Server schema and monitor, set_db_change_aware, monitor_cond_since),
// a replica that follows another client's commit, and a transaction of
// its own.
func TestPythonIDL(t *testing.T) {
	env := startServer(t, nil)
	c := dial(t, env.addr(), nil)
	call(t, c, "transact", "T", map[string]any{"op": "insert", "table": "A", "row": map[string]any{"s": "from-go"}})

	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/idl.py", env.addr(), testSchemaPath).CombinedOutput()
	if err != nil {
		t.Fatalf("python IDL: %v\n%s\n(needs Debian python3-openvswitch: apt-get install -y python3-openvswitch)", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "from-go,from-python" {
		t.Fatalf("python IDL saw %q", got)
	}
	r := call(t, c, "transact", "T", map[string]any{"op": "select", "table": "A", "where": []any{[]any{"s", "==", "from-python"}}, "columns": []any{"s"}})
	if string(r) != `[{"rows":[{"s":"from-python"}]}]` {
		t.Fatalf("select = %s", r)
	}
}
