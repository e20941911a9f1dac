package txnengine

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	txnenginev1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/txnengine/v1"
)

// txnStream is one TransactStream to one txnengine address, which every
// Transact of a Client to that address shares. Once its stream ends
// (err set, done closed) it is replaced by a new one.
type txnStream struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the receiver has ended

	stream grpc.BidiStreamingClient[streamReq, streamResp]
	// sendMu serializes sends on stream. It is not mu: the receiver must
	// never wait behind a Send blocked on flow control (the engine may be
	// waiting for this side to read before it reads on).
	sendMu sync.Mutex

	// mu guards everything below.
	mu      sync.Mutex
	pending map[uint64]chan streamResult
	next    uint64
	err     error // why the stream ended; nil while it runs
}

type streamResult struct {
	resp *txnenginev1.TransactResponse
	err  error
}

// openStream starts a TransactStream on cc, living until parent ends or
// the stream breaks; done is closed when its receiver has ended.
func openStream(parent context.Context, cc grpc.ClientConnInterface) (*txnStream, error) {
	ctx, cancel := context.WithCancel(parent)
	st, err := txnenginev1.NewTxnEngineServiceClient(cc).TransactStream(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	t := &txnStream{cancel: cancel, done: make(chan struct{}), stream: st, pending: map[uint64]chan streamResult{}}
	go t.receive()
	return t, nil
}

// ended reports whether the stream can no longer be used.
func (t *txnStream) ended() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err != nil
}

// receive delivers answers to their transactions until the stream ends,
// then fails the transactions still waiting with the stream's error: they
// were sent, so they may have run.
func (t *txnStream) receive() {
	defer close(t.done)
	for {
		m, err := t.stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = status.Error(codes.Unavailable, "txnengine ended the transaction stream")
			}
			t.mu.Lock()
			t.err = err
			pending := t.pending
			t.pending = nil
			t.mu.Unlock()
			t.cancel()
			for _, ch := range pending {
				ch <- streamResult{err: err}
			}
			return
		}
		t.mu.Lock()
		ch, ok := t.pending[m.GetTag()]
		delete(t.pending, m.GetTag())
		t.mu.Unlock()
		if ok { // else cancelled: nobody waits
			ch <- decodeAnswer(m)
		}
	}
}

func decodeAnswer(m *streamResp) streamResult {
	switch o := m.GetOutcome().(type) {
	case *txnenginev1.TransactStreamResponse_Response:
		return streamResult{resp: o.Response}
	case *txnenginev1.TransactStreamResponse_Status:
		var sp spb.Status
		if err := proto.Unmarshal(o.Status, &sp); err != nil {
			return streamResult{err: status.Errorf(codes.Internal, "txnengine: undecodable error status: %v", err)}
		}
		return streamResult{err: status.FromProto(&sp).Err()}
	default:
		return streamResult{err: status.Error(codes.Internal, "txnengine: answer without an outcome")}
	}
}

// streamTransact sends req to addr over the Client's stream there,
// opening one if there is none or it ended.
func (c *Client) streamTransact(ctx context.Context, addr string, cc grpc.ClientConnInterface, req *txnenginev1.TransactRequest) (*txnenginev1.TransactResponse, error) {
	for range 2 { // a stream that ends under us is replaced once
		t, err := c.streamTo(addr, cc)
		if err != nil {
			return nil, err
		}
		resp, err := t.transact(ctx, req)
		if !errors.Is(err, errStreamEnded) {
			return resp, err
		}
	}
	return nil, status.Error(codes.Unavailable, "txnengine: transaction stream ended twice before sending")
}

// streamTo returns the running stream to addr, opening a new one when
// needed.
func (c *Client) streamTo(addr string, cc grpc.ClientConnInterface) (*txnStream, error) {
	// Close marks the client closed before it takes streamMu to wait for
	// the streams: a stream is either opened before (and waited for) or
	// refused.
	c.streamMu.Lock()
	defer c.streamMu.Unlock()
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if t := c.streams[addr]; t != nil && !t.ended() {
		return t, nil
	}
	// The stream outlives the request that opens it, until Close. Like a
	// call, opening fails at once when the connection cannot be made.
	t, err := openStream(c.lifetime, cc)
	if err != nil {
		return nil, err
	}
	c.streams[addr] = t
	return t, nil
}

// errStreamEnded: the stream ended before the request was sent on it;
// the caller opens a new one.
var errStreamEnded = errors.New("transaction stream ended")

// transact sends req on the stream and waits for its answer, or for ctx
// (then it cancels the transaction on the engine). An error is what a
// Transact call would have returned; errStreamEnded means req was not
// sent.
func (t *txnStream) transact(ctx context.Context, req *txnenginev1.TransactRequest) (*txnenginev1.TransactResponse, error) {
	m := &streamReq{Kind: &txnenginev1.TransactStreamRequest_Transact{Transact: req}}
	if dl, ok := ctx.Deadline(); ok {
		m.TimeoutMicros = max(1, time.Until(dl).Microseconds())
	}
	carrier := propagation.MapCarrier{}
	streamPropagator.Inject(ctx, carrier)
	if len(carrier) > 0 {
		m.TraceContext = carrier
	}
	ch := make(chan streamResult, 1)
	t.mu.Lock()
	if t.err != nil {
		t.mu.Unlock()
		return nil, errStreamEnded
	}
	m.Tag = t.next
	t.next++
	t.pending[m.Tag] = ch
	t.mu.Unlock()
	// A failed Send ends the stream: the receiver then fails every
	// pending transaction, this one included, with the stream's status.
	t.send(m)
	select {
	case r := <-ch:
		return r.resp, r.err
	case <-ctx.Done():
		t.mu.Lock()
		_, waiting := t.pending[m.Tag]
		delete(t.pending, m.Tag)
		running := t.err == nil
		t.mu.Unlock()
		if waiting && running {
			t.send(&streamReq{Tag: m.Tag, Kind: &txnenginev1.TransactStreamRequest_Cancel{Cancel: true}})
		}
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// send sends m on the stream; an error ends the stream, which the
// receiver reports.
func (t *txnStream) send(m *streamReq) {
	t.sendMu.Lock()
	defer t.sendMu.Unlock()
	_ = t.stream.Send(m)
}
