package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Host data: what an ECM's engines leave on its host - their task logs
// and result-set files - stays there and is served by the ECM to any
// member of the cluster (GET, behind the cluster token), for the ECM's
// retention after the engine ended. Under PathECMEngines + "/{ec}":
//
//	/tasks/{task}/log?from=L&size=S   → TaskLog (size: default 1000, at most MaxLogPageSize)
//	/results                          → ResultFiles
//	/results/{name}?from=R&size=N     → ResultPage (size: default 1000, at most MaxResultPageRows)
//	/results/{name}/raw               → the file's bytes (HTTP ranges work)
//
// An engine the ECM does not have - never launched there, or removed
// after the retention - answers unknown_node with field "ec"; a task log
// or a result file it does not have answers unknown_node with field
// "task" or "result". A name that is not a result name is
// invalid_argument; a file that is not a plain regular file of the
// engine's results directory (a link, a FIFO) is permission.

// Limits of the host-data API.
const (
	MaxResultPageRows  = 10000
	MaxResultPageBytes = 8 << 20 // a page stops after the row that reaches it (one row at least)
	MaxResultFiles     = 10000   // listed per engine
	MaxResultHeader    = 1 << 20 // bytes of a header line the ECM serves
	maxResultNameBytes = 255
)

// ResultFile is one file of an engine's results directory.
type ResultFile struct {
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	Modified int64  `json:"modified"` // Unix milliseconds
	// Rows is the number of rows, when the ECM knows it without reading
	// the file (it indexed the file for a page request).
	Rows *int `json:"rows,omitempty"`
}

// ResultFiles lists an engine's result files by name. Truncated says
// there were more than MaxResultFiles (which are listed is then
// unspecified).
type ResultFiles struct {
	EC        string       `json:"ec"`
	Files     []ResultFile `json:"files"`
	Truncated bool         `json:"truncated,omitempty"`
}

// ResultPage is rows [From, Next) of a result-set file, with its header.
// Rows are the file's own JSON arrays, one value per column (Values
// decodes them). Total is how many rows the file held when it was read;
// a file whose task still runs may grow. A page holds at most the rows
// asked for, and stops early past MaxResultPageBytes: read on from Next
// while Next < Total.
type ResultPage struct {
	EC     string            `json:"ec"`
	Name   string            `json:"name"`
	Header ResultSetHeader   `json:"header"`
	From   int               `json:"from"`
	Rows   []json.RawMessage `json:"rows"`
	Next   int               `json:"next"`
	Total  int               `json:"total"`
}

// Values decodes the page's rows, numbers as json.Number (as
// ReadResultSet gives them).
func (p ResultPage) Values() ([][]any, error) {
	out := make([][]any, len(p.Rows))
	for i, r := range p.Rows {
		row, err := DecodeResultRow(r, len(p.Header.Columns))
		if err != nil {
			return nil, linkis.Errorf(linkis.ErrMalformed, "resultSet.rows", "row %d: %v", p.From+i+1, err)
		}
		out[i] = row
	}
	return out, nil
}

// DecodeResultHeader decodes and checks the header line of a result-set
// file.
func DecodeResultHeader(line []byte) (ResultSetHeader, error) {
	var h ResultSetHeader
	if err := strictJSON(line, &h); err != nil {
		return h, linkis.Errorf(linkis.ErrMalformed, "resultSet.header", "%v", err)
	}
	if h.Type != "table" && h.Type != "text" {
		return h, linkis.ValueError(linkis.ErrMalformed, "resultSet.type", h.Type, "must be table or text")
	}
	if len(h.Columns) == 0 || len(h.Columns) > MaxResultColumns {
		return h, linkis.Errorf(linkis.ErrMalformed, "resultSet.columns", "must list 1 to %d columns, got %d", MaxResultColumns, len(h.Columns))
	}
	return h, nil
}

// DecodeResultRow decodes one row line of a result-set file: a JSON array
// of ncol values (numbers as json.Number).
func DecodeResultRow(line []byte, ncol int) ([]any, error) {
	var row []any
	if err := strictJSON(line, &row); err != nil {
		return nil, err
	}
	if len(row) != ncol {
		return nil, fmt.Errorf("%d values for %d columns", len(row), ncol)
	}
	return row, nil
}

// CheckResultRow checks one row line of a result-set file without
// decoding its values: a JSON array of ncol values.
func CheckResultRow(line []byte, ncol int) error {
	var row []json.RawMessage
	if err := json.Unmarshal(line, &row); err != nil {
		return err
	}
	if len(row) != ncol {
		return fmt.Errorf("%d values for %d columns", len(row), ncol)
	}
	return nil
}

