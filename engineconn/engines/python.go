package engines

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golinkis/golinkis/engineconn"
)

//go:embed driver.py
var driverCode string

// Python keeps one python3 interpreter per EngineConn: every task runs in
// the same namespace, so a variable set by one task is visible to the next.
// Tasks are serialised (one interpreter runs one task at a time). A driver
// script, given to the interpreter as code, reads length-prefixed requests
// on fd 3 and writes length-prefixed frames (output, error output,
// exception, progress, end) on fd 4, so nothing the user's code prints (to
// sys.stdout, sys.stderr or fds 1 and 2) can break the protocol; output
// written below Python (child processes, os.write) is read from fd 1 and 2
// and goes to the running task too. The driver moves
// both pipes to high close-on-exec fds at once (fds 3 and 4 become
// /dev/null), so processes the code starts do not hold them; one that
// still does (a fork) cannot keep a dead interpreter's session from
// ending, as the pipes are closed shortly after the interpreter exits.
// Exception and end frames carry the task's random sync token, so that a
// forged one is dropped. Code inside the interpreter is not isolated from
// the driver, though: it can reach its objects and write to the pipe, and
// so break the protocol of its own session (the engine then kills the
// interpreter), never another user's.
//
// Killing a task interrupts it (SIGINT, a KeyboardInterrupt in the user's
// code; the namespace survives). If the interpreter does not come back
// within the grace, or dies, it is killed and a fresh one serves the next
// task; the task's log says the namespace was lost.
type Python struct {
	// Interpreter is the python executable; empty means "python3" on PATH.
	Interpreter string
	// Grace is how long an interrupted task may take to stop (default 2 s).
	Grace time.Duration
}

// Open implements engineconn.Engine: it starts the interpreter and waits
// until the driver is ready.
func (p Python) Open(ctx context.Context, c *engineconn.Context) (engineconn.Session, error) {
	py := p.Interpreter
	if py == "" {
		py = "python3"
	}
	path, err := exec.LookPath(py)
	if err != nil {
		return nil, fmt.Errorf("python engine: %w", err)
	}
	grace := p.Grace
	if grace <= 0 {
		grace = 2 * time.Second
	}
	s := &pySession{python: path, work: c.WorkDir, grace: grace}
	if s.cur, err = s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

type pySession struct {
	python, work string
	grace        time.Duration
	runMu        sync.Mutex // one task at a time
	cur          *interp    // nil after it died and could not be restarted
}

// sink is where the running task's output goes: Python's own output
// (frames) and what is written below Python (fd 1 and 2) each have their
// writers, so their lines never run into each other.
type sink struct {
	task           *engineconn.Task
	out, err       io.Writer // frames
	rawOut, rawErr io.Writer // fd 1 and 2
	exc            strings.Builder
}

// interp is one interpreter process and the goroutines reading from it.
type interp struct {
	cmd   *exec.Cmd
	req   *os.File
	ends  chan string   // END statuses
	ready chan struct{} // READY seen
	dead  chan struct{} // the process exited and every pipe is drained
	wg    sync.WaitGroup
	mu    sync.Mutex
	sink  *sink
	sync  string        // the running task's sync token, which starts its EXC and END frames
	mark  []byte        // the running task's end-of-output mark on fd 1 and 2
	marks chan struct{} // one value per mark seen
	why   error         // why it died
}

func (s *pySession) start(ctx context.Context) (*interp, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	respR, respW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(reqR, reqW, respR, respW)
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(reqR, reqW, respR, respW, outR, outW)
		return nil, err
	}
	cmd := exec.Command(s.python, "-u", "-c", driverCode)
	cmd.Dir = s.work
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1", "PYTHONIOENCODING=utf-8")
	cmd.ExtraFiles = []*os.File{reqR, respW}
	cmd.Stdout, cmd.Stderr = outW, errW
	waited, err := startPinned(cmd)
	closeAll(reqR, respW, outW, errW) // the child's ends
	if err != nil {
		closeAll(reqW, respR, outR, errR)
		return nil, fmt.Errorf("python engine: %w", err)
	}
	in := &interp{cmd: cmd, req: reqW, ends: make(chan string, 1), ready: make(chan struct{}), dead: make(chan struct{}),
		marks: make(chan struct{}, 2)}
	in.wg.Add(3)
	go in.readFrames(respR)
	go in.readRaw(outR, false)
	go in.readRaw(errR, true)
	go func() {
		werr := <-waited
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // its children go with it
		drained := make(chan struct{})
		go func() { in.wg.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(pipeDrainDelay):
			// A process that left the group (setsid, a fork of the
			// interpreter) still holds the pipes: stop reading rather than
			// wait for an EOF that may never come.
			closeAll(respR, outR, errR)
			<-drained
		}
		in.mu.Lock()
		if in.why == nil {
			in.why = fmt.Errorf("python3 exited: %v", werr)
		}
		in.mu.Unlock()
		close(in.dead)
	}()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case <-in.ready:
		return in, nil
	case <-in.dead:
		return nil, fmt.Errorf("python engine: the interpreter did not start: %v", in.why)
	case <-timer.C:
		err = errors.New("python engine: the interpreter did not start within 30s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	in.kill()
	<-in.dead
	return nil, err
}

// pipeDrainDelay is how long the pipes of an interpreter that exited are
// read before they are closed.
const pipeDrainDelay = time.Second

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

func (in *interp) kill() {
	_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
	in.req.Close()
}

func (in *interp) readFrames(r *os.File) {
	defer in.wg.Done()
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		f, err := readFrame(br)
		if err != nil {
			if err != io.EOF && !errors.Is(err, os.ErrClosed) {
				in.mu.Lock()
				in.why = err
				in.mu.Unlock()
				_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL) // a broken protocol cannot be resynchronised
			}
			return
		}
		in.mu.Lock()
		sk, syncTok := in.sink, in.sync
		in.mu.Unlock()
		if f.kind == "END" || f.kind == "EXC" {
			// Only the driver knows the running task's token: drop what
			// the task's code forged, or what a task before it left.
			tok, rest, ok := bytes.Cut(f.payload, []byte(" "))
			if !ok || syncTok == "" || string(tok) != syncTok {
				continue
			}
			f.payload = rest
		}
		switch f.kind {
		case "READY":
			close(in.ready)
		case "END":
			select {
			case in.ends <- string(f.payload):
			default:
			}
		case "PRG":
			if p, err := strconv.ParseFloat(string(f.payload), 64); err == nil && sk != nil && sk.task != nil {
				sk.task.SetProgress(p)
			}
		case "OUT", "ERR", "EXC":
			if sk == nil {
				continue // output after its task ended: nobody to give it to
			}
			switch f.kind {
			case "OUT":
				_, _ = sk.out.Write(f.payload)
			case "ERR":
				_, _ = sk.err.Write(f.payload)
			case "EXC":
				sk.exc.Write(f.payload)
				_, _ = sk.err.Write(f.payload)
			}
		}
	}
}

