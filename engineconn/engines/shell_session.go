package engines

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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

// bashSession is the shell engine's session mode: tasks run as subshells
// of a bash that outlives them (a bashProc), one task at a time per bash.
// Idle bashes wait in a pool; a task takes one, or starts one when all are
// busy (a concurrent engine ends up with as many as it ran tasks at once),
// and gives it back after. A bash that died, or whose state is in doubt
// after a task, is killed and replaced by a fresh one for the next task.
//
// The protocol. bash runs bashController with these descriptors: 0 is
// /dev/null, 1 the stdout pipe, 2 /dev/null (bash's own job reports go
// nowhere), 3 the request pipe, 4 the control pipe, 5 the stderr pipe.
//
//   - A request is a line "TOKEN LENGTH TASKID a|b\n" and exactly LENGTH
//     bytes of code, which bash reads with `read -N`: nothing in the code
//     is parsed before it is the task's, so no code can break the request
//     (no delimiter to collide with, no quoting), and a read of a known
//     length takes a few system calls. read -N counts characters: code
//     with bytes over 0x7f ("b") is read in the C locale, where they are
//     bytes; ASCII code ("a") is not, as switching the locale there and
//     back costs some 0.1 ms. Code with a NUL byte is refused (bash would
//     drop it).
//   - bash runs the code in a subshell `( ... eval "$code" ) </dev/null`:
//     with job control on (set -m) the subshell is a process group of its
//     own. Before the code, it reports "P TOKEN PID" on fd 4, closes fds
//     3-5, moves fd 5 to its stderr, exports LINKIS_TASK_ID and unsets
//     the protocol's variables, so the code sees neither the pipes nor
//     the token. When the subshell ended, bash reports "E TOKEN STATUS".
//     The token is random per task: a line without it (written by a task
//     that reopened fd 4 through /proc) is dropped.
//   - The engine then kills the task's process group (what the task left
//     running dies with it, as in process mode) and writes an end mark
//     (a NUL, a second random token that bash never sees, a NUL) into the
//     stdout and stderr pipes through copies of their write ends that it
//     keeps: what the readers read before the mark is the task's, since
//     every process that could write it is dead. Output nothing can
//     forge, and nothing parsed in the output.
//
// Killing a task sends SIGTERM to its process group, SIGKILL after
// shellGrace; the bash that ran it stays (it only waited for the
// subshell). A bash that does not report the end within a second after
// that, or dies (a task killed it: its pid is $$), is killed and replaced;
// the task it ran fails saying so. bash has the parent-death signal like
// every child of an engine (startPinned); a task's subshell is bash's
// child, so if the engine dies hard it is the ECM's session kill that ends
// it, as it does for the children of a task in process mode.
//
// What differs from process mode, as in any subshell: $$ is the pid of
// the long-lived bash, not the task's (use $BASHPID; a script that names
// files after $$ shares those names with the other tasks of its bash;
// $PPID is the engine's in both modes), and a syntax error is reported by
// "eval", not "-c". An
// exit status over 128 reads as death by signal (128+N), as bash reports
// both the same way. A process that leaves the task's process group
// (setsid, a daemon) and keeps bash's stdout or stderr may write into the
// output of a later task of the same bash; it can never end a task or
// hide another task's output.
type bashSession struct {
	bash, work string
	proc       *shellSession // process mode, for code too long to send
	mu         sync.Mutex
	idle       []*bashProc
}

// bashController is the long-lived bash's program. It is one line, so
// that the line numbers bash reports for the task's code ($LINENO, errors)
// are the code's own.
var bashController = strings.Join([]string{
	`set -m;`,
	`printf 'R\n' >&4;`,
	`while IFS=' ' read -r -u 3 __lk_t __lk_n __lk_i __lk_a && if [ "$__lk_a" = a ]; then IFS= read -r -N "$__lk_n" -u 3 __lk_c;`,
	`else LC_ALL=C IFS= read -r -N "$__lk_n" -u 3 __lk_c; fi; do`,
	`( printf 'P %s %s\n' "$__lk_t" "$BASHPID" >&4;`,
	`exec 2>&5 3<&- 4>&- 5>&-;`,
	`set +m;`,
	`export LINKIS_TASK_ID="$__lk_i";`,
	`BASH_EXECUTION_STRING=$__lk_c;`,
	`unset -v __lk_t __lk_n __lk_i __lk_a;`,
	`eval "unset -v __lk_c; $__lk_c" ) </dev/null;`,
	`printf 'E %s %s\n' "$__lk_t" "$?" >&4;`,
	`done`,
}, " ")

