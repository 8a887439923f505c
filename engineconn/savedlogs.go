package engineconn

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/golinkis/golinkis/api"
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
	lines, ok, err := readSaved(dir, id)
	return lines, ok && err == nil
}

// SavedLogPage returns lines [from, from+size) of the saved log of task id
// in an engine's log directory, as the engine's task API would (Complete
// when the page reaches its end: a saved log is final; cut short past
// api.MaxLogPageBytes), and whether the log is saved there. The directory
// is the engine user's: the segment is opened with OpenUserFile, so an
// error may say it was refused.
func SavedLogPage(dir, id string, from, size int) (api.TaskLog, bool, error) {
	lines, ok, err := readSaved(dir, id)
	if !ok || err != nil {
		return api.TaskLog{}, false, err
	}
	start := min(max(from, 0), len(lines))
	end := start + len(pageLines(lines[start:min(start+max(size, 0), len(lines))]))
	trunc := len(lines) > 0 && strings.HasPrefix(lines[len(lines)-1], LogTruncatedNote)
	return api.TaskLog{ID: id, From: from, Lines: lines[start:end], Next: end, Complete: end == len(lines), Truncated: trunc}, true, nil
}

// readSaved finds task id's record in its segment. Records are scanned by
// their prefix ({"id":"t-N",), so only the one sought is decoded; a torn
// last record (a crash mid-write) is not saved. A segment that is missing
// is not an error; one that cannot be opened safely or read is.
func readSaved(dir, id string) ([]string, bool, error) {
	n, ok := taskNumber(id)
	if !ok {
		return nil, false, nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("engineconn: saved logs: %w", err)
	}
	defer root.Close()
	f, _, err := OpenUserFile(root, filepath.Base(segmentPath(dir, n/tasksPerSegment)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("engineconn: saved logs: %w", err)
	}
	defer f.Close()
	prefix := []byte(`{"id":` + strconv.Quote(id) + `,`)
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		// Only a line's start decides; the rest of a record of another
		// task is skipped a buffer at a time, never held.
		head, err := br.Peek(len(prefix))
		if err != nil {
			return nil, false, nil // the end (a short torn record included)
		}
		if bytes.Equal(head, prefix) {
			line, err := br.ReadBytes('\n')
			if err != nil {
				return nil, false, nil // torn
			}
			var r savedRecord
			if json.Unmarshal(line, &r) != nil || r.ID != id {
				return nil, false, nil
			}
			if r.Lines == nil {
				r.Lines = []string{}
			}
			return r.Lines, true, nil
		}
		if err := skipLine(br); err != nil {
			return nil, false, nil
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
