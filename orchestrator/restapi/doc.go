// Package restapi is Linkis's REST API as Linkis's clients know it - the
// linkis-cli, the Java SDK (UJESClient, LinkisJobClient), the management
// console and Scriptis - under /api/rest_j/v1 with the {method, status,
// message, data} envelope: the gateway's user/login, logout, userInfo,
// heartbeat and publicKey; the entrance's submit, execute and
// {execID}/status, progress, progressWithResource, log, kill, killJobs,
// pause; the history's jobhistory/{taskID}/get, list, listundone and
// governanceStationAdmin; the file system's getUserRootPath,
// getDirFileTrees, openFile, openLog, resultsetToExcel and
// resultsetsToExcel; and the management API of manage*.go
// (linkisManager/..., configuration/..., variable/...). It also holds a
// typed Go Client and the small pieces
// the command line shares (WriteTable, ProgressLine). Sub-package
// restapitest holds an in-memory Jobs for tests.
//
// # A translation layer
//
// The handler is a translator and a gate. It authenticates the request,
// decodes Linkis's bodies and parameters into the orchestrator's types
// (request.go: executeOnce, codeType, proxy users, settings of any JSON
// type), calls the Jobs interface it declares with the user it acts for,
// and encodes the answer in Linkis's field names and JSON types (task
// progress as a string, times in milliseconds, cells of a result as
// strings, column types by Linkis's names). Linkis's wire stops here: the
// entrance and the orchestrator never see it. The handler keeps no state
// between requests (sessions are in the replicated state, package
// identity) and never reads job state, history or result files but
// through Jobs, which decides what belongs to whom. Routes are a table
// per resource (user.go, entrance.go, jobhistory.go, filesystem.go;
// routes.go matches them), concatenated in NewHandler: a new resource adds
// its table there.
//
// # Who calls
//
// A request carries Token-User and Token-Code (headers, or cookies of
// those names), checked against the users file's tokens (which users,
// which hosts, until when), or the linkis_user_session_ticket_id_v1 cookie
// of a login (SameSite=Strict). A request authenticated by cookies that
// changes something - any method but GET, and the GET of entrance kill -
// is refused when the browser says another site made it (Sec-Fetch-Site
// cross-site or same-site); the token headers no other site can add. From
// a reverse proxy named in Config.TrustedProxies, X-Forwarded-For names
// the client and X-Forwarded-Proto its TLS (clientaddr.go); from any other
// peer those headers are ignored. Config.Admins may see every user's jobs (list with
// isAdminView=true, get, log, results), kill any job and submit as
// another user (executeUser); everyone else only their own. Files are
// named by paths of their own (linkis:///results/USER/TASKID/_N.jsonl,
// linkis:///logs/USER/TASKID.log), each in one spelling: no file system
// path reaches the handler, so "..", encodings and links have nothing to
// resolve.
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
// 3 auth failed, -1 not logged in. -1 (HTTP 401) answers a request
// without credentials and a session that expired, was logged out or never
// existed - Linkis's SDK logs in again on a 401. A wrong token is 3 (403),
// and so is another user's job or file (Jobs answers linkis.ErrPermission;
// the message never says whose it is). A wrong password is 1 (HTTP 400, as
// Linkis answers it), too many failed logins 1 (429). An unknown job is 1
// with "unknown job"; bad input (malformed JSON, a missing label, an
// unknown engine type or variable, a bad parameter) is 2.
//
// The HTTP status follows Linkis's own mapping for 0→200, -1→401 and
// 3→403, and is more specific for the rest so that plain HTTP tools see
// failures: 2→400 (413 for a body over the limit, 405 for a wrong
// method); 1→404 for an unknown job or path, 409 for an illegal state
// change, 429 when a queue, quota or login limit is full and 503 when
// unavailable (both with Retry-After), 504 for a timeout, 500 for an
// internal error, 400 otherwise. Every answer but a download is an
// envelope; on an error its data holds the error's kind ({"errorKind",
// "field", "value", "reason", "retryable"}) so that Client can rebuild a
// *linkis.Error. Errors of no known kind are answered "internal error" and
// logged; no message shows a Go error's internals, a password, a token or
// a session id.
//
// # Downloads
//
// resultsetToExcel and resultsetsToExcel stream: rows come from the ECM
// that keeps the result set, are split without being decoded into Go
// values (rowscan.go) and go out as CSV, or into an XLSX sheet through
// excelize's stream writer (which keeps rows in a temporary file). A
// million rows never sit in memory. A problem found after the first byte
// aborts the connection rather than end a file short.
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
