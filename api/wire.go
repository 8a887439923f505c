package api

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/golinkis/golinkis/linkis"
)

// Manager API paths (served by every manager node; writes reaching a
// follower are forwarded to the leader).
const (
	PathRegisterECM   = "/v1/ecms/register"
	PathECMHeartbeat  = "/v1/ecms/heartbeat"
	PathDeregisterECM = "/v1/ecms/deregister"
	PathECStarted     = "/v1/engines/started"
	PathECEnded       = "/v1/engines/ended"
	PathECHeartbeat   = "/v1/engines/heartbeat"
	PathECUnlock      = "/v1/engines/unlock"
	PathECKill        = "/v1/engines/kill"
	PathAsk           = "/v1/asks"         // POST: ask; GET /v1/asks/{id}?wait=DUR: its outcome
	PathRelease       = "/v1/asks/release" // POST {askId}
	PathRenew         = "/v1/asks/renew"   // POST {askId}
	PathStatus        = "/v1/status"
	PathMembers       = "/v1/members" // GET: list; POST: join; DELETE /v1/members/{id}: remove
	PathMetrics       = "/metrics"
	// PathCommands: POST an encoded manager command (manager.EncodeCommand)
	// → CommandAnswer; only the leader applies it (members use it to pass
	// the commands their callers give them to the leader).
	PathCommands = "/v1/commands"
	// PathReadIndex: GET → ReadIndex, after a consistent read at the
	// leader: a member that has applied Index serves reads as current as
	// the leader's were when it answered (ReadIndex).
	PathReadIndex = "/v1/readindex"
)

// ECM API paths (served by every ECM).
const (
	PathLaunch = "/v1/launch"
	PathKill   = "/v1/kill"
	// PathECMEngines is the root of the host-data API: an ECM's engines'
	// task logs and result files (see hostdata.go).
	PathECMEngines = "/v1/ecm/engines"
)

// HeaderToken carries the shared cluster token, as "Bearer TOKEN" in the
// standard Authorization header.
const HeaderToken = "Authorization"

// MaxBodyBytes bounds every request body except launches; MaxLaunchBytes
// bounds a launch request, which may carry materials.
const (
	MaxBodyBytes   = 1 << 20
	MaxLaunchBytes = 16 << 20
)

// SetToken puts the cluster token on a request.
func SetToken(r *http.Request, token string) {
	if token != "" {
		r.Header.Set(HeaderToken, "Bearer "+token)
	}
}

// TokenOK reports whether r carries the cluster token, comparing in
// constant time. An empty configured token is never accepted: a cluster
// without a token is a configuration error, not an open door.
func TokenOK(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get(HeaderToken), "Bearer ")
	return ok && token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// RequireToken wraps h so that a request without the right token gets 401
// and never reaches it.
func RequireToken(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !TokenOK(r, token) {
			WriteError(w, linkis.Errorf(linkis.ErrPermission, "token", "missing or wrong cluster token"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ReadBody reads at most limit bytes of r's body; a larger body is an
// ErrInvalidArgument saying so. w may be nil.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, linkis.Errorf(linkis.ErrInvalidArgument, "body", "larger than %d bytes", limit)
		}
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "body", "cannot be read: %v", err)
	}
	return data, nil
}

// DecodeBody decodes one JSON value of at most limit bytes from r's body
// into v, like Decode. w may be nil.
func DecodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	data, err := ReadBody(w, r, limit)
	if err != nil {
		return err
	}
	return Decode(data, v)
}

// Decode decodes one JSON value from data into v. Bad JSON, a wrong field
// type or trailing data give an ErrInvalidArgument naming the problem.
// Unknown fields are ignored so that newer clients can talk to older
// servers.
func Decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return linkis.Errorf(linkis.ErrInvalidArgument, "body", "empty; a JSON object is required")
		case errors.As(err, &syntax):
			return linkis.Errorf(linkis.ErrInvalidArgument, "body", "not valid JSON at byte %d: %v", syntax.Offset, syntax)
		case errors.As(err, &typ):
			return linkis.Errorf(linkis.ErrInvalidArgument, typ.Field, "must be a JSON %v, got %s", typ.Type, typ.Value)
		default:
			return linkis.Errorf(linkis.ErrInvalidArgument, "body", "not valid JSON: %v", err)
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return linkis.Errorf(linkis.ErrInvalidArgument, "body", "trailing data after the JSON value")
	}
	return nil
}

// ErrorBody is the error envelope: {"error": {...}}.
type ErrorBody struct {
	Kind      string `json:"kind"`            // snake_case name of the linkis sentinel
	Field     string `json:"field,omitempty"` // the field or object concerned
	Value     string `json:"value,omitempty"` // the offending value
	Reason    string `json:"reason,omitempty"`
	Message   string `json:"message"` // the whole error, for people
	Retryable bool   `json:"retryable"`
	Leader    string `json:"leader,omitempty"` // the leader's API address, when known, for ErrNotLeader
}

