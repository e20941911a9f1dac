package ovsdb

import (
	"errors"
	"fmt"
)

// Error tags: the exact "error" strings ovsdb-server puts in error objects.
// Clients key their fallbacks on these, so never reword them.
const (
	TagReferentialIntegrity = "referential integrity violation"
	TagConstraintViolation  = "constraint violation"
	TagResourcesExhausted   = "resources exhausted"
	TagIOError              = "I/O error"
	TagDuplicateUUIDName    = "duplicate uuid-name"
	TagDuplicateUUID        = "duplicate uuid"
	TagDomainError          = "domain error"
	TagRangeError           = "range error"
	TagTimedOut             = "timed out"
	TagNotSupported         = "not supported"
	TagAborted              = "aborted"
	TagNotOwner             = "not owner"
	TagSyntaxError          = "syntax error"
	TagUnknownColumn        = "unknown column"
	TagUnknownTable         = "unknown table"
	TagUnknownDatabase      = "unknown database"
	TagUnknownMethod        = "unknown method"
	TagUnknownMonitor       = "unknown monitor"
	TagDuplicateMonitorID   = "duplicate monitor ID"
	TagDuplicateRequestID   = "duplicate request ID"
	TagNotAllowed           = "not allowed"
	TagInternalError        = "internal error"
)

// Error is an RFC 7047 error object: {"error": Tag, "details": Details}
// plus the "syntax" member ovsdb-server adds to syntax errors. It is the
// one type for every tag; errors.Is matches two Errors by Tag, so
// errors.Is(err, ovsdb.ErrConstraintViolation) works through %w wrapping.
type Error struct {
	Tag     string
	Details string // omitted from JSON when empty
	Syntax  string // the offending JSON text; omitted when empty
}

// Sentinels for errors.Is, one per tag.
var (
	ErrReferentialIntegrity = &Error{Tag: TagReferentialIntegrity}
	ErrConstraintViolation  = &Error{Tag: TagConstraintViolation}
	ErrResourcesExhausted   = &Error{Tag: TagResourcesExhausted}
	ErrDuplicateUUIDName    = &Error{Tag: TagDuplicateUUIDName}
	ErrDuplicateUUID        = &Error{Tag: TagDuplicateUUID}
	ErrDomainError          = &Error{Tag: TagDomainError}
	ErrRangeError           = &Error{Tag: TagRangeError}
	ErrTimedOut             = &Error{Tag: TagTimedOut}
	ErrNotSupported         = &Error{Tag: TagNotSupported}
	ErrAborted              = &Error{Tag: TagAborted}
	ErrNotOwner             = &Error{Tag: TagNotOwner}
	ErrSyntaxError          = &Error{Tag: TagSyntaxError}
	ErrUnknownColumn        = &Error{Tag: TagUnknownColumn}
	ErrUnknownTable         = &Error{Tag: TagUnknownTable}
	ErrNotAllowed           = &Error{Tag: TagNotAllowed}
)

// NewError returns an error object with a formatted details string.
func NewError(tag, format string, args ...any) *Error {
	return &Error{Tag: tag, Details: fmt.Sprintf(format, args...)}
}

// Error implements error.
func (e *Error) Error() string {
	if e.Details == "" {
		return e.Tag
	}
	return e.Tag + ": " + e.Details
}

// Is matches any *Error with the same tag.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Tag == e.Tag
	}
	return false
}

// JSON returns the error object as ovsdb-server writes it.
func (e *Error) JSON() map[string]any {
	m := map[string]any{"error": e.Tag}
	if e.Details != "" {
		m["details"] = e.Details
	}
	if e.Syntax != "" {
		m["syntax"] = e.Syntax
	}
	return m
}

// AsError returns the *Error inside err, or wraps any other error as an
// "internal error" so that a client always gets an RFC 7047 object.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Tag: TagInternalError, Details: err.Error()}
}

// TagOVSDBError is the generic tag ovsdb-server uses for errors created
// without one, such as a duplicate element in a JSON set or map.
const TagOVSDBError = "ovsdb error"
