package ecm

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unicode/utf8"
)

// LogFile is the name of an engine's output log in its logs directory.
const LogFile = "engineconn.log"

// tailBytes is how much of an engine's latest output is kept in memory to
// quote when it fails, whatever the log cap did.
const tailBytes = 16 << 10

// cappedLog copies an engine's output into its log file up to a cap; past
// the cap it writes one note saying so and drops the rest. It keeps the
// latest output in memory for failure reports.
type cappedLog struct {
	mu      sync.Mutex
	f       *os.File
	n, cap  int64
	dropped int64
	tail    []byte
}

func (l *cappedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tail = append(l.tail, p...)
	if len(l.tail) > 2*tailBytes {
		l.tail = append(l.tail[:0], l.tail[len(l.tail)-tailBytes:]...)
	}
	if l.dropped > 0 || l.n+int64(len(p)) > l.cap {
		if l.dropped == 0 {
			keep := max(l.cap-l.n, 0)
			_, _ = l.f.Write(p[:keep])
			_, _ = fmt.Fprintf(l.f, "\n[ecm: log truncated: the engine wrote more than the log cap of %d bytes; the rest is dropped]\n", l.cap)
			l.dropped = int64(len(p)) - keep
			l.n = l.cap
			return len(p), nil
		}
		l.dropped += int64(len(p))
		return len(p), nil
	}
	n, err := l.f.Write(p)
	l.n += int64(n)
	return len(p), err
}

// lastLines returns up to n of the latest lines of output.
func (l *cappedLog) lastLines(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.TrimRight(string(l.tail), "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, "\n")
	const max = 3000 // the manager bounds a reason at 4096 bytes
	if len(out) > max {
		cut := len(out) - max
		for cut < len(out) && !utf8.RuneStart(out[cut]) {
			cut++ // start on a rune boundary
		}
		out = "..." + out[cut:]
	}
	return out
}

func (l *cappedLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped > 0 {
		_, _ = fmt.Fprintf(l.f, "[ecm: %d bytes dropped past the log cap]\n", l.dropped)
	}
	return l.f.Close()
}

// pump copies r into l until r ends.
func (l *cappedLog) pump(r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			_, _ = l.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}
