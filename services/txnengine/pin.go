package txnengine

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/connectivity"
)

// pinRetryInterval is the least time between two leader discoveries, so
// that an unreachable cluster does not make the pin loop spin.
const pinRetryInterval = time.Second

// pinned is an etcd client connected to one endpoint, the etcd raft
// leader's when it was discovered.
type pinned struct {
	cli      *clientv3.Client
	kv       clientv3.KV
	endpoint string
	raftTerm uint64
	users    sync.WaitGroup // commits using kv; the client closes after them
}

// leaderPin sends batch commits straight to the etcd raft leader.
//
// A client spread over every endpoint often sends a Txn to a follower,
// which forwards it to the leader: one more network round trip per
// commit on the serial path (issue 6). leaderPin keeps a second client
// with only the leader's endpoint, found through Maintenance.Status. It
// is only a route: the fencing compares of every Txn hold whichever
// member receives it, so a stale pin costs latency, never safety.
//
// The pin is re-discovered by its loop (run) when a commit's response
// shows another raft term, or a commit through it failed. Until a pin
// exists, or while it is being replaced, commits use the engine's own
// client.
type leaderPin struct {
	e         *Engine
	endpoints []string
	stale     chan struct{} // capacity 1: wakes run

	mu sync.Mutex
	// mu guards cur (nil: no pin, commits use e.kv) and dropped, the pins
	// a failed commit took out of use, which run closes once their
	// commits are done (observe cannot: its caller still uses one).
	cur     *pinned
	dropped []*pinned
}

func newLeaderPin(e *Engine, endpoints []string) *leaderPin {
	p := &leaderPin{e: e, endpoints: endpoints, stale: make(chan struct{}, 1)}
	p.markStale() // discover at once
	return p
}

// acquire returns the KV a commit should use, and a release function to
// call when the commit is done with it.
func (p *leaderPin) acquire() (clientv3.KV, *pinned) {
	if p == nil {
		return nil, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return nil, nil
	}
	// A pinned client whose one connection is down would hold the
	// commit until CommitTimeout (etcd calls wait for ready): take the
	// engine's own client, which fails over, and find the leader again.
	if st := p.cur.cli.ActiveConnection().GetState(); st != connectivity.Ready && st != connectivity.Idle {
		p.markStale()
		return nil, nil
	}
	p.cur.users.Add(1)
	return p.cur.kv, p.cur
}

// observe records the outcome of a commit sent through pn (nil: through
// the engine's own client): a changed raft term or an error asks for a
// new discovery; an error also drops the pin at once.
func (p *leaderPin) observe(pn *pinned, raftTerm uint64, err error) {
	if p == nil {
		return
	}
	if pn != nil {
		defer pn.users.Done()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case pn == nil:
		if p.cur == nil {
			p.markStale()
		}
	case err != nil:
		if p.cur == pn {
			p.cur = nil
			p.dropped = append(p.dropped, pn)
		}
		p.markStale()
	case raftTerm != pn.raftTerm:
		p.markStale()
	}
}

func (p *leaderPin) markStale() {
	select {
	case p.stale <- struct{}{}:
	default:
	}
}

// run re-discovers the leader whenever asked, at most once per
// pinRetryInterval, until ctx ends; then it closes the pinned client.
func (p *leaderPin) run(ctx context.Context) {
	defer func() {
		p.mu.Lock()
		old := p.cur
		p.cur = nil
		p.mu.Unlock()
		p.close(old)
		p.closeDropped()
	}()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.stale:
		}
		if wait := pinRetryInterval - time.Since(last); !last.IsZero() && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		last = time.Now()
		p.closeDropped()
		if err := p.refresh(ctx); err != nil {
			p.e.log.Debug("find the etcd leader for commits", "err", err)
		}
	}
}

// refresh finds the etcd leader and pins a client to it, replacing the
// current pin if the leader changed.
func (p *leaderPin) refresh(ctx context.Context) error {
	ep, raftTerm, err := p.findLeader(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.cur != nil && p.cur.endpoint == ep {
		p.cur.raftTerm = raftTerm
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	cli, err := p.e.cfg.newEtcdClient([]string{ep})
	if err != nil {
		return fmt.Errorf("connect to etcd leader %s: %w", ep, err)
	}
	// Check the new client reaches the leader before commits use it.
	sctx, cancel := context.WithTimeout(ctx, p.e.cfg.DialTimeout)
	st, err := cli.Status(sctx, ep)
	cancel()
	if err != nil || st.Header.MemberId != st.Leader {
		_ = cli.Close()
		if err == nil {
			err = fmt.Errorf("%s is no longer the leader", ep)
		}
		return fmt.Errorf("check etcd leader %s: %w", ep, err)
	}
	pn := &pinned{cli: cli, kv: p.e.wrapKV(cli.KV), endpoint: ep, raftTerm: st.Header.RaftTerm}
	p.mu.Lock()
	old := p.cur
	p.cur = pn
	p.mu.Unlock()
	p.e.log.Info("commits go to the etcd leader", "peer", ep)
	p.close(old)
	return nil
}

// findLeader asks each endpoint for its status and returns the one that
// is the raft leader.
func (p *leaderPin) findLeader(ctx context.Context) (string, uint64, error) {
	var lastErr error
	for _, ep := range p.endpoints {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := p.e.cli.Status(sctx, ep)
		cancel()
		if err != nil {
			lastErr = err
			continue
		}
		if st.Leader != 0 && st.Header.MemberId == st.Leader {
			return ep, st.Header.RaftTerm, nil
		}
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no leader among %v", p.endpoints)
	}
	return "", 0, lastErr
}

// closeDropped closes the pins that failed commits dropped.
func (p *leaderPin) closeDropped() {
	p.mu.Lock()
	dropped := p.dropped
	p.dropped = nil
	p.mu.Unlock()
	for _, pn := range dropped {
		p.close(pn)
	}
}

// close closes old's client once the commits using it are done (at most
// CommitTimeout).
func (p *leaderPin) close(old *pinned) {
	if old == nil {
		return
	}
	old.users.Wait()
	if err := old.cli.Close(); err != nil {
		p.e.log.Debug("close pinned etcd client", "err", err)
	}
}
