package txnengine

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	txnenginev1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/txnengine/v1"
)

// streamPropagator carries trace context in TransactStreamRequest, as
// otelgrpc does in a Transact call's metadata.
var streamPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

type (
	streamReq  = txnenginev1.TransactStreamRequest
	streamResp = txnenginev1.TransactStreamResponse
)

// TransactStream runs each transaction of the stream as Transact would,
// concurrently, and sends each answer as it comes. A cancel message
// cancels one transaction; a broken stream cancels all that still run. A
// client that closes its side, or an engine that closes, gets the answers
// of those that run first, then the end of the stream (so that a graceful
// stop of the server never waits on an idle stream).
func (s *server) TransactStream(stream grpc.BidiStreamingServer[streamReq, streamResp]) error {
	ctx := stream.Context()
	var (
		wg sync.WaitGroup
		// Two locks, so that the receiving loop never waits behind a Send
		// blocked on flow control: the client's sender may be waiting for
		// this side to read, while its receiver waits for that sender.
		mu      sync.Mutex // guards running
		running = map[uint64]context.CancelFunc{}
		sendMu  sync.Mutex // guards sendErr and serializes sends on stream
		sendErr error
	)
	defer func() {
		mu.Lock()
		for _, cancel := range running {
			cancel()
		}
		mu.Unlock()
		wg.Wait()
	}()
	send := func(m *streamResp) {
		sendMu.Lock()
		defer sendMu.Unlock()
		if sendErr == nil {
			sendErr = stream.Send(m)
		}
	}
	// Recv blocks, and the engine's end must end the stream too: receive
	// in a goroutine, which ends with the stream once this returns.
	msgs := make(chan *streamReq)
	recvErr := make(chan error, 1)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		var m *streamReq
		select {
		case m = <-msgs:
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				wg.Wait()
				return nil
			}
			return err
		case <-s.e.ctx.Done():
			wg.Wait() // Close answers every running transaction
			return status.Error(codes.Unavailable, ErrClosed.Error())
		}
		tag := m.GetTag()
		switch k := m.GetKind().(type) {
		case *txnenginev1.TransactStreamRequest_Cancel:
			mu.Lock()
			if cancel, ok := running[tag]; ok {
				cancel()
			}
			mu.Unlock()
		case *txnenginev1.TransactStreamRequest_Transact:
			rctx := streamPropagator.Extract(ctx, propagation.MapCarrier(m.GetTraceContext()))
			var cancel context.CancelFunc
			if us := m.GetTimeoutMicros(); us > 0 {
				rctx, cancel = context.WithTimeout(rctx, time.Duration(us)*time.Microsecond)
			} else {
				rctx, cancel = context.WithCancel(rctx)
			}
			mu.Lock()
			if _, dup := running[tag]; dup {
				mu.Unlock()
				cancel()
				return status.Errorf(codes.InvalidArgument, "txnengine: tag %d already running on this stream", tag)
			}
			running[tag] = cancel
			mu.Unlock()
			req := k.Transact
			wg.Go(func() {
				resp, err := s.Transact(rctx, req)
				mu.Lock()
				delete(running, tag)
				mu.Unlock()
				cancel()
				send(streamAnswer(tag, resp, err))
			})
		default:
			return status.Errorf(codes.InvalidArgument, "txnengine: stream message %d neither transacts nor cancels", tag)
		}
	}
}

// streamAnswer wraps Transact's outcome for the stream.
func streamAnswer(tag uint64, resp *txnenginev1.TransactResponse, err error) *streamResp {
	if err == nil {
		return &streamResp{Tag: tag, Outcome: &txnenginev1.TransactStreamResponse_Response{Response: resp}}
	}
	st, _ := status.FromError(err)
	raw, merr := proto.Marshal(st.Proto())
	if merr != nil {
		raw, _ = proto.Marshal(status.New(codes.Internal, err.Error()).Proto())
	}
	return &streamResp{Tag: tag, Outcome: &txnenginev1.TransactStreamResponse_Status{Status: raw}}
}
