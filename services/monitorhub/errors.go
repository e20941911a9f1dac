package monitorhub

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Sentinels of the hub. toStatus maps them to gRPC codes (STYLE.md §3).
var (
	// ErrUnknownDatabase: no <prefix>/<service>/<db>/_schema key in etcd.
	ErrUnknownDatabase = errors.New("monitorhub: unknown database")
	// ErrInvalidRequest: a malformed Watch request.
	ErrInvalidRequest = errors.New("monitorhub: invalid request")
	// ErrClosed: the hub is shutting down; resume elsewhere or later.
	ErrClosed = errors.New("monitorhub: hub closed")
	// ErrLagging: a subscriber let too many updates pile up and was
	// closed; it resumes from the history at its last revision.
	ErrLagging = errors.New("monitorhub: subscriber fell too far behind")
	// ErrTooOld: the subscriber's last revision left the history window
	// (trimmed or compacted); resuming gets a snapshot.
	ErrTooOld = errors.New("monitorhub: revision no longer in history")
)

// LastRevMetadataKey is the trailer that carries the last revision a
// closed subscriber was sent, so that it can resume from it.
const LastRevMetadataKey = "ovsdb-etcd-last-rev"

// SubscriberClosedError says why the hub closed a subscriber and the last
// revision it was sent (including progress).
type SubscriberClosedError struct {
	Err     error // ErrLagging, ErrTooOld or ErrClosed
	LastRev int64
}

func (e *SubscriberClosedError) Error() string {
	return fmt.Sprintf("%v (last_rev=%d)", e.Err, e.LastRev)
}

func (e *SubscriberClosedError) Unwrap() error { return e.Err }

// toStatus maps an error of the hub to a gRPC status error. Context errors
// pass through unchanged.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, ErrUnknownDatabase):
		code = codes.NotFound
	case errors.Is(err, ErrInvalidRequest):
		code = codes.InvalidArgument
	case errors.Is(err, ErrClosed):
		code = codes.Unavailable
	case errors.Is(err, ErrLagging):
		code = codes.ResourceExhausted
	case errors.Is(err, ErrTooOld):
		code = codes.OutOfRange
	}
	return status.Error(code, err.Error())
}

// lastRevTrailer is the trailer for a closed subscriber.
func lastRevTrailer(rev int64) metadata.MD {
	return metadata.Pairs(LastRevMetadataKey, strconv.FormatInt(rev, 10))
}

// retryable tells the client whether a stream error is worth resuming.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.NotFound, codes.Unimplemented, codes.PermissionDenied,
		codes.Unauthenticated, codes.FailedPrecondition:
		return false
	}
	return true
}