// ValidResultName checks the name of a result file as the host-data API
// takes it: one plain file name of 1 to 255 bytes of letters, digits,
// '.', '_' and '-', not starting with '.' (engines name them
// t-N-K.jsonl). Anything else - a path, "..", a NUL - is refused.
func ValidResultName(name string) error {
	if name == "" || len(name) > maxResultNameBytes || name[0] == '.' {
		return linkis.ValueError(linkis.ErrInvalidArgument, "name", name, "must be a result file name of 1 to 255 bytes, not starting with '.'")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return linkis.ValueError(linkis.ErrInvalidArgument, "name", name, "a result file name holds only letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

// ResultRef names a result-set file where any member can fetch it: the
// ECM whose host holds it (its id; its address is in the manager's
// state), the engine that wrote it and its name in that engine's results
// directory.
type ResultRef struct {
	ECM  string `json:"ecm"`
	EC   string `json:"ec"`
	Name string `json:"name"`
}

// ResultRefOf turns a result path an engine reported (TaskStatus.Results:
// absolute, DATA/ec-N/results/NAME on its ECM's host, optionally with
// "file://") into a reference, given the ECM the engine ran on and the
// engine's ticket. A path that is not clean and absolute, or not directly
// in that engine's results directory, or whose name is not a result name,
// is refused (ErrInvalidArgument): another engine's file, the ECM's own
// files and anything elsewhere cannot be referred to.
func ResultRefOf(ecm, ec, p string) (ResultRef, error) {
	bad := func(why string) (ResultRef, error) {
		return ResultRef{}, linkis.ValueError(linkis.ErrInvalidArgument, "path", p, why)
	}
	if ecm == "" || len(ecm) > 128 {
		return ResultRef{}, linkis.Errorf(linkis.ErrInvalidArgument, "ecm", "an ECM id of 1-128 bytes is required")
	}
	id, err := manager.ParseECID(ec)
	if err != nil {
		return ResultRef{}, err
	}
	ec = id.String()
	p2 := strings.TrimPrefix(p, "file://")
	if strings.IndexByte(p2, 0) >= 0 || !path.IsAbs(p2) || path.Clean(p2) != p2 {
		return bad("must be a clean absolute path")
	}
	dir, name := path.Split(p2)
	if err := ValidResultName(name); err != nil {
		return ResultRef{}, err
	}
	results := path.Clean(dir)
	if path.Base(results) != "results" || path.Base(path.Dir(results)) != ec {
		return bad("not in the results directory of " + ec + " (.../" + ec + "/results/NAME)")
	}
	return ResultRef{ECM: ecm, EC: ec, Name: name}, nil
}

// ecmEngine is the host-data path of engine ec.
func ecmEngine(ec string) string { return PathECMEngines + "/" + url.PathEscape(ec) }

// TaskLog returns up to size lines of the log of task id of engine ec,
// from line from, from the ECM at addr: from the engine while it runs and
// the log is not saved yet, else from what the engine saved.
func (c *ECMClient) TaskLog(ctx context.Context, addr, ec, task string, from, size int) (TaskLog, error) {
	var out TaskLog
	p := ecmEngine(ec) + "/tasks/" + url.PathEscape(task) + "/log?from=" + strconv.Itoa(from) + "&size=" + strconv.Itoa(size)
	err := call(ctx, c.http, c.token, "http://"+addr, http.MethodGet, p, nil, &out)
	return out, err
}

// ResultFiles lists the result files of engine ec on the ECM at addr.
func (c *ECMClient) ResultFiles(ctx context.Context, addr, ec string) (ResultFiles, error) {
	var out ResultFiles
	err := call(ctx, c.http, c.token, "http://"+addr, http.MethodGet, ecmEngine(ec)+"/results", nil, &out)
	return out, err
}

// ResultPage returns up to size rows of result file name of engine ec,
// from row from (0-based), with the file's header, from the ECM at addr.
func (c *ECMClient) ResultPage(ctx context.Context, addr, ec, name string, from, size int) (ResultPage, error) {
	var out ResultPage
	p := ecmEngine(ec) + "/results/" + url.PathEscape(name) + "?from=" + strconv.Itoa(from) + "&size=" + strconv.Itoa(size)
	err := callLimit(ctx, c.http, c.token, "http://"+addr, http.MethodGet, p, nil, &out, maxPageAnswer)
	return out, err
}

// OpenResult streams result file name of engine ec from the ECM at addr
// (for an export): the body, which the caller must close, and its size.
// The stream is bounded by ctx only, not by the client's timeout.
func (c *ECMClient) OpenResult(ctx context.Context, addr, ec, name string) (io.ReadCloser, int64, error) {
	u := "http://" + addr + ecmEngine(ec) + "/results/" + url.PathEscape(name) + "/raw"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("api: %w", err)
	}
	SetToken(req, c.token)
	resp, err := c.stream.Do(req)
	if err != nil {
		return nil, 0, &netError{err: fmt.Errorf("api: GET %s: %w", u, err)}
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var env errorEnvelope
		if json.Unmarshal(data, &env) != nil || env.Error.Kind == "" {
			return nil, 0, fmt.Errorf("api: GET %s: HTTP %d: %.200s", u, resp.StatusCode, bytes.TrimSpace(data))
		}
		return nil, 0, ErrorFromBody(resp.StatusCode, env.Error)
	}
	return resp.Body, resp.ContentLength, nil
}

// maxPageAnswer bounds the result page a client reads: its rows (the
// last of which may pass MaxResultPageBytes by up to a line), its header
// (re-encoded: escapes may grow it) and the envelope. Other answers are
// bounded by MaxLaunchBytes (log pages by MaxLogPageBytes on the
// server's side).
const maxPageAnswer = MaxResultPageBytes + MaxResultLine + 6*MaxResultHeader + 1<<20
