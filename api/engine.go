package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/golinkis/golinkis/linkis"
)

// EngineConn task API paths (served by every EngineConn at the address it
// reported with ECStarted). Every call carries the cluster token; task
// submissions also carry the lock the manager granted (AskResult.Token).
const (
	// PathTasks: POST submits a task (TaskRequest → TaskSubmitted);
	// with ?waitMs=N it also waits up to N ms for the task to end and
	// answers its status in the same call (one round trip for short tasks),
	// and with &logSize=S also the first S lines of the log of a task that
	// ended; &logLines=0 ends the wait at the task's first log line too.
	// GET PathTasks/{id}?waitMs=N → TaskStatus, blocking up to N ms while
	// the task has not ended (&logLines=K: and while its log has at most K
	// lines, so a caller that read K lines hears of the next one at once).
	// GET PathTasks/{id}/log?from=L&size=S → TaskLog (at most S lines,
	// fewer past MaxLogPageBytes). POST PathTasks/{id}/kill → TaskStatus.
	PathTasks = "/v1/tasks"
	// PathEngineLock: POST LockRequest → LockResponse. Presents a grant
	// to the engine ahead of the first task (optional: a task carrying an
	// unknown grant presents it implicitly).
	PathEngineLock = "/v1/lock"
	// PathEngineUnlock: POST LockRequest → LockResponse. The caller is
	// done: the engine ends the lock and tells the manager (ECUnlock).
	PathEngineUnlock = "/v1/unlock"
	// PathEngineInfo: GET → EngineInfo.
	PathEngineInfo = "/v1/engine"
)

// Task states, as in Linkis.
const (
	TaskPending = "PENDING"
	TaskRunning = "RUNNING"
	TaskSuccess = "SUCCESS"
	TaskError   = "ERROR"
	TaskCancel  = "CANCEL"
)

// TaskEnded reports whether a task state is final.
func TaskEnded(state string) bool {
	return state == TaskSuccess || state == TaskError || state == TaskCancel
}

// Limits on what one task request may carry.
const (
	MaxCodeBytes    = 512 << 10
	MaxTaskParams   = 64
	MaxLogPageSize  = 10000
	MaxTaskKeyBytes = 128
	// MaxLogPageBytes bounds the lines of one log page (a page stops after
	// the line that reaches it; Next says where to go on): JSON escapes
	// may grow them up to six times, within what a client reads.
	MaxLogPageBytes = 2 << 20
)

// TaskRequest submits code to an engine. AskID and Token are the grant the
// manager handed the caller; an engine refuses a task whose grant is not
// the one (or, for a concurrent engine, one of those) it currently serves.
//
// Key, when set, makes the submission idempotent: an engine that already
// has a task submitted with that key (running, ended, or ended and
// forgotten but still remembered by key) starts nothing and answers with
// that task (TaskSubmitted.Existing), whatever grant the request carries;
// the same key with other code is refused (ErrDuplicate). A caller that
// cannot know whether its first submission arrived (it died, or the answer
// was lost) submits again with the same key. Use one key per attempt of a
// job, e.g. "exec_12_ab12cd34-1.0".
type TaskRequest struct {
	AskID   string            `json:"askId"`
	Token   string            `json:"token"`
	Key     string            `json:"key,omitempty"`
	Code    string            `json:"code"`
	RunType string            `json:"runType,omitempty"` // e.g. "sh", "py", "sql"; engines may read it (echo: "log")
	Params  map[string]string `json:"params,omitempty"`
	// Scrub are secret values the code or the params hold in clear (the
	// job's revealed secrets and secret variables): the engine replaces
	// them by "******" in the task's log lines and its error. Never logged.
	Scrub []string `json:"scrub,omitempty"`
}

// Bounds of TaskRequest.Scrub.
const (
	MaxScrubValues = 64
	MaxScrubBytes  = 4096 // one value
)