type errorEnvelope struct {
	Error ErrorBody `json:"error"`
}

var kinds = []struct {
	name   string
	kind   error
	status int
}{
	{"invalid_argument", linkis.ErrInvalidArgument, http.StatusBadRequest},
	{"invalid_label", linkis.ErrInvalidLabel, http.StatusBadRequest},
	{"missing_label", linkis.ErrMissingLabel, http.StatusBadRequest},
	{"invalid_resource", linkis.ErrInvalidResource, http.StatusBadRequest},
	{"resource_overflow", linkis.ErrResourceOverflow, http.StatusBadRequest},
	{"malformed", linkis.ErrMalformed, http.StatusBadRequest},
	{"unknown_command", linkis.ErrUnknownCommand, http.StatusBadRequest},
	{"unknown_engine_type", linkis.ErrUnknownEngineType, http.StatusBadRequest},
	{"permission", linkis.ErrPermission, http.StatusUnauthorized},
	{"unknown_node", linkis.ErrUnknownNode, http.StatusNotFound},
	{"unknown_ask", linkis.ErrUnknownAsk, http.StatusNotFound},
	{"unknown_job", linkis.ErrUnknownJob, http.StatusNotFound},
	{"duplicate", linkis.ErrDuplicate, http.StatusConflict},
	{"illegal_transition", linkis.ErrIllegalTransition, http.StatusConflict},
	{"lock_mismatch", linkis.ErrLockMismatch, http.StatusConflict},
	{"engine_failed", linkis.ErrEngineFailed, http.StatusConflict},
	{"insufficient_resource", linkis.ErrInsufficientResource, http.StatusServiceUnavailable},
	{"quota_exceeded", linkis.ErrQuotaExceeded, http.StatusTooManyRequests},
	{"no_node_available", linkis.ErrNoNodeAvailable, http.StatusServiceUnavailable},
	{"engine_busy", linkis.ErrEngineBusy, http.StatusServiceUnavailable},
	{"queue_full", linkis.ErrQueueFull, http.StatusTooManyRequests},
	{"timeout", linkis.ErrTimeout, http.StatusGatewayTimeout},
	{"not_leader", linkis.ErrNotLeader, http.StatusServiceUnavailable},
	{"unavailable", linkis.ErrUnavailable, http.StatusServiceUnavailable},
}

// StatusOf maps an error to its HTTP status: the kind's status, or 500 for
// an error of no known kind.
func StatusOf(err error) int {
	for _, k := range kinds {
		if errors.Is(err, k.kind) {
			return k.status
		}
	}
	return http.StatusInternalServerError
}

// BodyOf returns the envelope of an error.
func BodyOf(err error) ErrorBody {
	b := ErrorBody{Kind: "internal", Message: err.Error(), Retryable: linkis.IsRetryable(err)}
	for _, k := range kinds {
		if errors.Is(err, k.kind) {
			b.Kind = k.name
			break
		}
	}
	var le *linkis.Error
	if errors.As(err, &le) {
		b.Field, b.Value, b.Reason = le.Field, le.Value, le.Reason
	}
	var nl *NotLeaderError
	if errors.As(err, &nl) {
		b.Leader, b.Reason = nl.Leader, nl.Reason
	}
	return b
}

// NotLeaderError says a node did not serve a request - certainly did not
// apply it - because it is not the leader; Leader is the leader's API
// address when the node knows it, Reason why it could not pass the
// request on.
type NotLeaderError struct{ Leader, Reason string }

func (e *NotLeaderError) Error() string {
	msg := linkis.ErrNotLeader.Error() + ": no leader known"
	if e.Leader != "" {
		msg = linkis.ErrNotLeader.Error() + ": the leader is at " + e.Leader
	}
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	return msg
}

// Unwrap makes errors.Is(err, linkis.ErrNotLeader) hold.
func (e *NotLeaderError) Unwrap() error { return linkis.ErrNotLeader }

// WriteError writes err as the error envelope with its status.
func WriteError(w http.ResponseWriter, err error) {
	status := StatusOf(err)
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	WriteJSON(w, status, errorEnvelope{Error: BodyOf(err)})
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ErrorFromBody rebuilds a typed error from an envelope received with an
// HTTP status, so that errors.Is and linkis.IsRetryable work across the
// wire.
func ErrorFromBody(status int, b ErrorBody) error {
	if b.Kind == "not_leader" {
		return &NotLeaderError{Leader: b.Leader, Reason: b.Reason}
	}
	for _, k := range kinds {
		if k.name == b.Kind {
			retry := b.Retryable
			return &linkis.Error{Kind: k.kind, Field: b.Field, Value: b.Value, Reason: b.Reason, Retry: &retry}
		}
	}
	return fmt.Errorf("HTTP %d: %s", status, b.Message)
}
