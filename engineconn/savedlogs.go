package engineconn

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// Saved task logs. An ended task's log outlives its record (KeepTasks) and
// the engine in segment files of the log directory: LOGDIR/tasks-S.jsonl
// holds the logs of tasks t-(S*1000) to t-(S*1000+999), one JSON line
// {"id": "t-N", "lines": [...]} per task, appended. A file per task cost an
// inode allocation on every task, which on ext4 was a third of a busy
// engine's CPU; a segment file is created once per 1,000 tasks.
const tasksPerSegment = 1000

type savedRecord struct {
	ID    string   `json:"id"`
	Lines []string `json:"lines"`
}

// logSegments appends saved logs, keeping the current segment open.
type logSegments struct {
	dir string

	mu  sync.Mutex
	seg int64 // of f
	f   *os.File
}

// taskNumber parses "t-N"; ids are only ever that, so no id names a path
// outside the log directory.
func taskNumber(id string) (int64, bool) {
	n, ok := strings.CutPrefix(id, "t-")
	if !ok || n == "" || len(n) > 18 || strings.Trim(n, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.ParseInt(n, 10, 64)
	return v, err == nil
}

func segmentPath(dir string, seg int64) string {
	return filepath.Join(dir, "tasks-"+strconv.FormatInt(seg, 10)+".jsonl")
}

// save appends a task's log to its segment.
func (s *logSegments) save(id string, lines []string) error {
	n, ok := taskNumber(id)
	if !ok {
		return fmt.Errorf("engineconn: task id %q", id)
	}
	rec, err := json.Marshal(savedRecord{ID: id, Lines: lines})
	if err != nil {
		return err
	}
	rec = append(rec, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	seg := n / tasksPerSegment
	if s.f == nil || s.seg != seg {
		if s.f != nil {
			s.f.Close()
			s.f = nil
		}
		f, err := os.OpenFile(segmentPath(s.dir, seg), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("engineconn: %w", err)
		}
		s.f, s.seg = f, seg
	}
	// One write call: a record is whole or (after a crash) the last,
	// torn one, which readers skip.
	if _, err := s.f.Write(rec); err != nil {
		return fmt.Errorf("engineconn: %w", err)
	}
	return nil
}

// close closes the open segment.
func (s *logSegments) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// ReadSavedLog returns the saved log of task id from an engine's log
// directory, and whether it was found.
func ReadSavedLog(dir, id string) ([]string, bool) {
	p, ok, err := readSaved(dir, id, 0, math.MaxInt, math.MaxInt)
	return p.Lines, ok && err == nil
}

// SavedLogPage returns lines [from, from+size) of the saved log of task id
// in an engine's log directory, as the engine's task API would (Complete
// when the page reaches its end: a saved log is final; cut short past
// api.MaxLogPageBytes), and whether the log is saved there. The directory
// is the engine user's: the segment is opened with OpenUserFile, so an
// error may say it was refused. The record is read as a stream: only the
// page's lines are kept, and a line longer than an engine writes is an
// error (the engine's user can write to the segment; the reader may be
// the ECM, shared by every user).
func SavedLogPage(dir, id string, from, size int) (api.TaskLog, bool, error) {
	return readSaved(dir, id, max(from, 0), max(size, 0), api.MaxLogPageBytes)
}

// maxSavedLineRaw bounds a line of a saved record as it is written: a
// line the engine keeps is at most maxLineBytes and the note of its cut,
// and JSON writes a byte as at most 6 (\u00XX, \ufffd).
const maxSavedLineRaw = 6 * (maxLineBytes + 64)

// readSaved finds task id's record in its segment and returns lines
// [from, from+size) of it, cut after the line that reaches pageBytes.
// Records are scanned by their prefix ({"id":"t-N",), so only the one
// sought is decoded, and that one line by line (readRecord); a torn last
// record (a crash mid-write) is not saved. A segment that is missing is
// not an error; one that cannot be opened safely or read, or a record
// that no engine writes, is.
func readSaved(dir, id string, from, size, pageBytes int) (api.TaskLog, bool, error) {
	n, ok := taskNumber(id)
	if !ok {
		return api.TaskLog{}, false, nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return api.TaskLog{}, false, nil
		}
		return api.TaskLog{}, false, fmt.Errorf("engineconn: saved logs: %w", err)
	}
	defer root.Close()
	f, _, err := OpenUserFile(root, filepath.Base(segmentPath(dir, n/tasksPerSegment)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return api.TaskLog{}, false, nil
		}
		return api.TaskLog{}, false, fmt.Errorf("engineconn: saved logs: %w", err)
	}
	defer f.Close()
	prefix := []byte(`{"id":` + strconv.Quote(id) + `,`)
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		// Only a line's start decides; the rest of a record of another
		// task is skipped a buffer at a time, never held.
		head, err := br.Peek(len(prefix))
		if err != nil {
			return api.TaskLog{}, false, nil // the end (a short torn record included)
		}
		if bytes.Equal(head, prefix) {
			br.Discard(len(prefix))
			p := api.TaskLog{ID: id, From: from, Next: from, Lines: []string{}}
			ok, err := readRecord(br, &p, size, pageBytes)
			if err != nil {
				return api.TaskLog{}, false, fmt.Errorf("engineconn: saved log of %s in %s: %w", id, filepath.Base(f.Name()), err)
			}
			return p, ok, nil
		}
		if err := skipLine(br); err != nil {
			return api.TaskLog{}, false, nil
		}
	}
}

