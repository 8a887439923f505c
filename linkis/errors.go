package linkis

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors name the kind of a failure. Every error returned by this
// module's packages wraps exactly one of them, so callers test with
// errors.Is and API boundaries map them to status codes.
var (
	// ErrInvalidArgument is a malformed request field that has no more
	// specific kind.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrInvalidLabel is a label whose key or value is malformed.
	ErrInvalidLabel = errors.New("invalid label")
	// ErrMissingLabel is a request without a label it must carry
	// (userCreator and engineType for every engine request).
	ErrMissingLabel = errors.New("missing label")
	// ErrInvalidResource is a negative or malformed resource quantity.
	ErrInvalidResource = errors.New("invalid resource")
	// ErrResourceOverflow is resource arithmetic that would overflow int64.
	ErrResourceOverflow = errors.New("resource overflow")
	// ErrInsufficientResource means no eligible node has enough resource
	// left for a request. Retryable.
	ErrInsufficientResource = errors.New("insufficient resource")
	// ErrQuotaExceeded means the combined-label ledger of the request has no
	// room left (memory, cores or its instance cap). Retryable.
	ErrQuotaExceeded = errors.New("quota exceeded")
	// ErrNoNodeAvailable means no node is available, healthy and matching
	// the request's labels. Retryable.
	ErrNoNodeAvailable = errors.New("no node available")
	// ErrEngineBusy means the engine a request pinned cannot serve it now.
	// Retryable.
	ErrEngineBusy = errors.New("engine busy")
	// ErrQueueFull means a waiting queue is at its capacity. Retryable.
	ErrQueueFull = errors.New("queue full")
	// ErrTimeout means a wait or a lock outlived its deadline. Retryable.
	ErrTimeout = errors.New("timeout")
	// ErrEngineFailed means an engine failed to start or died; whether a
	// retry makes sense is carried by the error (see IsRetryable).
	ErrEngineFailed = errors.New("engine failed")
	// ErrIllegalTransition is a node status change the transition table
	// forbids.
	ErrIllegalTransition = errors.New("illegal status transition")
	// ErrUnknownNode names an ECM or EngineConn the manager does not know.
	ErrUnknownNode = errors.New("unknown node")
	// ErrUnknownAsk names an engine ask the manager does not know.
	ErrUnknownAsk = errors.New("unknown ask")
	// ErrUnknownJob names a job (task id or exec id) the entrance does not
	// know.
	ErrUnknownJob = errors.New("unknown job")
	// ErrUnknownEngineType is an engine type no plugin is registered for.
	ErrUnknownEngineType = errors.New("unknown engine type")
	// ErrDuplicate is a second registration of something that exists.
	ErrDuplicate = errors.New("duplicate")
	// ErrLockMismatch is an operation that presents a lock token the engine
	// is not held with.
	ErrLockMismatch = errors.New("lock mismatch")
	// ErrMalformed is an encoded command or snapshot that cannot be decoded.
	ErrMalformed = errors.New("malformed encoding")
	// ErrUnknownCommand is a command type this version does not know and
	// that was not marked ignorable.
	ErrUnknownCommand = errors.New("unknown command")
	// ErrPermission is a request for something that belongs to another user,
	// or one without the right credentials.
	ErrPermission = errors.New("permission denied")
	// ErrNotLeader means a replica that is not the leader was asked for
	// something only the leader can do. Retryable (at the leader).
	ErrNotLeader = errors.New("not the leader")
	// ErrUnavailable means the service cannot do the request now (no
	// quorum, shutting down, a peer unreachable). Retryable.
	ErrUnavailable = errors.New("unavailable")
)

// retryableKinds are the kinds for which trying the same request again later
// can succeed without the caller changing anything.
var retryableKinds = []error{
	ErrInsufficientResource, ErrQuotaExceeded, ErrNoNodeAvailable,
	ErrEngineBusy, ErrQueueFull, ErrTimeout, ErrNotLeader, ErrUnavailable,
}

// Error is the typed error of this module: a kind (one of the sentinel
// errors), the field or object it concerns, and a human reason.
// errors.Is(err, kind) holds for the wrapped kind.
type Error struct {
	Kind   error  // one of the sentinel errors above
	Field  string // the field, label key or object concerned; may be empty
	Value  string // the offending value, quoted in the message; may be empty
	Reason string // what is wrong, in a few words
	// Retry overrides the kind's retryability when set (used by
	// ErrEngineFailed, whose retryability depends on the failure).
	Retry *bool
}

// Errorf returns an *Error of the given kind about field, with a formatted
// reason.
func Errorf(kind error, field, format string, args ...any) *Error {
	return &Error{Kind: kind, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ValueError returns an *Error of the given kind about field's bad value.
func ValueError(kind error, field, value, reason string) *Error {
	return &Error{Kind: kind, Field: field, Value: value, Reason: reason}
}

// Error formats as "kind: field "value": reason".
func (e *Error) Error() string {
	b := make([]byte, 0, 64)
	b = append(b, e.Kind.Error()...)
	if e.Field != "" {
		b = append(b, ": "...)
		b = append(b, e.Field...)
	}
	if e.Value != "" {
		b = append(b, ' ')
		b = strconv.AppendQuote(b, truncate(e.Value, 64))
	}
	if e.Reason != "" {
		b = append(b, ": "...)
		b = append(b, e.Reason...)
	}
	return string(b)
}

// Unwrap returns the kind, so errors.Is(err, ErrInvalidLabel) works.
func (e *Error) Unwrap() error { return e.Kind }

// Retryable reports whether trying again later can succeed.
func (e *Error) Retryable() bool {
	if e.Retry != nil {
		return *e.Retry
	}
	for _, k := range retryableKinds {
		if e.Kind == k {
			return true
		}
	}
	return false
}

// IsRetryable reports whether err is a failure that may succeed when the
// same request is tried again later: the first error in the chain that has
// a Retryable() bool method (an *Error, or a transport failure such as
// package api's "member not reached") says, else one of the retryable
// sentinel kinds.
func IsRetryable(err error) bool {
	var e interface{ Retryable() bool }
	if errors.As(err, &e) {
		return e.Retryable()
	}
	for _, k := range retryableKinds {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
