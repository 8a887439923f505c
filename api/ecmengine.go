package api

import (
	"context"
	"net/http"
	"strconv"
)

// An engine as its ECM's host sees it - the process, not the manager's
// record - and the engine's own output log (its stdout and stderr, one
// file in the order written: what it printed when it failed to start is
// there). Under PathECMEngines + "/{ec}", GET, behind the cluster token:
//
//	(nothing)          → EngineProcess
//	/log?from=L&size=S → EngineLogPage (size: default 1000, at most MaxLogPageSize)
//
// An engine the ECM does not have answers unknown_node with field "ec",
// as the rest of the host-data API does (hostdata.go).

// EngineProcess is where an engine's process stands on its ECM.
type EngineProcess struct {
	EC        string `json:"ec"`
	State     string `json:"state"` // ECStarting, ECRunning or ECExited
	PID       int    `json:"pid,omitempty"`
	Addr      string `json:"addr,omitempty"`
	Failed    bool   `json:"failed,omitempty"`
	Retryable bool   `json:"retryable,omitempty"`
	Reason    string `json:"reason,omitempty"`   // how it ended
	Launched  int64  `json:"launched,omitempty"` // Unix milliseconds (0: adopted after a restart)
	Ended     int64  `json:"ended,omitempty"`    // Unix milliseconds
	LogPath   string `json:"logPath"`            // the output log on the ECM's host
}

// EngineLogPage is lines [From, Next) of an engine's output log. More
// says the log holds lines after Next; Complete that the engine exited,
// so the log grows no more. A page stops early past MaxLogPageBytes, and
// a line longer than MaxLogLineBytes is cut (Truncated; also set on the
// last page when the file goes on past what its ECM writes - its log cap
// - which is not served).
type EngineLogPage struct {
	EC        string   `json:"ec"`
	Path      string   `json:"path"`
	From      int      `json:"from"`
	Lines     []string `json:"lines"`
	Next      int      `json:"next"`
	More      bool     `json:"more"`
	Complete  bool     `json:"complete"`
	Truncated bool     `json:"truncated,omitempty"`
}

// MaxLogLineBytes bounds a line of an engine's output log as served.
const MaxLogLineBytes = 64 << 10

// EngineProcess returns where engine ec stands on the ECM at addr.
func (c *ECMClient) EngineProcess(ctx context.Context, addr, ec string) (EngineProcess, error) {
	var out EngineProcess
	err := call(ctx, c.http, c.token, "http://"+addr, http.MethodGet, ecmEngine(ec), nil, &out)
	return out, err
}

// EngineLog returns up to size lines of engine ec's output log from line
// from (0-based), from the ECM at addr.
func (c *ECMClient) EngineLog(ctx context.Context, addr, ec string, from, size int) (EngineLogPage, error) {
	var out EngineLogPage
	p := ecmEngine(ec) + "/log?from=" + strconv.Itoa(from) + "&size=" + strconv.Itoa(size)
	err := call(ctx, c.http, c.token, "http://"+addr, http.MethodGet, p, nil, &out)
	return out, err
}
