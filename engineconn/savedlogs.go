package engineconn

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	n, ok := taskNumber(id)
	if !ok {
		return nil, false
	}
	f, err := os.Open(segmentPath(dir, n/tasksPerSegment))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	for {
		var r savedRecord
		if err := dec.Decode(&r); err != nil {
			return nil, false // the end, or a torn last record (a crash): not saved
		}
		if r.ID == id {
			if r.Lines == nil {
				r.Lines = []string{}
			}
			return r.Lines, true
		}
	}
}