// shellGrace is how long a killed task may take to stop after SIGTERM.
const shellGrace = 2 * time.Second

func openBashSession(ctx context.Context, proc *shellSession) (*bashSession, error) {
	s := &bashSession{bash: proc.bash, work: proc.work, proc: proc}
	p, err := s.start(ctx)
	if err != nil {
		return nil, err
	}
	s.idle = append(s.idle, p)
	return s, nil
}

// bashProc is one long-lived bash and the goroutines reading from it.
type bashProc struct {
	cmd        *exec.Cmd
	req        *os.File     // fd 3: requests
	outW, errW *os.File     // the engine's copies of fds 1 and 5, to write end marks
	msgs       chan bashMsg // P and E reports of the running task
	ready      chan struct{}
	exited     chan struct{} // bash exited
	dead       chan struct{} // bash exited and its pipes were drained
	readers    sync.WaitGroup

	mu     sync.Mutex
	tok    string       // the running task's token
	mark   []byte       // its end mark in fds 1 and 5
	w      [2]io.Writer // where fd 1 and fd 5 go now; nil drops
	pid    int          // its subshell, a process group leader
	marks  chan struct{}
	why    error // why bash exited
	broken bool  // bash must not serve another task
}

type bashMsg struct {
	kind byte // 'P' or 'E'
	n    int
}

func (s *bashSession) start(ctx context.Context) (*bashProc, error) {
	var fds [8]*os.File // reqR, reqW, ctlR, ctlW, outR, outW, errR, errW
	for i := 0; i < len(fds); i += 2 {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(fds[:i]...)
			return nil, fmt.Errorf("shell engine: %w", err)
		}
		fds[i], fds[i+1] = r, w
	}
	reqR, reqW, ctlR, ctlW, outR, outW, errR, errW := fds[0], fds[1], fds[2], fds[3], fds[4], fds[5], fds[6], fds[7]
	cmd := exec.Command(s.bash, "--noprofile", "--norc", "-c", bashController, "bash")
	cmd.Dir = s.work
	cmd.Stdout = outW
	cmd.ExtraFiles = []*os.File{reqR, ctlW, errW}
	waited, err := startPinned(cmd)
	closeAll(reqR, ctlW) // the child's ends; outW and errW stay for the marks
	if err != nil {
		closeAll(reqW, ctlR, outR, outW, errR, errW)
		return nil, fmt.Errorf("shell engine: %w", err)
	}
	p := &bashProc{cmd: cmd, req: reqW, outW: outW, errW: errW, msgs: make(chan bashMsg, 4), ready: make(chan struct{}),
		exited: make(chan struct{}), dead: make(chan struct{}), marks: make(chan struct{}, 2)}
	p.readers.Add(3)
	go p.readControl(ctlR)
	go p.readOutput(outR, 0)
	go p.readOutput(errR, 1)
	go func() {
		werr := <-waited
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		p.mu.Lock()
		if p.why == nil {
			p.why = werr
			if werr == nil {
				p.why = errors.New("exited")
			}
		}
		p.broken = true
		pid := p.pid
		p.mu.Unlock()
		if pid > 0 {
			_ = syscall.Kill(-pid, syscall.SIGKILL) // the task it ran is no one's child now
		}
		close(p.exited)
		closeAll(reqW, outW, errW)
		drained := make(chan struct{})
		go func() { p.readers.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(pipeDrainDelay):
			closeAll(ctlR, outR, errR) // held by a process that left the group
			<-drained
		}
		close(p.dead)
	}()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case <-p.ready:
		return p, nil
	case <-p.exited:
		err = fmt.Errorf("shell engine: bash did not start: %v", p.reason())
	case <-timer.C:
		err = errors.New("shell engine: bash did not start within 30s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.kill()
	<-p.dead
	return nil, err
}

func (p *bashProc) reason() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.why
}

