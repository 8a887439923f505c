package engines

import (
	"bytes"
	"io"
	"strconv"
	"sync"
	"unicode/utf8"

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
	cut  bool // part reached maxRowBytes; the rest of the line is dropped
}

// maxRowBytes bounds one row of a text result set: output without a
// newline (head -c 400000000 /dev/zero) must not grow the engine's memory
// without limit. Past it the line is cut and the row says so.
const maxRowBytes = 64 << 10

// add appends p to the partial line, keeping at most maxRowBytes.
func (s *textStream) add(p []byte) {
	if s.cut {
		return
	}
	if room := maxRowBytes - len(s.part); len(p) > room {
		s.part = append(s.part, p[:room]...)
		s.cut = true
		// Do not end inside a rune (it would become U+FFFD).
		for i := len(s.part) - 1; i >= 0 && i >= len(s.part)-utf8.UTFMax; i-- {
			if utf8.RuneStart(s.part[i]) {
				if !utf8.FullRune(s.part[i:]) {
					s.part = s.part[:i]
				}
				break
			}
		}
		return
	}
	s.part = append(s.part, p...)
}

// line returns the assembled line and starts a new one.
func (s *textStream) line() string {
	l := string(s.part)
	if s.cut {
		l += " [line cut at " + strconv.Itoa(maxRowBytes) + " bytes]"
	}
	s.part, s.cut = s.part[:0], false
	return l
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
			s.add(p)
			break
		}
		s.add(p[:i])
		w.row(s.line())
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
		if len(s.part) > 0 || s.cut {
			w.row(s.line())
		}
	}
	if w.rs != nil {
		if err := w.rs.Close(); w.err == nil {
			w.err = err
		}
	}
	return w.err
}

// heldBack returns how many bytes at the end of p could be the start of
// mark (an end-of-output mark, which starts with a NUL): what a reader
// looking for the mark must keep until more output comes. Anything else
// goes on at once: holding back a whole mark's length would keep a short
// line ("start\n") from the log until the task printed more or ended.
func heldBack(p, mark []byte) int {
	for k := min(len(p), len(mark)-1); k > 0; k-- {
		if bytes.HasPrefix(mark, p[len(p)-k:]) {
			return k
		}
	}
	return 0
}
