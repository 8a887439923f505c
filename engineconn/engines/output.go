package engines

import (
	"io"
	"sync"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/engineconn"
)

// textResult turns a stream of output into a text result set (one row per
// line) and the task's log, creating the file only when output comes.
type textResult struct {
	t      *engineconn.Task
	log    io.Writer
	mu     sync.Mutex
	rs     *engineconn.ResultWriter
	part   []byte
	err    error
	closed bool
}

func newTextResult(t *engineconn.Task) *textResult { return &textResult{t: t, log: t.Stdout()} }

func (w *textResult) Write(p []byte) (int, error) {
	_, _ = w.log.Write(p)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || w.closed {
		return len(p), nil // the log keeps the output; the result set failed once, said so below
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
			w.part = append(w.part, p...)
			break
		}
		w.part = append(w.part, p[:i]...)
		w.row()
		p = p[i+1:]
	}
	return n, nil
}

func (w *textResult) row() {
	if w.rs == nil && w.err == nil {
		w.rs, w.err = w.t.NewResultSet("text", []api.ResultColumn{{Name: "output", Type: "TEXT"}})
	}
	if w.err == nil {
		w.err = w.rs.Row(string(w.part))
	}
	w.part = w.part[:0]
}

// Close writes a last unterminated line and closes the file; later calls
// return the first one's error.
func (w *textResult) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	w.closed = true
	if len(w.part) > 0 {
		w.row()
	}
	if w.rs != nil {
		if err := w.rs.Close(); w.err == nil {
			w.err = err
		}
	}
	return w.err
}