// kill ends bash and the task it runs. Once bash exited (and was waited
// for) its pid may be another process's: the waiter killed the task.
func (p *bashProc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.mu.Lock()
	pid := p.pid
	p.broken = true
	p.mu.Unlock()
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// readControl reads bash's reports, keeping those of the running task.
func (p *bashProc) readControl(r *os.File) {
	defer p.readers.Done()
	defer r.Close()
	br := bufio.NewReaderSize(r, 4096)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull { // no report is this long: drop the line
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			return
		}
		l := string(line[:len(line)-1])
		if l == "R" {
			select {
			case <-p.ready:
			default:
				close(p.ready)
			}
			continue
		}
		p.mu.Lock()
		tok := p.tok
		p.mu.Unlock()
		// "P TOKEN N" or "E TOKEN N", possibly after bytes a task wrote
		// into the pipe: the token, which only bash knows, anchors it.
		i := strings.LastIndex(l, " "+tok+" ")
		if tok == "" || i < 1 {
			continue
		}
		n, err := strconv.Atoi(l[i+len(tok)+2:])
		if err != nil || n < 0 {
			continue
		}
		m := bashMsg{kind: l[i-1], n: n}
		if m.kind != 'P' && m.kind != 'E' {
			continue
		}
		select {
		case p.msgs <- m:
		default:
		}
	}
}

// readOutput copies fd 1 (i = 0) or fd 5 (i = 1) of bash to the running
// task until its end mark, and drops what comes between tasks.
func (p *bashProc) readOutput(r *os.File, i int) {
	defer p.readers.Done()
	defer r.Close()
	buf := make([]byte, 32<<10)
	var pending []byte
	for {
		n, err := r.Read(buf)
		pending = append(pending, buf[:n]...)
		for len(pending) > 0 {
			p.mu.Lock()
			w, mark := p.w[i], p.mark
			p.mu.Unlock()
			if w == nil || len(mark) == 0 {
				if w != nil {
					_, _ = w.Write(pending)
				}
				pending = pending[:0]
				break
			}
			if j := bytes.Index(pending, mark); j >= 0 {
				if j > 0 {
					_, _ = w.Write(pending[:j])
				}
				pending = append(pending[:0], pending[j+len(mark):]...)
				p.mu.Lock()
				p.w[i] = nil // what follows the mark is not this task's
				p.mu.Unlock()
				p.marks <- struct{}{}
				continue
			}
			// Hold back what could be the start of the mark, and only
			// that: a line must reach the log when it is printed.
			keep := heldBack(pending, mark)
			if len(pending) > keep {
				_, _ = w.Write(pending[:len(pending)-keep])
				pending = append(pending[:0], pending[len(pending)-keep:]...)
			}
			break
		}
		if err != nil {
			if len(pending) > 0 {
				p.mu.Lock()
				w := p.w[i]
				p.mu.Unlock()
				if w != nil {
					_, _ = w.Write(pending)
				}
			}
			return
		}
	}
}

// take returns an idle bash, or starts one.
func (s *bashSession) take(ctx context.Context) (*bashProc, error) {
	s.mu.Lock()
	for len(s.idle) > 0 {
		p := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		select {
		case <-p.exited:
			s.mu.Unlock()
			p.kill()
			<-p.dead
			s.mu.Lock()
			continue
		default:
		}
		s.mu.Unlock()
		return p, nil
	}
	s.mu.Unlock()
	return s.start(ctx)
}

// give puts p back in the pool, or ends it if it cannot serve again.
func (s *bashSession) give(p *bashProc) {
	p.mu.Lock()
	broken := p.broken
	p.mu.Unlock()
	if broken {
		p.kill()
		<-p.dead
		return
	}
	s.mu.Lock()
	s.idle = append(s.idle, p)
	s.mu.Unlock()
}

func (s *bashSession) Run(ctx context.Context, t *engineconn.Task) error {
	if strings.IndexByte(t.Code, 0) >= 0 {
		return errors.New("shell engine: the code contains a NUL byte")
	}
	if len(t.Code) > maxInlineScript {
		return s.proc.Run(ctx, t)
	}
	for _, c := range t.ID {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("shell engine: task id %q", t.ID)
		}
	}
	for retried := false; ; retried = true {
		p, err := s.take(ctx)
		if err != nil {
			return err
		}
		err = p.run(ctx, t)
		s.give(p)
		if err != errNotStarted {
			return err
		}
		if retried {
			return fmt.Errorf("bash: the shell session ended before the task started, twice (%v)", p.reason())
		}
	}
}

// errNotStarted says that bash died before the task's code started (it
// died idle, say): the task runs on a new bash.
var errNotStarted = errors.New("bash died before the task started")

