// Package restapi is the Entrance's REST API as Linkis clients know it:
// the paths under /api/rest_j/v1 (entrance/submit, entrance/{execID}/
// status|progress|log|kill, jobhistory/{taskID}/get, jobhistory/list,
// filesystem/openFile), the {method, status, message, data} envelope and
// the Token-User/Token-Code authentication; a typed Go Client for it; and
// the small pieces the command line shares with the embedded system (the
// engine-name mapping EngineLabel, the result-table printer WriteTable,
// the progress line ProgressLine). Sub-package restapitest holds an
// in-memory Jobs for tests.
//
// The handler is a translator and a gate. It authenticates the request,
// decodes and checks the parameters, calls the Jobs interface it declares
// with the authenticated user, and encodes the answer. It never reads job
// state, job history or result files by itself - only through Jobs, which
// also decides what belongs to whom - and it never keeps state between
// requests. It must never put a Go error's internals or a file system path
// the user did not send or does not own into a message: errors of no
// known kind are answered "internal error" and logged.
//
// # Status codes
//
// The envelope's status is Linkis's: 0 ok, 1 error, 2 validation failed,
// 3 auth failed (wrong token, or a job or file of another user), -1 not
// logged in (no token headers). The HTTP status follows Linkis's own
// mapping (0→200, -1→401, 3→403) and is more specific for the rest, so
// that plain HTTP tools see failures: 2→400 (413 for a body over the
// limit), 1→404 for an unknown job or path, 409 for an illegal state
// change, 429 when a queue is full, 503 when unavailable (both with
// Retry-After), 500 for an internal error and 400 otherwise. Linkis
// clients read the envelope, which is always present; on an error its
// data carries the error's kind ({"errorKind", "field", "value",
// "reason", "retryable"}) so that Client can rebuild a *linkis.Error.
package restapi