// Validate checks the request's shape (not its grant).
func (r TaskRequest) Validate() error {
	if r.AskID == "" || len(r.AskID) > 128 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "askId", "a task needs the id of the ask that holds the engine (1-128 bytes)")
	}
	if _, err := ParseToken(r.Token); err != nil {
		return err
	}
	if err := validKey(r.Key); err != nil {
		return err
	}
	if strings.TrimSpace(r.Code) == "" {
		return linkis.Errorf(linkis.ErrInvalidArgument, "code", "a task needs code to run")
	}
	if len(r.Code) > MaxCodeBytes {
		return linkis.Errorf(linkis.ErrInvalidArgument, "code", "%d bytes, at most %d allowed", len(r.Code), MaxCodeBytes)
	}
	if len(r.Params) > MaxTaskParams {
		return linkis.Errorf(linkis.ErrInvalidArgument, "params", "%d params, at most %d allowed", len(r.Params), MaxTaskParams)
	}
	if len(r.Scrub) > MaxScrubValues {
		return linkis.Errorf(linkis.ErrInvalidArgument, "scrub", "%d values, at most %d allowed", len(r.Scrub), MaxScrubValues)
	}
	for i, v := range r.Scrub {
		if v == "" || len(v) > MaxScrubBytes { // never quote the value: it is a secret
			return linkis.Errorf(linkis.ErrInvalidArgument, "scrub", "value %d must be 1 to %d bytes", i, MaxScrubBytes)
		}
	}
	return nil
}

// CheckPage checks the bounds of a page request: from ≥ 0 and size from 1
// to max (MaxLogPageSize for logs, MaxResultPageRows for results).
func CheckPage(from, size, max int) error {
	if from < 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "from", "must not be negative, got %d", from)
	}
	if size < 1 || size > max {
		return linkis.Errorf(linkis.ErrInvalidArgument, "size", "must be from 1 to %d, got %d", max, size)
	}
	return nil
}

// validKey checks a task key: at most MaxTaskKeyBytes of printable UTF-8
// ("" is no key).
func validKey(k string) error {
	if len(k) > MaxTaskKeyBytes {
		return linkis.Errorf(linkis.ErrInvalidArgument, "key", "%d bytes, at most %d allowed", len(k), MaxTaskKeyBytes)
	}
	if !utf8.ValidString(k) || strings.IndexFunc(k, unicode.IsControl) >= 0 {
		return linkis.ValueError(linkis.ErrInvalidArgument, "key", k, "must be printable UTF-8")
	}
	return nil
}

// TaskSubmitted answers a submission: at once, before the task runs; or,
// when the submission asked to wait, with Status once the task ended or
// the wait ran out. Log is the first page of the log of a task that ended
// within the wait, when the submission asked for it (?logSize=S): a short
// task then costs one round trip, its log included. Existing says the
// request's Key named a task the engine already had: ID is that task's and
// nothing new started.
type TaskSubmitted struct {
	ID       string      `json:"id"`
	State    string      `json:"state"`
	Existing bool        `json:"existing,omitempty"`
	Status   *TaskStatus `json:"status,omitempty"`
	Log      *TaskLog    `json:"log,omitempty"`
}

// TaskStatus is where a task stands.
type TaskStatus struct {
	ID       string   `json:"id"`
	State    string   `json:"state"`
	Progress float64  `json:"progress"`        // 0..1
	Error    string   `json:"error,omitempty"` // why it ended in ERROR or CANCEL
	Results  []string `json:"results,omitempty"`
	LogLines int      `json:"logLines"`
	// Unix milliseconds; zero until reached.
	Submitted int64 `json:"submitted"`
	Started   int64 `json:"started,omitempty"`
	Ended     int64 `json:"ended,omitempty"`
}

// TaskLog is one page of a task's log: Lines are lines From, From+1, ...;
// Next is where the following page starts. Complete means the task has
// ended and Next is past its last line. Truncated means the task wrote
// more than the engine keeps (the log says where it stopped).
type TaskLog struct {
	ID        string   `json:"id"`
	From      int      `json:"from"`
	Lines     []string `json:"lines"`
	Next      int      `json:"next"`
	Complete  bool     `json:"complete"`
	Truncated bool     `json:"truncated,omitempty"`
}

