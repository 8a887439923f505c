package engineconn

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// Task is one unit of work as an engine sees it: the code, where its
// output goes, and how it reports progress and result sets. Its methods
// are safe for concurrent use.
type Task struct {
	ID      string
	Code    string
	RunType string
	Params  map[string]string

	askID     string
	key       string // the submission's idempotency key ("" for none)
	resultDir string
	maxResult int64
	log       *taskLog
	stdout    *lineWriter
	stderr    *lineWriter
	writers   []*lineWriter // from LogWriter, flushed when the task ends
	done      chan struct{} // closed when the task has ended

	mu        sync.Mutex
	state     string
	progress  float64
	errText   string
	results   []string
	nresults  int
	submitted time.Time
	started   time.Time
	ended     time.Time
	cancel    func()
	killed    bool
}

func newTask(id string, req api.TaskRequest, resultDir string, logCap int, maxResult int64, now time.Time) *Task {
	t := &Task{ID: id, Code: req.Code, RunType: req.RunType, Params: req.Params, askID: req.AskID, key: req.Key,
		resultDir: resultDir, maxResult: maxResult, log: &taskLog{cap: logCap, scrub: scrubber(req.Scrub)},
		done: make(chan struct{}), state: api.TaskPending, submitted: now}
	t.stdout = &lineWriter{log: t.log}
	t.stderr = &lineWriter{log: t.log}
	return t
}

// Stdout is where the task's standard output goes: into its log, line by
// line.
func (t *Task) Stdout() io.Writer { return t.stdout }

// Stderr is where the task's error output goes: into its log.
func (t *Task) Stderr() io.Writer { return t.stderr }

// LogWriter returns a new writer into the task's log, with a partial line
// of its own: an engine that reads several streams at once gives each one
// its writer, so that their lines never run into each other.
func (t *Task) LogWriter() io.Writer {
	w := &lineWriter{log: t.log}
	t.mu.Lock()
	t.writers = append(t.writers, w)
	t.mu.Unlock()
	return w
}

// flushWriters writes out every writer's last unterminated line.
func (t *Task) flushWriters() {
	t.stdout.flush()
	t.stderr.flush()
	t.mu.Lock()
	ws := t.writers
	t.mu.Unlock()
	for _, w := range ws {
		w.flush()
	}
}

// Logf adds one line to the task's log.
func (t *Task) Logf(format string, args ...any) { t.log.add(fmt.Sprintf(format, args...)) }

// SetProgress records how far the task is, from 0 to 1.
func (t *Task) SetProgress(p float64) {
	if math.IsNaN(p) {
		return
	}
	p = min(max(p, 0), 1)
	t.mu.Lock()
	t.progress = p
	t.mu.Unlock()
}

// NewResultSet creates the task's next result-set file under the engine's
// result directory; only its path travels. kind is "table" or "text".
func (t *Task) NewResultSet(kind string, cols []api.ResultColumn) (*ResultWriter, error) {
	if len(cols) == 0 || len(cols) > api.MaxResultColumns {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "columns", "a result set needs 1 to %d columns", api.MaxResultColumns)
	}
	t.mu.Lock()
	t.nresults++
	name := fmt.Sprintf("%s-%d%s", t.ID, t.nresults, api.ResultSetExt)
	t.mu.Unlock()
	path := filepath.Join(t.resultDir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("result set: %w", err)
	}
	w := &ResultWriter{f: f, bw: bufio.NewWriterSize(f, 32<<10), path: path, ncol: len(cols), max: t.maxResult, task: t}
	hdr, _ := json.Marshal(api.ResultSetHeader{Type: kind, Columns: cols})
	w.write(hdr)
	return w, w.err
}

func (t *Task) addResult(path string) {
	t.mu.Lock()
	t.results = append(t.results, path)
	t.mu.Unlock()
}

// status snapshots the task.
func (t *Task) status() api.TaskStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := api.TaskStatus{ID: t.ID, State: t.state, Progress: t.progress, Error: t.errText,
		Results: append([]string(nil), t.results...), LogLines: t.log.len(), Submitted: t.submitted.UnixMilli()}
	if !t.started.IsZero() {
		st.Started = t.started.UnixMilli()
	}
	if !t.ended.IsZero() {
		st.Ended = t.ended.UnixMilli()
	}
	return st
}

func (t *Task) isEnded() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// ResultWriter writes the rows of one result set. It is not safe for
// concurrent use; Close must be called once.
type ResultWriter struct {
	f    *os.File
	bw   *bufio.Writer
	path string
	ncol int
	n    int64
	max  int64
	rows int64
	err  error
	task *Task
}

func (w *ResultWriter) write(line []byte) {
	if w.err != nil {
		return
	}
	if w.max > 0 && w.n+int64(len(line))+1 > w.max {
		w.err = linkis.Errorf(linkis.ErrResourceOverflow, "resultSet", "larger than the engine's cap of %d bytes", w.max)
		return
	}
	w.n += int64(len(line)) + 1
	if _, err := w.bw.Write(line); err != nil {
		w.err = err
		return
	}
	w.err = w.bw.WriteByte('\n')
}

// Row appends one row; it must have one value per column. Values encode
// as JSON ([]byte as base64).
func (w *ResultWriter) Row(vals ...any) error {
	if len(vals) != w.ncol {
		return linkis.Errorf(linkis.ErrInvalidArgument, "row", "%d values for %d columns", len(vals), w.ncol)
	}
	b, err := json.Marshal(vals)
	if err != nil {
		return fmt.Errorf("result row: %w", err)
	}
	if w.err == nil && len(b) > api.MaxResultLine {
		w.err = w.tooLong(len(b))
		return w.err
	}
	w.write(b)
	w.rows++
	return w.err
}