// errNotEngine says a saved record is not one an engine writes.
var errNotEngine = linkis.Errorf(linkis.ErrMalformed, "savedLog", "not a record an engine writes (a line longer than %d bytes, or not its JSON)", maxLineBytes)

// readRecord reads the rest of a saved record, `"lines":[...]}` and its
// newline, as json.Marshal wrote it (savedRecord), into p: lines
// [p.From, p.From+size) cut after the one that reaches pageBytes, Next,
// Complete and Truncated. It reports false for a torn record (no end).
func readRecord(br *bufio.Reader, p *api.TaskLog, size, pageBytes int) (bool, error) {
	expect := func(s string) (bool, error) {
		b, err := br.Peek(len(s))
		if err != nil {
			return false, nil // torn
		}
		if string(b) != s {
			return false, errNotEngine
		}
		br.Discard(len(s))
		return true, nil
	}
	if ok, err := expect(`"lines":`); !ok {
		return false, err
	}
	if b, _ := br.Peek(4); string(b) == "null" {
		br.Discard(4)
		p.Next, p.Complete = 0, true
	} else if ok, err := expect("["); !ok {
		return false, err
	} else {
		got, n := 0, 0
		for more := true; more; n++ {
			c, err := br.ReadByte()
			if err != nil {
				return false, nil
			}
			if n == 0 && c == ']' {
				break
			}
			if c != '"' {
				return false, errNotEngine
			}
			keep := n >= p.From && n < p.From+size && (len(p.Lines) == 0 || got < pageBytes)
			raw, ok, err := readString(br, keep)
			if !ok || err != nil {
				return false, err
			}
			p.Truncated = strings.HasPrefix(raw, LogTruncatedNote) // of the last line, in the end
			if keep {
				var line string
				if json.Unmarshal([]byte(`"`+raw+`"`), &line) != nil {
					return false, errNotEngine
				}
				p.Lines = append(p.Lines, line)
				got += len(line) + 1
				p.Next = n + 1
			}
			if c, err = br.ReadByte(); err != nil {
				return false, nil
			}
			switch c {
			case ',':
			case ']':
				more = false
			default:
				return false, errNotEngine
			}
		}
		p.Complete = p.Next >= n
		if p.From > n {
			p.Next = n
		}
	}
	return expect("}\n")
}

// readString reads a JSON string's body past its opening quote, and its
// closing quote: the body raw (undecoded) when keep, else only its first
// bytes (enough to tell LogTruncatedNote). It is an error past
// maxSavedLineRaw bytes; false for a torn record.
func readString(br *bufio.Reader, keep bool) (string, bool, error) {
	var raw []byte
	n, slashes := 0, 0 // bytes so far; backslashes just before the end
	for {
		chunk, err := br.ReadSlice('"')
		if err != nil && err != bufio.ErrBufferFull {
			return "", false, nil
		}
		body := chunk
		if err == nil {
			body = chunk[:len(chunk)-1]
		}
		if n += len(chunk); n > maxSavedLineRaw+1 {
			return "", false, errNotEngine
		}
		if keep || len(raw) < len(LogTruncatedNote) {
			raw = append(raw, body...)
		}
		k := len(body) - len(bytes.TrimRight(body, `\`))
		if k == len(body) {
			slashes += k
		} else {
			slashes = k
		}
		if err == nil {
			if slashes%2 == 0 {
				return string(raw), true, nil // the closing quote
			}
			raw = append(raw, '"') // an escaped quote
			if !keep && len(raw) > len(LogTruncatedNote) {
				raw = raw[:len(LogTruncatedNote)]
			}
			slashes = 0
		}
	}
}

// IsTaskID reports whether id is a task id an engine gives ("t-N").
func IsTaskID(id string) bool {
	_, ok := taskNumber(id)
	return ok
}

// skipLine reads past the next newline.
func skipLine(br *bufio.Reader) error {
	for {
		_, err := br.ReadSlice('\n')
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}
