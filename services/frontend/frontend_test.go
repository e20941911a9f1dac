package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
	txnenginev1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/txnengine/v1"
)

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		remotes []string
		key     string
		wantErr bool
	}{
		{name: "punix", remotes: []string{"punix:/tmp/x.sock"}},
		{name: "ptcp port only", remotes: []string{"ptcp:6641"}},
		{name: "ptcp with ip", remotes: []string{"ptcp:6641:127.0.0.1"}},
		{name: "ptcp ipv6", remotes: []string{"ptcp:6641:[::1]"}},
		{name: "pssl without key", remotes: []string{"pssl:6641"}, wantErr: true},
		{name: "pssl with key", remotes: []string{"pssl:6641"}, key: "k"},
		{name: "no remote", wantErr: true},
		{name: "bad kind", remotes: []string{"tcp:1"}, wantErr: true},
		{name: "bad port", remotes: []string{"ptcp:x"}, wantErr: true},
		{name: "bad ip", remotes: []string{"ptcp:1:nope"}, wantErr: true},
		{name: "empty path", remotes: []string{"punix:"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := NewConfig()
			cfg.Remotes = tc.remotes
			cfg.PrivateKey, cfg.Certificate = tc.key, tc.key
			if err := cfg.Validate(); (err != nil) != tc.wantErr {
				t.Fatalf("Validate() = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
}

func TestDatumDiff(t *testing.T) {
	set := ovsdb.Type{Key: ovsdb.NewBaseType(ovsdb.TypeInteger), Value: ovsdb.NewBaseType(ovsdb.TypeVoid), Min: 0, Max: ovsdb.Unlimited}
	opt := ovsdb.Type{Key: ovsdb.NewBaseType(ovsdb.TypeString), Value: ovsdb.NewBaseType(ovsdb.TypeVoid), Min: 0, Max: 1}
	mp := ovsdb.Type{Key: ovsdb.NewBaseType(ovsdb.TypeString), Value: ovsdb.NewBaseType(ovsdb.TypeString), Min: 0, Max: ovsdb.Unlimited}
	ints := func(v ...int64) ovsdb.Datum {
		d := ovsdb.Datum{}
		for _, x := range v {
			d.Keys = append(d.Keys, x)
		}
		return d
	}
	strMap := func(kv ...string) ovsdb.Datum {
		d := ovsdb.Datum{Values: []ovsdb.Atom{}}
		for i := 0; i < len(kv); i += 2 {
			d.Keys = append(d.Keys, kv[i])
			d.Values = append(d.Values, kv[i+1])
		}
		return d
	}
	tests := []struct {
		name      string
		typ       ovsdb.Type
		old, new  ovsdb.Datum
		wantKeys  []ovsdb.Atom
		wantVals  []ovsdb.Atom
		wantIsMap bool
	}{
		{name: "set symmetric difference", typ: set, old: ints(1, 2), new: ints(2, 3), wantKeys: []ovsdb.Atom{int64(1), int64(3)}},
		{name: "set emptied", typ: set, old: ints(1, 2), new: ints(), wantKeys: []ovsdb.Atom{int64(1), int64(2)}},
		{name: "optional is new value", typ: opt, old: ovsdb.Datum{Keys: []ovsdb.Atom{"x"}}, new: ovsdb.Datum{}, wantKeys: nil},
		{name: "map changed added removed", typ: mp, old: strMap("k", "v", "k2", "v2"), new: strMap("k", "v9", "k3", "v3"),
			wantKeys: []ovsdb.Atom{"k", "k2", "k3"}, wantVals: []ovsdb.Atom{"v9", "v2", "v3"}, wantIsMap: true},
		{name: "map unchanged pair omitted", typ: mp, old: strMap("a", "1", "b", "2"), new: strMap("a", "1", "b", "3"),
			wantKeys: []ovsdb.Atom{"b"}, wantVals: []ovsdb.Atom{"3"}, wantIsMap: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := datumDiff(tc.typ, tc.old, tc.new)
			if fmt.Sprint(got.Keys) != fmt.Sprint(tc.wantKeys) || fmt.Sprint(got.Values) != fmt.Sprint(tc.wantVals) {
				t.Fatalf("diff = %v/%v, want %v/%v", got.Keys, got.Values, tc.wantKeys, tc.wantVals)
			}
			if (got.Values != nil) != tc.wantIsMap {
				t.Fatalf("diff is map = %v, want %v", got.Values != nil, tc.wantIsMap)
			}
		})
	}
}

// notes collects notifications in arrival order.
type notes struct {
	mu   sync.Mutex
	msgs []string
	sig  chan struct{}
}

func newNotes() *notes { return &notes{sig: make(chan struct{}, 1)} }

func (n *notes) handler(method string, params json.RawMessage) {
	n.mu.Lock()
	n.msgs = append(n.msgs, method+" "+string(params))
	n.mu.Unlock()
	select {
	case n.sig <- struct{}{}:
	default:
	}
}

func (n *notes) snapshot() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

// waitFor waits until pred holds for the notifications.
func (n *notes) waitFor(t *testing.T, what string, pred func([]string) bool) []string {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		if s := n.snapshot(); pred(s) {
			return s
		}
		select {
		case <-n.sig:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; have %q", what, n.snapshot())
		}
	}
}

// TestUpdateBeforeReply holds back the change stream until the
// transaction has committed: the reply must still come after the update.
func TestUpdateBeforeReply(t *testing.T) {
	env := startServer(t, nil)
	n := newNotes()
	c := dial(t, env.addr(), n.handler)
	call(t, c, "monitor_cond", "T", "m", map[string]any{"A": []any{map[string]any{"columns": []any{"s"}}}})

	commits := make(chan int64, 1)
	env.be.mu.Lock()
	env.be.paused = true
	env.be.commits = commits
	env.be.mu.Unlock()
	type result struct {
		r   json.RawMessage
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := c.Call(t.Context(), "transact", "T", map[string]any{"op": "insert", "table": "A", "row": map[string]any{"s": "x"}})
		done <- result{r, err}
	}()
	// The transaction has committed; its update is held back.
	select {
	case <-commits:
	case <-time.After(testTimeout):
		t.Fatal("transaction never committed")
	}
	select {
	case r := <-done:
		t.Fatalf("reply %s (err %v) arrived before the update was delivered", r.r, r.err)
	default:
	}
	env.be.resume()
	var r result
	select {
	case r = <-done:
	case <-time.After(testTimeout):
		t.Fatal("no reply")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	got := n.snapshot()
	if len(got) != 1 || !strings.HasPrefix(got[0], `update2 ["m",{"A":`) || !strings.Contains(got[0], `"insert":{"s":"x"}`) {
		t.Fatalf("notifications before the reply = %q, want the insert", got)
	}
}

// TestUpdateWaitBounded: a reply whose update never arrives is still sent
// after UpdateWaitTimeout.
func TestUpdateWaitBounded(t *testing.T) {
	env := startServer(t, func(c *Config) { c.UpdateWaitTimeout = 50 * time.Millisecond })
	c := dial(t, env.addr(), nil)
	env.be.pause()
	r := call(t, c, "transact", "T", map[string]any{"op": "insert", "table": "A", "row": map[string]any{"s": "x"}})
	if !bytes.Contains(r, []byte(`"uuid"`)) {
		t.Fatalf("reply %s", r)
	}
	env.be.resume()
}

// Inactivity probe intervals of TestInactivityProbe: short where the
// test waits for the drop, long enough where the test itself must answer
// every probe in time, even from a goroutine that a loaded -race machine
// leaves unscheduled for tens of milliseconds.
const (
	dropProbeInterval   = 50 * time.Millisecond
	answerProbeInterval = 500 * time.Millisecond
)

func TestInactivityProbe(t *testing.T) {
	t.Run("silent client dropped", func(t *testing.T) {
		env := startServer(t, func(c *Config) { c.InactivityProbeInterval = dropProbeInterval })
		rc := dialRaw(t, env.sock)
		if got := string(rc.recv()); got != `{"id":"echo","method":"echo","params":[]}` {
			t.Fatalf("probe = %s", got)
		}
		rc.expectClosed()
	})
	t.Run("answering client kept", func(t *testing.T) {
		env := startServer(t, func(c *Config) { c.InactivityProbeInterval = answerProbeInterval })
		// The jsonrpc.Client answers echo requests itself.
		c := dial(t, env.addr(), nil)
		rc := dialRaw(t, env.sock)
		for i := range 3 {
			if got := string(rc.recv()); !strings.Contains(got, `"method":"echo"`) {
				t.Fatalf("probe %d = %s", i, got)
			}
			rc.send(`{"id":"echo","result":[],"error":null}`)
		}
		call(t, c, "list_dbs")
		rc.send(`{"method":"list_dbs","params":[],"id":1}`)
		if got := string(rc.recv()); !strings.Contains(got, `"_Server"`) && !strings.Contains(got, `"echo"`) {
			t.Fatalf("reply = %s", got)
		}
	})
}

func TestCancelAndDuplicateRequestID(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	env := startServerWith(t, nil, func(next Transactor) Transactor { return &blockingTransactor{next: next, block: block} })

	rc := dialRaw(t, env.sock)
	rc.send(`{"method":"transact","params":["T",{"op":"comment","comment":"BLOCK"}],"id":"w1"}`)
	rc.send(`{"method":"transact","params":["T",{"op":"comment","comment":"x"}],"id":"w1"}`)
	got := string(rc.recv())
	want := `{"id":"w1","error":{"details":"transact: duplicate request ID","error":"syntax error","syntax":"[\"T\",{\"comment\":\"x\",\"op\":\"comment\"}]"}}`
	if got != want {
		t.Fatalf("duplicate id reply\n got %s\nwant %s", got, want)
	}
	rc.send(`{"method":"cancel","params":["w1"],"id":null}`)
	rc.send(`{"method":"transact","params":["T",{"op":"comment","comment":"x"}],"id":"w1"}`)
	if got := string(rc.recv()); got != `{"id":"w1","result":[{}],"error":null}` {
		t.Fatalf("after cancel: %s", got)
	}
	rc.send(`{"method":"echo","params":[],"id":"e"}`)
	if got := string(rc.recv()); got != `{"id":"e","result":[],"error":null}` {
		t.Fatalf("canceled request answered? got %s", got)
	}
}

// blockingTransactor blocks transactions with a "BLOCK" comment until
// their context ends.
type blockingTransactor struct {
	next  Transactor
	block chan struct{}
}

func (b *blockingTransactor) Transact(ctx context.Context, req *txnenginev1.TransactRequest) (*txnenginev1.TransactResponse, error) {
	if bytes.Contains(req.GetOperations(), []byte("BLOCK")) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-b.block:
		}
	}
	return b.next.Transact(ctx, req)
}

func TestBadInput(t *testing.T) {
	env := startServer(t, func(c *Config) { c.MaxMessageSize = 1 << 20 })
	healthy := dial(t, env.addr(), nil)

	closes := []struct {
		name string
		data func() []byte
	}{
		{name: "garbage", data: func() []byte { return []byte("hello world") }},
		{name: "not an object", data: func() []byte { return []byte(`[1,2]`) }},
		{name: "params not array", data: func() []byte { return []byte(`{"method":"echo","params":{},"id":1}`) }},
		{name: "no params", data: func() []byte { return []byte(`{"method":"echo","id":1}`) }},
		{name: "deep nesting", data: func() []byte {
			return []byte(`{"method":"echo","params":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `,"id":1}`)
		}},
		{name: "64 MiB message", data: func() []byte {
			return []byte(`{"method":"echo","params":["` + strings.Repeat("x", 64<<20) + `"],"id":1}`)
		}},
	}
	for _, tc := range closes {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, env.sock)
			data := tc.data()
			go func() { _, _ = rc.c.Write(data) }() // the server may stop reading midway
			rc.expectClosed()
			call(t, healthy, "list_dbs")
		})
	}

	t.Run("vanishing clients", func(t *testing.T) {
		for _, s := range []string{
			`{"method":"transact","params":["T",{"op":"insert","table":"A","row":{}}`, // truncated
			`{"method":"transact","params":["T",{"op":"insert","table":"A","row":{}}],"id":1}`,
			`{"method":"monitor","params":["T",null,{"A":{}}],"id":1}`,
		} {
			c, err := net.Dial("unix", env.sock)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.Write([]byte(s))
			_ = c.Close()
		}
		call(t, healthy, "list_dbs")
	})

	t.Run("wrong param types", func(t *testing.T) {
		rc := dialRaw(t, env.sock)
		for i, req := range []string{
			`{"method":"list_dbs","params":[{}],"id":%d}`,
			`{"method":"get_schema","params":[{}],"id":%d}`,
			`{"method":"get_schema","params":["T","x"],"id":%d}`,
			`{"method":"transact","params":[null],"id":%d}`,
			`{"method":"transact","params":["T",5,"x",[]],"id":%d}`,
			`{"method":"transact","params":["T",{"op":5}],"id":%d}`,
			`{"method":"transact","params":["T",{"op":"insert","table":1}],"id":%d}`,
			`{"method":"transact","params":["T",{"op":"insert","table":"A","row":{"i":"x"}}],"id":%d}`,
			`{"method":"transact","params":["_Server",{"op":"select","table":"Database","where":5}],"id":%d}`,
			`{"method":"echo","params":[[[[]]]],"id":%d}`,
			`{"method":"get_server_id","params":[1,2],"id":%d}`,
			`{"method":"set_db_change_aware","params":[1],"id":%d}`,
			`{"method":"monitor","params":[1,2,3],"id":%d}`,
			`{"method":"monitor","params":["T"],"id":%d}`,
			`{"method":"monitor","params":["T",null,{"A":5}],"id":%d}`,
			`{"method":"monitor","params":["T",null,{"A":[5]}],"id":%d}`,
			`{"method":"monitor","params":["T",null,{"A":{"columns":[1]}}],"id":%d}`,
			`{"method":"monitor","params":["T",null,{"A":{"where":[]}}],"id":%d}`,
			`{"method":"monitor_cond","params":["T",null,{"A":{"where":5}}],"id":%d}`,
			`{"method":"monitor_cond","params":["T",null,{"A":{"where":[["nope","==",1]]}}],"id":%d}`,
			`{"method":"monitor_cond","params":["T",null,{"A":{"select":5}}],"id":%d}`,
			`{"method":"monitor_cancel","params":[{}],"id":%d}`,
			`{"method":"cancel","params":[],"id":%d}`,
		} {
			id := i + 1
			rc.send(fmt.Sprintf(req, id))
			for {
				b := rc.recv()
				var m struct {
					ID     json.RawMessage
					Method string
				}
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatalf("reply %s: %v", b, err)
				}
				if m.Method == "" && string(m.ID) == fmt.Sprint(id) {
					t.Logf("%s -> %s", fmt.Sprintf(req, id), b)
					break
				}
			}
		}
		call(t, healthy, "list_dbs")
	})
}

// TestSlowClientDoesNotBlockOthers: a monitoring client that never reads
// is disconnected once its backlog passes the limit, while another
// monitoring client receives every update.
func TestSlowClientDoesNotBlockOthers(t *testing.T) {
	env := startServer(t, func(c *Config) { c.MaxBacklogBytes = 256 << 10 })
	stalled := dialRaw(t, env.sock)
	stalled.send(`{"method":"monitor","params":["T",null,{"A":{}}],"id":1}`)
	stalled.recv()

	n := newNotes()
	reader := dial(t, env.addr(), n.handler)
	call(t, reader, "monitor_cond", "T", nil, map[string]any{"A": map[string]any{"columns": []any{"s"}}})
	writer := dial(t, env.addr(), nil)
	big := strings.Repeat("y", 16<<10)
	const txns = 64
	for i := range txns {
		call(t, writer, "transact", "T", map[string]any{"op": "insert", "table": "A", "row": map[string]any{"s": fmt.Sprintf("%d-%s", i, big)}})
	}
	n.waitFor(t, "every update", func(s []string) bool { return len(s) == txns })
	stalled.expectClosed()
}

func TestServerDatabase(t *testing.T) {
	env := startServer(t, nil)
	c := dial(t, env.addr(), nil)
	r := call(t, c, "transact", "_Server", map[string]any{"op": "select", "table": "Database", "where": []any{[]any{"name", "==", "T"}}, "columns": []any{"name", "model", "leader", "connected"}})
	if got, want := string(r), `[{"rows":[{"connected":true,"leader":true,"model":"clustered","name":"T"}]}]`; got != want {
		t.Fatalf("select = %s, want %s", got, want)
	}
	r = call(t, c, "monitor_cond", "_Server", []any{"x"}, map[string]any{"Database": []any{map[string]any{"columns": []any{"name", "model", "sid", "cid", "index"}}}})
	var upd map[string]map[string]map[string]map[string]any
	if err := json.Unmarshal(r, &upd); err != nil {
		t.Fatal(err)
	}
	if len(upd["Database"]) != 2 {
		t.Fatalf("initial _Server rows = %s", r)
	}
	sid := call(t, c, "get_server_id")
	var index json.Number
	for _, row := range upd["Database"] {
		init := row["initial"]
		if init["name"] == "T" && (ovsJSON(init["sid"]) != `["uuid",`+string(sid)+`]` || init["cid"] == nil || init["index"] == nil) {
			t.Fatalf("T row %v lacks sid %s / cid / index", init, sid)
		}
		if init["name"] == "T" {
			index = json.Number(fmt.Sprint(init["index"]))
		}
	}

	// _Server is live: a commit to T moves T's index forward.
	n := newNotes()
	w := dial(t, env.addr(), n.handler)
	call(t, w, "monitor_cond", "_Server", "s", map[string]any{"Database": []any{map[string]any{"columns": []any{"index"}}}})
	call(t, w, "transact", "T", map[string]any{"op": "insert", "table": "A", "row": map[string]any{}})
	got := n.waitFor(t, "a _Server update", func(s []string) bool { return len(s) > 0 })
	old, _ := index.Int64()
	if want := fmt.Sprintf(`{"modify":{"index":%d}}`, old+1); !strings.Contains(got[0], want) {
		t.Fatalf("_Server update %s, want %s", got[0], want)
	}

	// "connected" and "leader" follow the health of the subscription.
	n2 := newNotes()
	w2 := dial(t, env.addr(), n2.handler)
	call(t, w2, "monitor_cond", "_Server", "s", map[string]any{"Database": []any{map[string]any{"columns": []any{"connected", "leader"}}}})
	release := env.be.breakSubscriptions()
	n2.waitFor(t, "connected=false", func(s []string) bool {
		return len(s) == 1 && strings.Contains(s[0], `{"modify":{"connected":false,"leader":false}}`)
	})
	release()
	n2.waitFor(t, "connected=true", func(s []string) bool {
		return len(s) == 2 && strings.Contains(s[1], `{"modify":{"connected":true,"leader":true}}`)
	})
}

func TestStaleSocketReplaced(t *testing.T) {
	dir := shortDir(t)
	sock := filepath.Join(dir, "db.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = l.Close()
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	startServerAt(t, sock)
}

// TestSuccessorSocketKept: a server started on the path of one that is
// still closing (a restart) keeps its socket when the old one finishes.
func TestSuccessorSocketKept(t *testing.T) {
	old := startServer(t, nil)
	startServerAt(t, old.sock) // replaces old's socket file
	if err := old.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(old.sock); err != nil {
		t.Fatalf("the successor's socket is gone after the old server closed: %v", err)
	}
	c := dial(t, "unix:"+old.sock, nil)
	call(t, c, "list_dbs")
}

func startServerAt(t *testing.T, sock string) {
	t.Helper()
	env := startServer(t, func(c *Config) { c.Remotes = []string{"punix:" + sock} })
	c := dial(t, "unix:"+sock, nil)
	call(t, c, "list_dbs")
	_ = env
}

func TestNotASocketRefused(t *testing.T) {
	path := filepath.Join(shortDir(t), "file")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sch := loadSchema(t)
	be := newFakeBackend(t, nil)
	cfg := NewConfig()
	cfg.Remotes = []string{"punix:" + path}
	srv, err := New(t.Context(), cfg, Deps{Transactor: be, Subscriber: be, Schemas: map[string]*schema.Database{sch.Name: sch}})
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Serve(t.Context())
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Serve = %v, want a not-a-socket error", err)
	}
	if errors.Is(err, ErrClosed) {
		t.Fatal("unexpected ErrClosed")
	}
}

// TestStalledClientMerged: a monitoring client that stops reading is not
// read from, its updates are merged per row so its backlog stays bounded,
// other clients get every update, and when it reads again it receives
// the merged, current state.
func TestStalledClientMerged(t *testing.T) {
	const lagBytes = 8 << 10
	env := startServer(t, func(c *Config) {
		c.LagBacklogBytes = lagBytes
		c.InactivityProbeInterval = 0
	})
	stalled := dialRaw(t, env.sock)
	stalled.send(`{"method":"monitor_cond","params":["T","s",{"A":{"columns":["s","i"]}}],"id":1}`)
	stalled.recv()

	n := newNotes()
	reader := dial(t, env.addr(), n.handler)
	call(t, reader, "monitor_cond", "T", "r", map[string]any{"A": map[string]any{"columns": []any{"i"}}})
	writer := dial(t, env.addr(), nil)
	call(t, writer, "transact", "T", map[string]any{"op": "insert", "table": "A", "row": map[string]any{"s": "row", "i": 0}})
	big := strings.Repeat("z", 16<<10)
	const txns = 200
	for i := 1; i <= txns; i++ {
		call(t, writer, "transact", "T", map[string]any{"op": "update", "table": "A", "where": []any{}, "row": map[string]any{"s": fmt.Sprintf("%s-%d", big, i), "i": i}})
	}
	n.waitFor(t, "every update", func(s []string) bool { return len(s) == txns+1 })

	// Every update of 16 KiB would be 3 MiB; merged, the backlog stays
	// near the lag threshold plus what was in flight.
	if hw := env.srv.metrics.backlogMax.Load(); hw > 1<<20 {
		t.Fatalf("backlog high-water mark %d bytes: updates were not merged", hw)
	}
	var last string
	got := 0
	for !strings.Contains(last, fmt.Sprintf(`"i":%d`, txns)) {
		b := stalled.recv()
		got++
		if !bytes.HasPrefix(b, []byte(`{"id":null,"method":"update2","params":["s",`)) {
			t.Fatalf("unexpected message %.200s", b)
		}
		last = string(b)
	}
	if !strings.Contains(last, fmt.Sprintf(`%s-%d"`, big, txns)) {
		t.Fatalf("merged update lacks the final value: %.300s", last)
	}
	if got >= txns {
		t.Fatalf("stalled client got %d updates for %d transactions: nothing was merged", got, txns)
	}
	t.Logf("stalled client got %d updates for %d transactions", got, txns+1)
	// The session is still usable.
	stalled.send(`{"method":"echo","params":[],"id":"e"}`)
	if got := string(stalled.recv()); got != `{"id":"e","result":[],"error":null}` {
		t.Fatalf("echo after resuming: %.200s", got)
	}
}

// TestMonitorCondSinceAcrossFrontendRestart: a client that saw revision
// X on one frontend reconnects to a fresh frontend after more commits and
// gets found=true with exactly the changes since X (the new frontend
// backfills its history from the change stream).
func TestMonitorCondSinceAcrossFrontendRestart(t *testing.T) {
	env1 := startServer(t, func(c *Config) { c.InactivityProbeInterval = 0 })
	be := env1.be
	n := newNotes()
	c1 := dial(t, env1.addr(), n.handler)
	sel := map[string]any{"A": []any{map[string]any{"columns": []any{"s", "i"}}}}
	call(t, c1, "monitor_cond_since", "T", "m", sel, "00000000-0000-0000-0000-000000000000")
	call(t, c1, "transact", "T", map[string]any{"op": "insert", "table": "A", "row": map[string]any{"s": "kept", "i": 1}})
	call(t, c1, "transact", "T", map[string]any{"op": "insert", "table": "A", "row": map[string]any{"s": "gone", "i": 2}})
	got := n.waitFor(t, "two update3", func(s []string) bool { return len(s) == 2 })
	var upd []any
	if err := json.Unmarshal([]byte(strings.TrimPrefix(got[1], "update3 ")), &upd); err != nil {
		t.Fatal(err)
	}
	lastID := upd[1].(string)
	_ = c1.Close()
	_ = env1.srv.Close()

	// Commits the client misses while no frontend serves it.
	ctx := t.Context()
	for _, op := range []string{
		`[{"op":"update","table":"A","where":[["s","==","kept"]],"row":{"i":10}}]`,
		`[{"op":"delete","table":"A","where":[["s","==","gone"]]}]`,
		`[{"op":"insert","table":"A","row":{"s":"new","i":3}}]`,
	} {
		if _, err := be.Transact(ctx, &txnenginev1.TransactRequest{Database: "T", Operations: []byte(op)}); err != nil {
			t.Fatal(err)
		}
	}

	env2 := startServerOn(t, be, nil, nil)
	c2 := dial(t, env2.addr(), nil)
	r := call(t, c2, "monitor_cond_since", "T", "m", sel, lastID)
	var reply []any
	if err := json.Unmarshal(r, &reply); err != nil {
		t.Fatal(err)
	}
	if reply[0] != true {
		t.Fatalf("found = %v, want true; reply %s", reply[0], r)
	}
	rows := reply[2].(map[string]any)["A"].(map[string]any)
	var kinds []string
	for _, ru := range rows {
		for k, v := range ru.(map[string]any) {
			kinds = append(kinds, k+" "+ovsJSON(v))
		}
	}
	sort.Strings(kinds)
	want := []string{`delete null`, `insert {"i":3,"s":"new"}`, `modify {"i":10}`}
	if strings.Join(kinds, "|") != strings.Join(want, "|") {
		t.Fatalf("changes since %s = %q, want %q", lastID, kinds, want)
	}
}

// TestNoUpdateWaitWithoutMonitors: a session that monitors nothing gets
// its reply at once, even while the change stream is held back.
func TestNoUpdateWaitWithoutMonitors(t *testing.T) {
	env := startServer(t, func(c *Config) { c.UpdateWaitTimeout = time.Hour })
	env.be.pause()
	defer env.be.resume()
	c := dial(t, env.addr(), nil)
	r := call(t, c, "transact", "T", map[string]any{"op": "insert", "table": "A", "row": map[string]any{"s": "x"}})
	if !bytes.Contains(r, []byte(`"uuid"`)) {
		t.Fatalf("reply %s", r)
	}
}

// TestLiveFeedWithoutOldValues: the live feed subscribes without the old
// row values (LiveSubscriber), and modify and delete updates are still
// complete, from the rows the feed keeps.
func TestLiveFeedWithoutOldValues(t *testing.T) {
	env := startServer(t, nil)
	if env.be.live.Load() == 0 {
		t.Fatal("the feed did not use SubscribeLive")
	}
	n := newNotes()
	c := dial(t, env.addr(), n.handler)
	call(t, c, "monitor_cond", "T", "m", map[string]any{"A": []any{map[string]any{"columns": []any{"s", "i"}}}})
	call(t, c, "transact", "T", map[string]any{"op": "insert", "table": "A", "row": map[string]any{"s": "x", "i": 1}})
	call(t, c, "transact", "T", map[string]any{"op": "update", "table": "A", "where": []any{}, "row": map[string]any{"i": 2}})
	call(t, c, "transact", "T", map[string]any{"op": "delete", "table": "A", "where": []any{}})
	got := n.waitFor(t, "three updates", func(s []string) bool { return len(s) >= 3 })
	if !strings.Contains(got[1], `"modify":{"i":2}`) {
		t.Errorf("update of the modify = %s, want modify {\"i\":2}", got[1])
	}
	if !strings.Contains(got[2], `"delete":null`) {
		t.Errorf("update of the delete = %s, want delete null", got[2])
	}
}
