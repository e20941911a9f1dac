package ovn

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

// takeoverTimeout bounds the standby's takeover after the active northd
// dies: its lock must be released when its connection drops.
const takeoverTimeout = 15 * time.Second

// northdStatus returns "active", "standby" or "paused" from
// `ovn-appctl -t CTL status`, or "" if it does not answer.
func northdStatus(ctx context.Context, ctl string) string {
	out, err := refserver.RunClient(ctx, 5*time.Second, "ovn-appctl", "-t", ctl, "status")
	if err != nil {
		return "error: " + err.Error()
	}
	_, s, _ := strings.Cut(strings.TrimSpace(out), "Status: ")
	return s
}

// waitStatuses polls the northds' status until want (one entry per ctl,
// "" for one that is not asked) holds, or timeout passes.
func waitStatuses(t *testing.T, timeout time.Duration, ctls []string, want []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	tick := time.NewTicker(e2etest.PollInterval)
	defer tick.Stop()
	var got []string
	for {
		got = got[:0]
		ok := true
		for i, ctl := range ctls {
			if want[i] == "" {
				got = append(got, "-")
				continue
			}
			s := northdStatus(ctx, ctl)
			got = append(got, s)
			ok = ok && s == want[i]
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("northd statuses %q after %v, want %q", got, timeout, want)
		case <-tick.C:
		}
	}
}

// TestNorthdActiveStandby runs two ovn-northd instances on the same NB and
// SB through two different frontends: exactly one holds the ovn_northd
// lock and is active. When it is killed, the other takes over within
// seconds and keeps SB in sync; so does a third when the frontend of the
// active one is killed.
func TestNorthdActiveStandby(t *testing.T) {
	r := startRoles(t)
	dir := e2etest.ShortDir(t)
	a, ctlA := startNorthd(t, "northd-a", dir, r.Addr(0), r.Addr(0))
	waitStatuses(t, e2etest.ReadyTimeout, []string{ctlA}, []string{"active"})
	_, ctlB := startNorthd(t, "northd-b", dir, r.Addr(1), r.Addr(1))
	waitStatuses(t, e2etest.ReadyTimeout, []string{ctlA, ctlB}, []string{"active", "standby"})

	run(t, "ovn-nbctl", "--db="+r.Addr(1), "--timeout=30", "init")
	run(t, "ovn-nbctl", "--db="+r.Addr(1), "--timeout=30", "ls-add", "sw-before")
	run(t, "ovn-nbctl", "--db="+r.Addr(1), "--timeout=30", "--wait=sb", "sync")
	// Still exactly one active after they both saw the same changes.
	waitStatuses(t, e2etest.ReadyTimeout, []string{ctlA, ctlB}, []string{"active", "standby"})

	a.Kill()
	start := time.Now()
	waitStatuses(t, takeoverTimeout, []string{ctlA, ctlB}, []string{"", "active"})
	t.Logf("standby took over in %v", time.Since(start).Round(time.Millisecond))

	run(t, "ovn-nbctl", "--db="+r.Addr(1), "--timeout=30", "ls-add", "sw-after")
	run(t, "ovn-nbctl", "--db="+r.Addr(1), "--timeout=30", "--wait=sb", "sync")
	out := run(t, "ovn-sbctl", "--db="+r.Addr(1), "--bare", "--columns=external_ids", "list", "Datapath_Binding")
	for _, sw := range []string{"sw-before", "sw-after"} {
		if !strings.Contains(out, "name="+sw) {
			t.Errorf("no Datapath_Binding for %s after the takeover:\n%s", sw, out)
		}
	}

	// Now the active northd's frontend dies (SIGKILL): its lock key goes
	// with the frontend's lease, and a standby on the other frontend takes
	// over within about the lease TTL.
	_, ctlC := startNorthd(t, "northd-c", dir, r.Addr(0), r.Addr(0))
	waitStatuses(t, e2etest.ReadyTimeout, []string{ctlB, ctlC}, []string{"active", "standby"})
	r.frontends[1].Kill()
	start = time.Now()
	waitStatuses(t, takeoverTimeout, []string{ctlB, ctlC}, []string{"", "active"})
	t.Logf("standby took over from a dead frontend's client in %v", time.Since(start).Round(time.Millisecond))
	run(t, "ovn-nbctl", "--db="+r.Addr(0), "--timeout=30", "ls-add", "sw-last")
	run(t, "ovn-nbctl", "--db="+r.Addr(0), "--timeout=30", "--wait=sb", "sync")
}
