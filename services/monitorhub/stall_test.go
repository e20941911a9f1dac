package monitorhub

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	monitorhubv1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/monitorhub/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestStalledSubscriberIsClosedResumably stalls one Watch stream (it stops
// reading, so gRPC flow control blocks the hub's sends to it) while
// others keep up: the others get every update, and the stalled one, once
// it reads again, gets what was in flight, then ResourceExhausted with its
// last revision, from which it resumes through the history with exactly
// the missing updates.
func TestStalledSubscriberIsClosedResumably(t *testing.T) {
	e := newEnv(t)
	e.createDB("NB")
	cfg := testConfig()
	// The limit applies to every subscriber: it is far below the 300
	// updates the stalled one misses, yet leaves the fast ones room for
	// being unscheduled a while on a loaded -race machine (20 is only a
	// few puts' time, and a fast one closed too would break the
	// closed-subscribers count below).
	cfg.SubscriberMaxLag = 100
	sock := sockPath(t)
	g := serveHub(t, cfg, e.cli, sock)

	// Fixed small windows (which also turn off BDP window growth) so the
	// stalled stream blocks after a few messages.
	stalledConn, err := grpc.NewClient("unix://"+sock,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer stalledConn.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var trailer metadata.MD
	stalled, err := monitorhubv1.NewMonitorHubServiceClient(stalledConn).Watch(ctx,
		&monitorhubv1.WatchRequest{Database: "NB"}, grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	first, err := stalled.Recv()
	if err != nil || !first.GetSnapshot().GetLast() {
		t.Fatalf("first message %v, %v; want the whole (empty) snapshot", first, err)
	}

	others := make([]*recorder, 3)
	conn := dial(t, sock)
	for i := range others {
		others[i] = newRecorder()
		subscribe(t, conn, "NB", others[i].fn)
		others[i].waitRev(t, 1)
	}
	big := `{"pad":"` + strings.Repeat("x", 8<<10) + `"}`
	var revs []int64
	for range 300 {
		revs = append(revs, e.putRow("NB", "T", newUUID(), big))
	}
	last := revs[len(revs)-1]
	for _, r := range others {
		r.waitRev(t, last)
		if n := len(r.updates()); n != len(revs) {
			t.Fatalf("a fast subscriber got %d updates, want %d", n, len(revs))
		}
	}

	var got []int64
	for {
		msg, err := stalled.Recv()
		if err != nil {
			if status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("stalled stream ended with %v, want ResourceExhausted", err)
			}
			break
		}
		if u := msg.GetUpdate(); u != nil {
			got = append(got, u.GetRevision())
		}
	}
	if len(got) == 0 || len(got) >= len(revs) {
		t.Fatalf("stalled subscriber got %d updates before being closed, want some but not all %d", len(got), len(revs))
	}
	t.Logf("stalled subscriber got %d of %d updates before ResourceExhausted", len(got), len(revs))
	lastSent := got[len(got)-1]
	if tr := trailer.Get(LastRevMetadataKey); len(tr) != 1 || tr[0] != strconv.FormatInt(lastSent, 10) {
		t.Fatalf("trailer %v, want last revision %d", tr, lastSent)
	}
	if n := counterValue(g.h.metrics.closedSubs.WithLabelValues("NB", "lagging")); n != 1 {
		t.Fatalf("closed lagging subscribers = %v, want 1", n)
	}

	// Resume: exactly the rest, from the history, no snapshot.
	rest := &fakeSender{}
	runServe(t, g.h, lastSent, rest)
	rest.waitRev(t, last)
	if rest.snapshotRev() != 0 {
		t.Fatal("resume after lagging sent a snapshot")
	}
	var resumed []int64
	for _, u := range rest.updatesAt() {
		resumed = append(resumed, u.Rev)
	}
	if want := revs[len(got):]; !slices.Equal(resumed, want) {
		t.Fatalf("resumed with %d updates (%v...), want %d", len(resumed), resumed[:min(3, len(resumed))], len(want))
	}
}
