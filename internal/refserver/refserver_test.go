package refserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	nbSchema     = "/usr/share/ovn/ovn-nb.ovsschema"
	sbSchema     = "/usr/share/ovn/ovn-sb.ovsschema"
	clientTimout = 10 * time.Second
)

func writeSchema(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.ovsschema")
	schema := `{"name":"Small","version":"1.0.0","tables":{"T":{"columns":{"n":{"type":"integer"}},"isRoot":true}}}`
	if err := os.WriteFile(p, []byte(schema), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStart(t *testing.T) {
	small := writeSchema(t)
	tests := []struct {
		name      string
		schemas   []string
		clustered bool
		wantDBs   string
	}{
		{name: "standalone", schemas: []string{small}, wantDBs: "Small\n_Server\n"},
		{name: "clustered", schemas: []string{small}, clustered: true, wantDBs: "Small\n_Server\n"},
		{name: "OVN NB and SB clustered", schemas: []string{nbSchema, sbSchema}, clustered: true, wantDBs: "OVN_Northbound\nOVN_Southbound\n_Server\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := refserver.Start(t, refserver.Options{Schemas: tc.schemas, Clustered: tc.clustered})
			out := refserver.MustRunClient(t, clientTimout, "ovsdb-client", "list-dbs", s.Addr())
			if out != tc.wantDBs {
				t.Fatalf("list-dbs = %q, want %q", out, tc.wantDBs)
			}
			model := refserver.MustRunClient(t, clientTimout, "ovsdb-client", "--format=list", "--no-headings", "dump", s.Addr(), "_Server", "Database", "model")
			want := "standalone"
			if tc.clustered {
				want = "clustered"
			}
			if !strings.Contains(model, want) {
				t.Fatalf("_Server models %q, want %s", model, want)
			}
		})
	}
}

func TestRestartKeepsData(t *testing.T) {
	for _, clustered := range []bool{false, true} {
		t.Run(fmt.Sprintf("clustered=%v", clustered), func(t *testing.T) {
			s := refserver.Start(t, refserver.Options{Schemas: []string{writeSchema(t)}, Clustered: clustered})
			c := s.Dial(t.Context())
			if _, err := c.Call(t.Context(), "transact", "Small", map[string]any{"op": "insert", "table": "T", "row": map[string]any{"n": 42}}); err != nil {
				t.Fatal(err)
			}
			s.Restart()
			c = s.Dial(t.Context())
			res, err := c.Call(t.Context(), "transact", "Small", map[string]any{"op": "select", "table": "T", "where": []any{}, "columns": []string{"n"}})
			if err != nil {
				t.Fatal(err)
			}
			var reply []map[string][]map[string]int
			if err := json.Unmarshal(res, &reply); err != nil {
				t.Fatal(err)
			}
			if len(reply[0]["rows"]) != 1 || reply[0]["rows"][0]["n"] != 42 {
				t.Fatalf("after restart: %s", res)
			}
		})
	}
}

func TestRunClient(t *testing.T) {
	if _, err := refserver.RunClient(t.Context(), clientTimout, "no-such-ovsdb-binary"); err == nil || !strings.Contains(err.Error(), "apt-get install") {
		t.Fatalf("missing binary: %v", err)
	}
	if _, err := refserver.RunClient(t.Context(), clientTimout, "ovsdb-client", "list-dbs", "unix:/nonexistent.sock"); err == nil {
		t.Fatal("failing command returned no error")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := refserver.RunClient(ctx, clientTimout, "ovsdb-client", "--version"); err == nil {
		t.Fatal("cancelled context returned no error")
	}
}

// fatalTB records Fatalf instead of failing the real test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

func TestMissingBinaryFails(t *testing.T) {
	schema := writeSchema(t)
	t.Setenv("PATH", t.TempDir())
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		refserver.Start(f, refserver.Options{Schemas: []string{schema}})
	}()
	<-done
	if !strings.Contains(f.msg, "ovsdb-server not found") || !strings.Contains(f.msg, "apt-get install") {
		t.Fatalf("Start without ovsdb-server: %q, want a failure naming the package", f.msg)
	}
}
