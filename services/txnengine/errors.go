package txnengine

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinels of the txnengine. toStatus maps them to gRPC codes.
var (
	// ErrNotLeader: this engine does not lead; the request did not run.
	ErrNotLeader = errors.New("txnengine: not leader")
	// ErrLeadershipLost: leadership ended (fence failed, session closed)
	// before the request's batch was written; the request did not commit.
	ErrLeadershipLost = errors.New("txnengine: leadership lost")
	// ErrNotCommitted: the request's batch provably did not commit (its
	// etcd Txn was lost and then proved not applied); it may be retried.
	ErrNotCommitted = errors.New("txnengine: transaction not committed")
	// ErrOutcomeUnknown: the engine stopped before it could learn whether
	// the request's batch committed. Never retry it blindly.
	ErrOutcomeUnknown = errors.New("txnengine: commit outcome unknown")
	// ErrUnknownDatabase: the request names a database not served.
	ErrUnknownDatabase = errors.New("txnengine: unknown database")
	// ErrBadRequest: the request is malformed.
	ErrBadRequest = errors.New("txnengine: malformed request")
	// ErrOverloaded: the commit queue is full.
	ErrOverloaded = errors.New("txnengine: commit queue full")
	// ErrClosed: the engine is closed.
	ErrClosed = errors.New("txnengine: closed")
	// ErrSchemaMismatch: the schema given differs from the stored one.
	ErrSchemaMismatch = errors.New("txnengine: schema version mismatch")
)

// Reasons carried in an errdetails.ErrorInfo of an Unavailable status.
// Each means "the transaction did not commit and may be retried on the
// leader"; Client relies on them.
const (
	ErrorDomain           = "txnengine.ovsdb-etcd"
	ReasonNotLeader       = "NOT_LEADER"
	ReasonLeadershipLost  = "LEADERSHIP_LOST"
	ReasonNotCommitted    = "NOT_COMMITTED"
	MetadataLeaderAddress = "leader"
)

// notLeaderError is ErrNotLeader with the current leader's address, when
// known.
type notLeaderError struct {
	leader string
}

func (e *notLeaderError) Error() string {
	if e.leader == "" {
		return ErrNotLeader.Error() + "; no leader elected"
	}
	return ErrNotLeader.Error() + "; leader is " + e.leader
}

func (e *notLeaderError) Unwrap() error { return ErrNotLeader }

// toStatus maps an error of this package to a gRPC status error, matching
// wrapped sentinels (etcd v3rpc/util.go, with errors.Is).
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && !isOurs(err) {
		return err
	}
	// Our sentinels first: they may wrap the context error that caused
	// them, and they say more (for example that nothing committed).
	switch {
	case errors.Is(err, ErrOutcomeUnknown):
		// Before anything retryable: a request that may have committed
		// must never look safe to resend.
		return status.Error(codes.Unknown, err.Error())
	case errors.Is(err, ErrNotLeader):
		leader := ""
		var nl *notLeaderError
		if errors.As(err, &nl) {
			leader = nl.leader
		}
		return withInfo(codes.Unavailable, err.Error(), ReasonNotLeader, leader)
	case errors.Is(err, ErrLeadershipLost), errors.Is(err, ErrClosed):
		return withInfo(codes.Unavailable, err.Error(), ReasonLeadershipLost, "")
	case errors.Is(err, ErrNotCommitted):
		return withInfo(codes.Unavailable, err.Error(), ReasonNotCommitted, "")
	case errors.Is(err, ErrUnknownDatabase):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrBadRequest):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrOverloaded):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, ErrSchemaMismatch):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

func isOurs(err error) bool {
	for _, s := range []error{ErrNotLeader, ErrLeadershipLost, ErrNotCommitted, ErrOutcomeUnknown, ErrUnknownDatabase,
		ErrBadRequest, ErrOverloaded, ErrClosed, ErrSchemaMismatch, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func withInfo(code codes.Code, msg, reason, leader string) error {
	st := status.New(code, msg)
	info := &errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain}
	if leader != "" {
		info.Metadata = map[string]string{MetadataLeaderAddress: leader}
	}
	if d, err := st.WithDetails(info); err == nil {
		st = d
	}
	return st.Err()
}

// notExecuted reports whether err is a status proving that the txnengine
// did not commit the request (so it may be sent again), and returns the
// leader address it names, if any.
func notExecuted(err error) (leader string, ok bool) {
	st, isStatus := status.FromError(err)
	if !isStatus || st.Code() != codes.Unavailable {
		return "", false
	}
	for _, d := range st.Details() {
		info, isInfo := d.(*errdetails.ErrorInfo)
		if !isInfo || info.Domain != ErrorDomain {
			continue
		}
		switch info.Reason {
		case ReasonNotLeader, ReasonLeadershipLost, ReasonNotCommitted:
			return info.Metadata[MetadataLeaderAddress], true
		}
	}
	return "", false
}
