package monitorhub

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestClientSnapshotChunksAndResume(t *testing.T) {
	e := newEnv(t)
	e.createDB("NB")
	var last int64
	for i := range 50 {
		last = e.putRow("NB", "T", newUUID(), fmt.Sprintf(`{"i":%d,"pad":"0123456789"}`, i))
	}
	cfg := testConfig()
	cfg.SnapshotChunkBytes = 200
	cfg.HistoryMaxTxns = 10
	sock := sockPath(t)
	g := serveHub(t, cfg, e.cli, sock)

	chunks := &chunkCounter{}
	runServe(t, g.h, 0, chunks)
	chunks.waitSnapshot(t)
	if chunks.n < 5 {
		t.Fatalf("snapshot of 50 rows in %d chunks of <= 200 bytes", chunks.n)
	}

	tests := []struct {
		name string
		from int64
		want EventKind
	}{
		{name: "from zero", from: 0, want: EventSnapshot},
		{name: "too old", from: 3, want: EventSnapshot},
		{name: "in history", from: last - 2, want: EventUpdate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(dial(t, sock))
			if err != nil {
				t.Fatal(err)
			}
			var got Event
			errStop := errors.New("stop")
			err = c.Subscribe(t.Context(), "NB", tc.from, func(ev Event) error {
				got = ev
				return errStop
			})
			if !errors.Is(err, errStop) {
				t.Fatalf("Subscribe = %v, want the handler's error", err)
			}
			if got.Kind != tc.want {
				t.Fatalf("first event %v, want %v", got.Kind, tc.want)
			}
			if got.Kind == EventSnapshot && (len(got.Rows) != 50 || !got.Last || got.Rev < last) {
				t.Fatalf("snapshot of %d rows at %d, want 50 at >= %d", len(got.Rows), got.Rev, last)
			}
			if got.Kind == EventUpdate && got.Rev != last-1 {
				t.Fatalf("first update at %d, want %d", got.Rev, last-1)
			}
		})
	}
}

// chunkCounter is a fakeSender that counts snapshot chunks.
type chunkCounter struct {
	fakeSender
	n int
}

func (c *chunkCounter) snapshot(rev int64, rows []Row, last bool) error {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.fakeSender.snapshot(rev, rows, last)
}

func TestClientGivesUp(t *testing.T) {
	conn := dial(t, filepath.Join(t.TempDir(), "nobody.sock"))
	c, err := NewClient(conn, WithRetries(2, time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(t.Context(), "NB", 0, func(Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") {
		t.Fatalf("Subscribe = %v, want an error after the retries", err)
	}
}

func TestRun(t *testing.T) {
	e := newEnv(t)
	e.createDB("NB")
	cfg := testConfig()
	cfg.EtcdClient = e.cli
	cfg.Listen = "unix:" + sockPath(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	r := newRecorder()
	subCtx, subCancel := context.WithCancel(t.Context())
	subDone := make(chan error, 1)
	go func() { subDone <- Subscribe(subCtx, dial(t, cfg.Listen[len("unix:"):]), "NB", 0, r.fn) }()
	rev := e.putRow("NB", "T", newUUID(), `{}`)
	r.waitRev(t, rev)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	subCancel()
	if err := <-subDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe = %v", err)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{name: "defaults", args: nil},
		{name: "flags", args: []string{"--prefix=a/b", "--service=zone1", "--history-max-txns=20000", "--history-max-bytes=1000", "--subscriber-max-lag=10", "--progress-interval=2s", "--listen=unix:/tmp/x"}},
		{name: "bad prefix", args: []string{"--prefix=/abs"}, wantErr: true},
		{name: "bad service", args: []string{"--service=a/b"}, wantErr: true},
		{name: "zero history", args: []string{"--history-max-txns=0"}, wantErr: true},
		{name: "no endpoints", args: []string{"--etcd-endpoints="}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := NewConfig()
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			cfg.AddFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); (err != nil) != tc.wantErr {
				t.Fatalf("Validate = %v, want error %v", err, tc.wantErr)
			}
		})
	}
	if c := NewConfig(); c.HistoryMaxTxns < 10000 {
		t.Fatalf("default history %d < 10000", c.HistoryMaxTxns)
	}
}

// TestClientWithoutOld checks that WithoutOld leaves the old values out
// of updates and keeps the new ones, and that a plain subscription to the
// same update (sharing the hub's message) still gets both.
func TestClientWithoutOld(t *testing.T) {
	e := newEnv(t)
	e.createDB("NB")
	u := newUUID()
	first := e.putRow("NB", "T", u, `{"v":1}`)
	second := e.putRow("NB", "T", u, `{"v":2}`)
	c := hubClient(t, e.cli)
	for _, tc := range []struct {
		name    string
		opts    []SubscribeOption
		wantOld string
	}{
		{name: "without old", opts: []SubscribeOption{WithoutOld()}, wantOld: ""},
		{name: "plain", wantOld: `{"v":1}`},
		{name: "without old again", opts: []SubscribeOption{WithoutOld()}, wantOld: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got Event
			errStop := errors.New("stop")
			err := c.Subscribe(t.Context(), "NB", first, func(ev Event) error {
				got = ev
				return errStop
			}, tc.opts...)
			if !errors.Is(err, errStop) {
				t.Fatalf("Subscribe = %v, want the handler's error", err)
			}
			if got.Kind != EventUpdate || got.Rev != second || len(got.Changes) != 1 {
				t.Fatalf("first event %+v, want the update at %d", got, second)
			}
			ch := got.Changes[0]
			if string(ch.Old) != tc.wantOld || string(ch.New) != `{"v":2}` {
				t.Errorf("change old %q new %q, want old %q new {\"v\":2}", ch.Old, ch.New, tc.wantOld)
			}
		})
	}
}