func (in *interp) readRaw(r *os.File, stderr bool) {
	defer in.wg.Done()
	defer r.Close()
	buf := make([]byte, 32<<10)
	var pending []byte
	emit := func(p []byte) {
		if len(p) == 0 {
			return
		}
		in.mu.Lock()
		sk := in.sink
		in.mu.Unlock()
		if sk == nil {
			return
		}
		if stderr {
			_, _ = sk.rawErr.Write(p)
		} else {
			_, _ = sk.rawOut.Write(p)
		}
	}
	for {
		n, err := r.Read(buf)
		pending = append(pending, buf[:n]...)
		for {
			in.mu.Lock()
			mark := in.mark
			in.mu.Unlock()
			if len(mark) == 0 {
				emit(pending)
				pending = pending[:0]
				break
			}
			if i := bytes.Index(pending, mark); i >= 0 {
				emit(pending[:i])
				pending = append(pending[:0], pending[i+len(mark):]...)
				in.marks <- struct{}{}
				continue
			}
			// Hold back what could be the start of a mark, and only that.
			keep := heldBack(pending, mark)
			emit(pending[:len(pending)-keep])
			pending = append(pending[:0], pending[len(pending)-keep:]...)
			break
		}
		if err != nil {
			emit(pending)
			return
		}
	}
}

func (s *pySession) Run(ctx context.Context, t *engineconn.Task) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	in := s.cur
	if in != nil {
		select {
		case <-in.dead:
			in = nil
		default:
		}
	}
	if in == nil {
		var err error
		if in, err = s.start(ctx); err != nil {
			return err
		}
		s.cur = in
		t.Logf("[python] a new interpreter serves this task: variables from earlier tasks are gone")
	}
	out := newTextResult(t)
	sk := &sink{task: t, out: out.Stream(), err: t.Stderr(), rawOut: out.Stream(), rawErr: t.LogWriter()}
	in.mu.Lock()
	in.sink = sk
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		in.sink = nil
		in.mu.Unlock()
		_ = out.Close()
	}()
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	syncTok := "LINKIS-END-" + hex.EncodeToString(nonce[:])
	in.mu.Lock()
	in.mark = []byte("\x00" + syncTok + "\x00")
	in.sync = syncTok
	in.mu.Unlock()
	for len(in.marks) > 0 { // marks of an earlier task that never came back
		<-in.marks
	}
	for len(in.ends) > 0 { // an end an earlier task never took
		<-in.ends
	}
	defer func() {
		in.mu.Lock()
		in.mark, in.sync = nil, ""
		in.mu.Unlock()
	}()
	body, _ := json.Marshal(struct {
		ID   string `json:"id"`
		Code string `json:"code"`
		Sync string `json:"sync"`
	}{t.ID, t.Code, syncTok})
	if _, err := fmt.Fprintf(in.req, "%d\n%s", len(body), body); err != nil {
		in.kill()
		return fmt.Errorf("python engine: sending the task: %w", err)
	}
	var status string
	ended := false
	select {
	case status = <-in.ends:
		ended = true
	case <-in.dead:
		return in.why
	case <-ctx.Done():
		_ = in.cmd.Process.Signal(syscall.SIGINT)
		timer := time.NewTimer(s.grace)
		select {
		case status = <-in.ends:
			ended = true
		case <-in.dead:
		case <-timer.C:
			t.Logf("[python] the interpreter did not stop within %v; killing it (its variables are lost)", s.grace)
			in.kill()
			<-in.dead
		}
		timer.Stop()
	}
	if ended {
		// Output written below Python before the task ended is still in
		// the pipes: wait for both marks (briefly: the code may have
		// closed them), so none of it spills into the next task.
		timer := time.NewTimer(time.Second)
		for got := 0; got < 2; got++ {
			select {
			case <-in.marks:
				continue
			case <-timer.C:
			case <-in.dead:
			}
			break
		}
		timer.Stop()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	switch status {
	case "OK":
		return out.Close()
	case "CANCEL":
		return errors.New("interrupted")
	default:
		return fmt.Errorf("python: %s", lastLine(sk.exc.String()))
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func (s *pySession) Close() error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	in := s.cur
	if in == nil {
		return nil
	}
	in.req.Close() // the driver reads EOF and exits
	timer := time.NewTimer(s.grace)
	defer timer.Stop()
	select {
	case <-in.dead:
	case <-timer.C:
		in.kill()
		<-in.dead
	}
	return nil
}
