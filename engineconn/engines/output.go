package engines

import (
	"io"
	"sync"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/engineconn"
)

// textResult turns output into a text result set (one row per line) and
// the task's log, creating the file only when output comes. Each stream
// of output (Stream) assembles its own lines, so two streams read at once
// (a Python print and a child process's output) never glue their lines
// together.
type textResult struct {
	t       *engineconn.Task
	mu      sync.Mutex
	rs      *engineconn.ResultWriter
	err     error
	closed  bool
	streams []*textStream
}

// textStream is one stream of output into a textResult.
type textStream struct {
	r    *textResult
	log  io.Writer
	part []byte
}

func newTextResult(t *engineconn.Task) *textResult { return &textResult{t: t} }

// Stream returns a new stream into the result set and the task's log.
func (w *textResult) Stream() io.Writer {
	s := &textStream{r: w, log: w.t.LogWriter()}
	w.mu.Lock()
	w.streams = append(w.streams, s)
	w.mu.Unlock()
	return s
}

func (s *textStream) Write(p []byte) (int, error) {
	_, _ = s.log.Write(p)
	w := s.r
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || w.closed {
		return len(p), nil // the log keeps the output; a failed result set is reported by Close
	}
	n := len(p)
	for len(p) > 0 {
		i := -1
		for j, c := range p {
			if c == '\n' {
				i = j
				break
			}
		}
		if i < 0 {
			s.part = append(s.part, p...)
			break
		}
		s.part = append(s.part, p[:i]...)
		w.row(string(s.part))
		s.part = s.part[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (w *textResult) row(line string) {
	if w.rs == nil && w.err == nil {
		w.rs, w.err = w.t.NewResultSet("text", []api.ResultColumn{{Name: "output", Type: "TEXT"}})
	}
	if w.err == nil {
		w.err = w.rs.Row(line)
	}
}

// Close writes each stream's last unterminated line and closes the file;
// later calls return the first one's error.
func (w *textResult) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	w.closed = true
	for _, s := range w.streams {
		if len(s.part) > 0 {
			w.row(string(s.part))
			s.part = s.part[:0]
		}
	}
	if w.rs != nil {
		if err := w.rs.Close(); w.err == nil {
			w.err = err
		}
	}
	return w.err
}
