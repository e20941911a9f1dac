package monitorhub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	monitorhubv1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/monitorhub/v1"
	"google.golang.org/grpc"
)

// Client defaults.
const (
	DefaultClientMaxRetries     = 10
	DefaultClientInitialBackoff = 50 * time.Millisecond
	DefaultClientMaxBackoff     = 2 * time.Second
)

// EventKind says what an Event carries.
type EventKind int

// Event kinds.
const (
	// EventSnapshot carries the whole state of the database at Rev (the
	// client joins the chunks; Last is always true). It replaces what the
	// receiver held: after a resume that the hub could not serve from its
	// history, the receiver diffs it against its copy.
	EventSnapshot EventKind = iota
	// EventUpdate carries the changes of exactly one etcd revision.
	EventUpdate
	// EventProgress says nothing changed up to Rev.
	EventProgress
)

func (k EventKind) String() string {
	switch k {
	case EventSnapshot:
		return "snapshot"
	case EventUpdate:
		return "update"
	case EventProgress:
		return "progress"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one item of a database's change stream.
type Event struct {
	Kind    EventKind
	Rev     int64
	Rows    []Row    // EventSnapshot
	Last    bool     // EventSnapshot: always true
	Changes []Change // EventUpdate
}

// Client subscribes to a monitorhub's Watch streams. It is safe for
// concurrent use.
type Client struct {
	hub            monitorhubv1.MonitorHubServiceClient
	log            *slog.Logger
	maxRetries     int
	initialBackoff time.Duration
	maxBackoff     time.Duration
}

// ClientOption configures a Client.
type ClientOption func(*Client) error

// WithClientLogger sets the client's logger (default slog.Default()).
func WithClientLogger(l *slog.Logger) ClientOption {
	return func(c *Client) error { c.log = l; return nil }
}

// WithRetries bounds the consecutive failed attempts (streams that
// delivered nothing) before Subscribe gives up, and their backoff.
func WithRetries(maxRetries int, initialBackoff, maxBackoff time.Duration) ClientOption {
	return func(c *Client) error {
		if maxRetries < 0 || initialBackoff <= 0 || maxBackoff < initialBackoff {
			return errors.New("monitorhub: invalid retry options")
		}
		c.maxRetries, c.initialBackoff, c.maxBackoff = maxRetries, initialBackoff, maxBackoff
		return nil
	}
}

// NewClient returns a Client on conn (a connection to the monitorhub; the
// caller owns it and adds otelgrpc and its interceptors).
func NewClient(conn grpc.ClientConnInterface, opts ...ClientOption) (*Client, error) {
	c := &Client{
		hub:            monitorhubv1.NewMonitorHubServiceClient(conn),
		log:            slog.Default(),
		maxRetries:     DefaultClientMaxRetries,
		initialBackoff: DefaultClientInitialBackoff,
		maxBackoff:     DefaultClientMaxBackoff,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Subscribe is NewClient(conn).Subscribe.
func Subscribe(ctx context.Context, conn grpc.ClientConnInterface, database string, fromRev int64, fn func(Event) error) error {
	c, err := NewClient(conn)
	if err != nil {
		return err
	}
	return c.Subscribe(ctx, database, fromRev, fn)
}

// handlerError marks an error returned by the caller's fn.
type handlerError struct{ err error }

func (e *handlerError) Error() string { return e.err.Error() }
func (e *handlerError) Unwrap() error { return e.err }

// SubscribeOption changes what Subscribe asks the hub for.
type SubscribeOption func(*subscribeOptions)

type subscribeOptions struct{ omitOld bool }

// WithoutOld leaves the old row values out of every update (Change.Old is
// nil): for a subscriber that keeps the current rows itself.
func WithoutOld() SubscribeOption { return func(o *subscribeOptions) { o.omitOld = true } }

// Subscribe streams database from fromRev (0: a snapshot first) and
// calls fn for each event, in revision order, each revision at most once.
// After a stream error or a hub restart it resumes from the last revision
// it delivered (a partial snapshot is dropped and asked for again); if
// the hub can no longer replay from there it sends a snapshot, delivered
// as EventSnapshot. It returns ctx.Err() when ctx ends, fn's error as is,
// or the stream's error once it is not retryable (InvalidArgument, ...)
// or after maxRetries consecutive attempts that delivered nothing.
func (c *Client) Subscribe(ctx context.Context, database string, fromRev int64, fn func(Event) error, opts ...SubscribeOption) error {
	var o subscribeOptions
	for _, opt := range opts {
		opt(&o)
	}
	last := fromRev
	failures := 0
	delay := c.initialBackoff
	for {
		delivered, err := c.stream(ctx, database, &last, o, fn)
		if he, ok := errors.AsType[*handlerError](err); ok {
			return he.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !retryable(err) {
			return fmt.Errorf("watch %q from revision %d: %w", database, last, err)
		}
		if delivered {
			failures, delay = 0, c.initialBackoff
		}
		failures++
		if failures > c.maxRetries {
			return fmt.Errorf("watch %q from revision %d: giving up after %d attempts: %w", database, last, failures, err)
		}
		c.log.Debug("monitorhub stream ended; resuming", "db", database, "rev", last, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		delay = min(delay*2, c.maxBackoff)
	}
}

// stream runs one Watch call from *last and advances *last as events are
// delivered. delivered tells whether fn got anything.
func (c *Client) stream(ctx context.Context, database string, last *int64, o subscribeOptions, fn func(Event) error) (delivered bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.hub.Watch(ctx, &monitorhubv1.WatchRequest{Database: database, StartRevision: *last, OmitOld: o.omitOld},
		grpc.MaxCallRecvMsgSize(math.MaxInt32))
	if err != nil {
		return false, err
	}
	call := func(ev Event) error {
		if err := fn(ev); err != nil {
			return &handlerError{err}
		}
		*last = ev.Rev
		delivered = true
		return nil
	}
	var snapRev int64 = -1
	var snapRows []Row
	for {
		msg, err := st.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("monitorhub: stream ended")
			}
			return delivered, err
		}
		switch ev := msg.GetEvent().(type) {
		case *monitorhubv1.WatchResponse_Snapshot:
			s := ev.Snapshot
			if s.GetRevision() != snapRev {
				snapRev, snapRows = s.GetRevision(), nil
			}
			for _, r := range s.GetRows() {
				snapRows = append(snapRows, Row{Table: r.GetTable(), UUID: r.GetUuid(), Value: r.GetValue()})
			}
			if !s.GetLast() {
				continue
			}
			if snapRev < *last {
				c.log.Warn("monitorhub snapshot older than the last delivered revision", "db", database, "rev", snapRev, "last_rev", *last)
			}
			rows := snapRows
			snapRev, snapRows = -1, nil
			if err := call(Event{Kind: EventSnapshot, Rev: s.GetRevision(), Rows: rows, Last: true}); err != nil {
				return delivered, err
			}
		case *monitorhubv1.WatchResponse_Update:
			u := ev.Update
			if u.GetRevision() <= *last {
				continue // already delivered
			}
			changes := make([]Change, len(u.GetChanges()))
			for i, ch := range u.GetChanges() {
				changes[i] = Change{Table: ch.GetTable(), UUID: ch.GetUuid(), Old: nilIfEmpty(ch.GetOld()), New: nilIfEmpty(ch.GetNew())}
			}
			if err := call(Event{Kind: EventUpdate, Rev: u.GetRevision(), Changes: changes}); err != nil {
				return delivered, err
			}
		case *monitorhubv1.WatchResponse_Progress:
			if rev := ev.Progress.GetRevision(); rev > *last {
				if err := call(Event{Kind: EventProgress, Rev: rev}); err != nil {
					return delivered, err
				}
			}
		}
	}
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
