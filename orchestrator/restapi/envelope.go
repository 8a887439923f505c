package restapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// Envelope statuses, as Linkis defines them.
const (
	StatusOK          = 0  // success
	StatusError       = 1  // the request failed
	StatusValidation  = 2  // the request is malformed
	StatusAuthFailed  = 3  // wrong token, or another user's job or file
	StatusNotLoggedIn = -1 // no token headers
)

// Envelope is every answer's body: {"method", "status", "message", "data"}.
// Method is the request's path; Data holds the answer's fields on success
// and an ErrorData on failure.
type Envelope struct {
	Method  string          `json:"method"`
	Status  int             `json:"status"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// ErrorData is the data of a failed answer: the error's kind (the
// snake_case name of its linkis sentinel, "internal" when it has none)
// and, for a *linkis.Error, its parts. Linkis clients ignore it; Client
// rebuilds the typed error from it.
type ErrorData struct {
	ErrorKind string `json:"errorKind"`
	Field     string `json:"field,omitempty"`
	Value     string `json:"value,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Retryable bool   `json:"retryable"`
}

// validationKinds are the kinds of bad input: envelope status 2.
var validationKinds = []error{
	linkis.ErrInvalidArgument, linkis.ErrInvalidLabel, linkis.ErrMissingLabel,
	linkis.ErrInvalidResource, linkis.ErrResourceOverflow, linkis.ErrUnknownEngineType,
}

// httpStatuses maps the kinds of envelope status 1 whose HTTP status is
// not 400.
var httpStatuses = []struct {
	kind   error
	status int
}{
	{linkis.ErrUnknownJob, http.StatusNotFound},
	{linkis.ErrIllegalTransition, http.StatusConflict},
	{linkis.ErrDuplicate, http.StatusConflict},
	{linkis.ErrQueueFull, http.StatusTooManyRequests},
	{linkis.ErrQuotaExceeded, http.StatusTooManyRequests},
	{linkis.ErrInsufficientResource, http.StatusServiceUnavailable},
	{linkis.ErrNoNodeAvailable, http.StatusServiceUnavailable},
	{linkis.ErrEngineBusy, http.StatusServiceUnavailable},
	{linkis.ErrNotLeader, http.StatusServiceUnavailable},
	{linkis.ErrUnavailable, http.StatusServiceUnavailable},
	{linkis.ErrTimeout, http.StatusGatewayTimeout},
	{linkis.ErrMalformed, http.StatusInternalServerError},
}

// classify returns the envelope status, the HTTP status, the message and
// the error data of err. internal is true for an error of no known kind,
// whose text is replaced by "internal error".
func classify(err error) (status, httpStatus int, msg string, data ErrorData, internal bool) {
	b := api.BodyOf(err)
	data = ErrorData{ErrorKind: b.Kind, Field: b.Field, Value: b.Value, Reason: b.Reason, Retryable: b.Retryable}
	if b.Kind == "internal" {
		return StatusError, http.StatusInternalServerError, "internal error; the server's log has the details", ErrorData{ErrorKind: "internal"}, true
	}
	msg = err.Error()
	if errors.Is(err, linkis.ErrPermission) {
		return StatusAuthFailed, http.StatusForbidden, msg, data, false
	}
	for _, k := range validationKinds {
		if errors.Is(err, k) {
			return StatusValidation, http.StatusBadRequest, msg, data, false
		}
	}
	for _, k := range httpStatuses {
		if errors.Is(err, k.kind) {
			return StatusError, k.status, msg, data, false
		}
	}
	return StatusError, http.StatusBadRequest, msg, data, false
}

// WriteError answers r with the envelope of err, as the API answers its own
// failures: for a server that cannot serve the API at all yet (a cluster
// member that is starting), so that Linkis clients still get an answer they
// can read.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg, data, _ := classify(err)
	b, _ := json.Marshal(data)
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(Envelope{Method: clip(r.URL.Path), Status: status, Message: msg, Data: b})
}

// errorFromEnvelope rebuilds a typed error from a failed answer.
func errorFromEnvelope(httpStatus int, env Envelope) error {
	var d ErrorData
	if len(env.Data) > 0 {
		_ = json.Unmarshal(env.Data, &d)
	}
	switch {
	case env.Status == StatusNotLoggedIn:
		return &linkis.Error{Kind: linkis.ErrPermission, Field: "token", Reason: env.Message}
	case d.ErrorKind != "" && d.ErrorKind != "internal":
		err := api.ErrorFromBody(httpStatus, api.ErrorBody{Kind: d.ErrorKind, Field: d.Field, Value: d.Value, Reason: d.Reason, Retryable: d.Retryable, Message: env.Message})
		var le *linkis.Error
		if errors.As(err, &le) {
			return le
		}
		return err
	case env.Status == StatusAuthFailed:
		return &linkis.Error{Kind: linkis.ErrPermission, Reason: env.Message}
	case env.Status == StatusValidation:
		return &linkis.Error{Kind: linkis.ErrInvalidArgument, Reason: env.Message}
	}
	return &RemoteError{HTTPStatus: httpStatus, Status: env.Status, Message: env.Message}
}

// RemoteError is a failed answer whose kind is not known to this client
// (an internal error of the server, or another server's error).
type RemoteError struct {
	HTTPStatus int    // the HTTP status of the answer
	Status     int    // the envelope's status
	Message    string // the envelope's message
}

// Error returns the server's message.
func (e *RemoteError) Error() string {
	if e.Message == "" {
		return "server answered HTTP " + http.StatusText(e.HTTPStatus)
	}
	return e.Message
}