func (p *bashProc) run(ctx context.Context, t *engineconn.Task) error {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	h := hex.EncodeToString(nonce[:])
	tok, mark := h[:16], []byte("\x00LINKIS-END-"+h[16:]+"\x00")
	out := newTextResult(t)
	p.mu.Lock()
	p.tok, p.mark, p.pid = tok, mark, 0
	p.w = [2]io.Writer{out.Stream(), t.Stderr()}
	p.mu.Unlock()
	for len(p.msgs) > 0 {
		<-p.msgs
	}
	for len(p.marks) > 0 {
		<-p.marks
	}
	defer func() {
		p.mu.Lock()
		p.tok, p.mark, p.pid = "", nil, 0
		p.w = [2]io.Writer{}
		p.mu.Unlock()
		_ = out.Close()
	}()

	stop := context.AfterFunc(ctx, func() { _ = p.req.SetWriteDeadline(time.Unix(1, 0)) })
	charset := " a\n"
	for i := 0; i < len(t.Code); i++ {
		if t.Code[i] >= 0x80 {
			charset = " b\n"
			break
		}
	}
	_, err := p.req.WriteString(tok + " " + strconv.Itoa(len(t.Code)) + " " + t.ID + charset + t.Code)
	stop()
	if err != nil {
		p.kill()
		<-p.dead
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errNotStarted
	}

	pid, status := 0, -1
	done := ctx.Done()
	var grace, last <-chan time.Time
	signal := func(sig syscall.Signal) {
		if pid > 0 {
			_ = syscall.Kill(-pid, sig)
		}
	}
wait:
	for {
		select {
		case m := <-p.msgs:
			if m.kind == 'E' {
				status = m.n
				break wait
			}
			pid = m.n
			p.mu.Lock()
			p.pid = pid
			p.mu.Unlock()
			if done == nil { // killed before it started
				signal(syscall.SIGTERM)
			}
		case <-done:
			done = nil
			signal(syscall.SIGTERM)
			grace = time.After(shellGrace)
		case <-grace:
			signal(syscall.SIGKILL)
			last = time.After(time.Second)
		case <-last:
			t.Logf("[shell] bash did not report the end of the killed task; a new bash serves the next task")
			p.kill()
			<-p.dead
			return ctx.Err()
		case <-p.exited:
			<-p.dead // the task's output up to here is its own, and so are bash's last reports
			ended := false
			for len(p.msgs) > 0 {
				if m := <-p.msgs; m.kind == 'P' {
					pid = m.n
				} else {
					status, ended = m.n, true
				}
			}
			// The waiter killed the task's group only if this loop had
			// taken its P report; a task that killed bash at once may not
			// have been: its group dies here.
			signal(syscall.SIGKILL)
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case ended:
				if err := out.Close(); err != nil {
					return err
				}
				return exitError(status)
			case pid == 0: // the subshell reports before the code runs: it did not
				return errNotStarted
			}
			return fmt.Errorf("bash: the shell session ended during the task (%v); the next task gets a new one", p.reason())
		}
	}
	signal(syscall.SIGKILL) // stragglers of the group, as in process mode
	if err := p.endMarks(mark); err != nil {
		t.Logf("[shell] %v; a new bash serves the next task", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return exitError(status)
}

// endMarks writes the end mark into both output pipes and waits until the
// readers passed them: all the task's output was handed over.
func (p *bashProc) endMarks(mark []byte) error {
	for _, f := range []*os.File{p.outW, p.errW} {
		if _, err := f.Write(mark); err != nil {
			p.kill()
			<-p.dead
			return fmt.Errorf("the end of the task's output: %w", err)
		}
	}
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	for got := 0; got < 2; got++ {
		select {
		case <-p.marks:
		case <-timer.C:
			p.kill()
			<-p.dead
			return errors.New("the task's output was not read to its end within 5s")
		case <-p.dead:
			return errors.New("bash died at the end of the task")
		}
	}
	return nil
}

// exitError words an exit status as process mode does ("bash: exit status
// 3", "bash: signal: killed"); bash reports death by signal N as 128+N.
func exitError(status int) error {
	switch {
	case status == 0:
		return nil
	case status > 128 && status <= 128+64:
		return fmt.Errorf("bash: signal: %v", syscall.Signal(status-128))
	default:
		return fmt.Errorf("bash: exit status %d", status)
	}
}

// Close ends every bash; it runs after every task ended.
func (s *bashSession) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, p := range idle {
		p.kill()
	}
	for _, p := range idle {
		<-p.dead
	}
	return nil
}
