// Package restapi is the Entrance's REST API as Linkis clients know it:
// the paths under /api/rest_j/v1 (entrance/submit, entrance/{execID}/
// status|progress|log|kill, jobhistory/{taskID}/get, jobhistory/list,
// filesystem/openFile; and the management API of manage*.go -
// linkisManager/..., configuration/..., variable/...), the {method,
// status, message, data} envelope and
// the Token-User/Token-Code authentication; a typed Go Client for it; and
// the small pieces the command line shares with the embedded system (the
// result-table printer WriteTable, the progress line ProgressLine; the
// engine-name mapping is orchestrator.EngineLabel). Sub-package restapitest holds an
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
// # The management API
//
// manage.go, manage_config.go and manage_types.go serve what Linkis's
// console and DataSphereStudio call: nodes, engines and their logs,
// resources, the configuration tree, global variables - translating
// Linkis's paths, bodies and answers (EMNodeVo, AMEngineNodeVo,
// ECResourceInfoRecordVo, UserResourceVo, ConfigKeyValue, VarKeyValueVO)
// to the Operations it declares, which orchestrator/admin implements and
// which decides who may do what from the caller and Config.IsAdmin
// (Config.Admins). Without Operations those paths answer 501. Additions
// Linkis does not have (paging of listAllEMs and ecList, a "user" to name
// another user's level for an administrator, a row's "label" for a reset)
// are marked in the types. manage_client.go is the Go client of these
// calls (linkis admin uses it).
//
// # Status codes
//
// The envelope's status is Linkis's: 0 ok, 1 error, 2 validation failed,
// 3 auth failed, -1 not logged in (no token headers). Auth failed covers
// a wrong token and also another user's job or result file (Jobs answers
// linkis.ErrPermission; the message never says whose it is); an unknown
// job is 1 with "unknown job". Bad input (malformed JSON, a missing label,
// an unknown engine type or variable, a bad parameter) is 2.
//
// The HTTP status follows Linkis's own mapping for 0→200, -1→401 and
// 3→403, and is more specific for the rest so that plain HTTP tools see
// failures: 2→400 (413 for a body over the limit, 405 for a wrong
// method); 1→404 for an unknown job or path, 409 for an illegal state
// change, 429 when a queue or quota is full and 503 when unavailable
// (both with Retry-After), 504 for a timeout, 500 for an internal error,
// 400 otherwise. Linkis clients read the envelope, which every answer
// carries; on an error its data holds the error's kind ({"errorKind",
// "field", "value", "reason", "retryable"}) so that Client can rebuild a
// *linkis.Error.
//
// # Following a job
//
// Client.Wait and Follow poll status, progress and log (each poll's calls
// bounded by 30 s) until the job ends. A server that does not answer - down,
// restarting, hung, or a proxy answering 502/503/504 - is tried again after
// 200 ms, backing off to 5 s, and Client.OnConnection hears each miss and
// the return, so a command line can say so instead of looking hung; the
// log goes on from the line it had, none lost or repeated. After
// Client.Reconnect (2 min) without an answer they stop with
// linkis.ErrUnavailable. Any answer that is an error (an unknown job, no
// permission) stops them at once.
package restapi