// RawRow appends one row already encoded as a JSON array holding one value
// per column, without a newline: an engine that encodes its values itself
// (the jdbc engine streams a database's text straight into JSON) saves
// Row's reflection. The caller vouches for the shape; ReadResultSet checks
// it when the file is read.
func (w *ResultWriter) RawRow(row []byte) error {
	if w.err == nil && len(row) > api.MaxResultLine {
		w.err = w.tooLong(len(row))
		return w.err
	}
	w.write(row)
	w.rows++
	return w.err
}

// tooLong is the error of a row of n bytes: longer than any reader of a
// result file accepts (api.MaxResultLine), so it is refused when written.
func (w *ResultWriter) tooLong(n int) error {
	return linkis.Errorf(linkis.ErrResourceOverflow, "resultSet", "row %d is %d bytes, more than the %d a result row may be: select less of it (a part of a long value, or fewer columns)", w.rows+1, n, api.MaxResultLine)
}

// Rows returns how many rows were written.
func (w *ResultWriter) Rows() int64 { return w.rows }

// Close flushes the file and, unless writing failed, adds its path to the
// task's results.
func (w *ResultWriter) Close() error {
	err := w.err
	if ferr := w.bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		w.task.addResult(w.path)
	}
	return err
}

// taskLog keeps a task's log lines in memory up to cap bytes; past the cap
// it keeps a note saying so and drops the rest.
type taskLog struct {
	mu        sync.Mutex
	lines     []string
	bytes     int
	cap       int
	truncated bool
	dropped   int64
	grew      chan struct{}     // closed when a line is added; nil while nobody waits
	scrub     *strings.Replacer // the task's secrets (api.TaskRequest.Scrub), masked in every line; nil for none
}

// scrubbed is s with the task's secrets masked (for its error).
func (l *taskLog) scrubbed(s string) string {
	if l.scrub == nil {
		return s
	}
	return l.scrub.Replace(s)
}

const maxLineBytes = 64 << 10

func (l *taskLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addLocked(line)
}

// beyond returns nil when the log has more than n lines, else a channel
// closed when the next line is added.
func (l *taskLog) beyond(n int) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) > n {
		return nil
	}
	if l.grew == nil {
		l.grew = make(chan struct{})
	}
	return l.grew
}

func (l *taskLog) addLocked(line string) {
	if l.scrub != nil {
		line = l.scrub.Replace(line)
	}
	if l.truncated {
		l.dropped += int64(len(line)) + 1
		return
	}
	if l.grew != nil {
		close(l.grew)
		l.grew = nil
	}
	if len(line) > maxLineBytes {
		line = line[:maxLineBytes] + " [line cut at " + strconv.Itoa(maxLineBytes) + " bytes]"
	}
	if l.cap > 0 && l.bytes+len(line)+1 > l.cap {
		l.truncated = true
		l.dropped = int64(len(line)) + 1
		l.lines = append(l.lines, fmt.Sprintf("%s: the task wrote more than the log cap of %d bytes; the rest is dropped]", LogTruncatedNote, l.cap))
		return
	}
	l.bytes += len(line) + 1
	l.lines = append(l.lines, line)
}

// LogTruncatedNote starts the line that says a task's log was cut (the
// rest of its output is in its text result set, not in its log).
const LogTruncatedNote = "[log truncated"

func (l *taskLog) all() ([]string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...), l.truncated
}

func (l *taskLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

func (l *taskLog) page(from, size int) ([]string, int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if from > len(l.lines) {
		from = len(l.lines)
	}
	page := pageLines(l.lines[from:min(from+size, len(l.lines))])
	return append([]string(nil), page...), from + len(page), l.truncated
}

// pageLines cuts a page of log lines after the line that reaches
// api.MaxLogPageBytes (one line at least), so that a page of long lines
// stays within what a client reads; the page's Next says where to go on.
func pageLines(lines []string) []string {
	n := 0
	for i, l := range lines {
		if n += len(l) + 1; n >= api.MaxLogPageBytes {
			return lines[:i+1]
		}
	}
	return lines
}

// lineWriter splits a byte stream into log lines.
type lineWriter struct {
	mu   sync.Mutex
	log  *taskLog
	part []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := indexByte(p, '\n')
		if i < 0 {
			if len(w.part)+len(p) > maxLineBytes {
				w.log.add(string(w.part) + string(p))
				w.part = w.part[:0]
			} else {
				w.part = append(w.part, p...)
			}
			break
		}
		w.part = append(w.part, p[:i]...)
		w.log.add(string(w.part))
		w.part = w.part[:0]
		p = p[i+1:]
	}
	return n, nil
}

// flush writes out a last line without a newline.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.part) > 0 {
		w.log.add(string(w.part))
		w.part = w.part[:0]
	}
}

func indexByte(p []byte, c byte) int {
	for i, b := range p {
		if b == c {
			return i
		}
	}
	return -1
}

// scrubMask replaces a secret in a task's log and error.
const scrubMask = "******"

// scrubber replaces the values of api.TaskRequest.Scrub, the longest
// first (one that holds another is masked whole); nil for none.
func scrubber(values []string) *strings.Replacer {
	if len(values) == 0 {
		return nil
	}
	vs := slices.Clone(values)
	slices.SortFunc(vs, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(vs))
	for _, v := range vs {
		if v != "" {
			pairs = append(pairs, v, scrubMask)
		}
	}
	return strings.NewReplacer(pairs...)
}