// LockRequest presents or ends a grant.
type LockRequest struct {
	AskID string `json:"askId"`
	Token string `json:"token"`
}

// LockResponse says which grant the engine now serves.
type LockResponse struct {
	EC      string `json:"ec"`
	AskID   string `json:"askId"`
	Expires int64  `json:"expires,omitempty"` // Unix nanoseconds, as the manager said
	Held    bool   `json:"held"`              // false after an unlock
}

// EngineInfo is an engine's view of itself.
type EngineInfo struct {
	EC         string `json:"ec"`
	EngineType string `json:"engineType"`
	Status     string `json:"status"` // Starting, Unlock, Idle, Busy, Running, ShuttingDown
	Mode       string `json:"mode"`   // computation | once
	Capacity   int    `json:"capacity"`
	Running    int    `json:"running"`
	Succeeded  int64  `json:"succeeded"`
	Failed     int64  `json:"failed"`
	Locks      int    `json:"locks"` // grants it serves now
}

// ResultColumn describes one column of a result set.
type ResultColumn struct {
	Name string `json:"name"`
	Type string `json:"type"` // e.g. INTEGER, REAL, TEXT, BLOB, NULL
}

// ResultSetHeader is the first line of a result-set file.
type ResultSetHeader struct {
	Type    string         `json:"type"` // "table" (rows of columns) or "text" (one TEXT column of lines)
	Columns []ResultColumn `json:"columns"`
}

// ResultSet is a decoded result-set file.
type ResultSet struct {
	ResultSetHeader
	Rows [][]any
}

// Result-set files are JSON Lines: the header, then one JSON array per row
// with one value per column. Only their paths travel; whoever reads them
// shares the engine's file system.
const (
	ResultSetExt     = ".jsonl"
	MaxResultColumns = 4096
	MaxResultLine    = 16 << 20
)

// ReadResultSet decodes a result-set file, refusing a bad header, rows of
// the wrong width, lines over MaxResultLine and more than maxRows rows
// (maxRows ≤ 0: no row limit).
func ReadResultSet(r io.Reader, maxRows int) (ResultSet, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	line, err := readLine(br)
	if err != nil {
		if err == io.EOF {
			return ResultSet{}, linkis.Errorf(linkis.ErrMalformed, "resultSet", "empty: a header line is required")
		}
		return ResultSet{}, err
	}
	hdr, err := DecodeResultHeader(line)
	if err != nil {
		return ResultSet{}, err
	}
	rs := ResultSet{ResultSetHeader: hdr}
	for n := 1; ; n++ {
		line, err := readLine(br)
		if err == io.EOF {
			return rs, nil
		}
		if err != nil {
			return ResultSet{}, err
		}
		if maxRows > 0 && len(rs.Rows) >= maxRows {
			return ResultSet{}, linkis.Errorf(linkis.ErrMalformed, "resultSet.rows", "more than %d rows", maxRows)
		}
		var row []any
		if err := strictJSON(line, &row); err != nil {
			return ResultSet{}, linkis.Errorf(linkis.ErrMalformed, "resultSet.rows", "row %d: %v", n, err)
		}
		if len(row) != len(rs.Columns) {
			return ResultSet{}, linkis.Errorf(linkis.ErrMalformed, "resultSet.rows", "row %d has %d values for %d columns", n, len(row), len(rs.Columns))
		}
		rs.Rows = append(rs.Rows, row)
	}
}

func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > MaxResultLine {
			return nil, linkis.Errorf(linkis.ErrMalformed, "resultSet", "a line is longer than %d bytes", MaxResultLine)
		}
		switch err {
		case nil:
			return bytes.TrimSuffix(buf, []byte("\n")), nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(buf) == 0 {
				return nil, io.EOF
			}
			return buf, nil
		default:
			return nil, err
		}
	}
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return io.ErrUnexpectedEOF
	}
	return nil
}
