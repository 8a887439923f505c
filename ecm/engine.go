package ecm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Engine states, as an ECM tracks them (reported with the api.EC* names).
type engineState uint8

const (
	stateStarting engineState = iota // launched; no address yet
	stateRunning                     // the engine reported its address
	stateExited                      // the process is gone
)

// engine is one engine process this ECM launched. Its fields are guarded
// by ECM.mu.
type engine struct {
	ticket                  string
	dir, work, logs, result string
	cmd                     *exec.Cmd
	pid                     int
	log                     *cappedLog
	launched                chan struct{} // closed once start finished (the process runs, or it failed)
	exited                  chan struct{} // closed once the process is gone and its end recorded
	state                   engineState
	addr                    string
	killWhy                 string // set when the ECM stopped it on request
	timedOut                bool   // the ECM stopped it for not starting in time
	failed, retryable       bool
	reason                  string
	since                   time.Time // when it was launched (zero when adopted)
	endedAt                 time.Time
}

func (e *engine) isExited() bool { return e.state == stateExited }

func (e *engine) endedBefore(t time.Time) bool { return !e.endedAt.IsZero() && e.endedAt.Before(t) }

// Launch starts the engine a launch request describes and answers at once
// with its state. A ticket this ECM already has answers with that engine
// (Starting, Running with its address, or Exited with how it ended) and
// starts nothing. A request that is malformed, names unsafe material paths
// or comes while too many engines are starting is refused with nothing
// changed; a command that cannot be found or started answers Exited,
// failed and not retryable.
func (m *ECM) Launch(req api.LaunchRequest) (api.LaunchResponse, error) {
	lr, err := req.Launch()
	if err == nil {
		err = checkMaterials(lr.Materials)
	}
	if err == nil {
		err = checkEnv(lr.Env)
	}
	if err != nil {
		m.metrics.refused.WithLabelValues("invalid").Inc()
		return api.LaunchResponse{}, err
	}
	ticket := lr.Ticket.String()
	m.mu.Lock()
	if e := m.engines[ticket]; e != nil {
		m.mu.Unlock()
		return m.response(e), nil
	}
	if m.closed {
		m.mu.Unlock()
		m.metrics.refused.WithLabelValues("closing").Inc()
		return api.LaunchResponse{}, linkis.Errorf(linkis.ErrUnavailable, m.cfg.ID, "the ECM is shutting down")
	}
	if m.starting >= m.cfg.MaxStarting {
		m.mu.Unlock()
		m.metrics.refused.WithLabelValues("busy").Inc()
		return api.LaunchResponse{}, linkis.Errorf(linkis.ErrUnavailable, m.cfg.ID, "%d engines are starting, the most this ECM starts at once; try again shortly", m.starting)
	}
	dir := filepath.Join(m.cfg.DataDir, ticket)
	e := &engine{ticket: ticket, dir: dir, work: filepath.Join(dir, "work"), logs: filepath.Join(dir, "logs"),
		result: filepath.Join(dir, "results"), launched: make(chan struct{}), exited: make(chan struct{}), since: time.Now()}
	m.engines[ticket] = e
	m.starting++
	m.mu.Unlock()

	if err := m.start(e, &lr); err != nil {
		m.log.Warn("launch failed", "ec", ticket, "err", err)
		m.end(e, true, err.Error(), false)
		close(e.launched)
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.report(e)
		}()
	} else {
		m.metrics.launches.Inc()
		m.log.Info("engine launched", "ec", ticket, "pid", e.pid, "engine", lr.EngineType.String(), "user", lr.User)
	}
	return m.response(e), nil
}

// start prepares the engine's directories and starts its process.
func (m *ECM) start(e *engine, lr *manager.LaunchRequest) error {
	path, err := m.resolveCommand(lr.Command, lr.Args)
	if err != nil {
		return err
	}
	cred, u, err := runAs(lr.User, m.cfg.AllowRootEngines)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(e.dir); err != nil {
		return err
	}
	// DATA/ec-N stays the ECM's (its own records, engine.pid, are there and
	// must not be the user's to replace); only work, logs and results are
	// the user's.
	if err := os.Mkdir(e.dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(e.dir, 0o755); err != nil { // whatever the umask
		return err
	}
	for _, d := range []string{e.work, e.logs, e.result} {
		if err := os.Mkdir(d, 0o750); err != nil {
			return err
		}
	}
	if err := writeMaterials(e.work, lr.Materials); err != nil {
		return err
	}
	uid := os.Geteuid()
	if cred != nil {
		uid = int(cred.Uid)
		for _, d := range []string{e.work, e.logs, e.result} {
			if err := chownTree(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return err
			}
		}
	}
	// What the engine gets (its ends of the pipes) is closed here once it
	// started; what the ECM keeps is closed here only on failure.
	var theirs, ours []*os.File
	defer func() {
		for _, f := range theirs {
			f.Close()
		}
	}()
	fail := func(err error) error {
		for _, f := range ours {
			f.Close()
		}
		return err
	}
	lf, err := os.OpenFile(filepath.Join(e.logs, LogFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	ours = append(ours, lf)
	pr, pw, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	ours, theirs = append(ours, pr), append(theirs, pw)
	// The cluster token goes through a socket (fd 3), not the
	// environment: a process of the engine's user could read
	// /proc/PID/environ before the engine hides it. Nor a pipe: that
	// process could open /proc/PID/fd/3 and read the token first, which
	// open(2) cannot do to a socket. The socket holds it whole (it is far
	// below the socket's buffer), so our end is closed before the start.
	tw, tr, err := socketPair()
	if err != nil {
		return fail(err)
	}
	theirs = append(theirs, tr)
	_, err = tw.WriteString(m.cfg.Token)
	tw.Close()
	if err != nil {
		return fail(err)
	}
	// The engine reports its address on a socket (fd 4) that only it
	// holds (see readAddr).
	addrc, addre, err := socketPair()
	if err != nil {
		return fail(err)
	}
	ours, theirs = append(ours, addrc), append(theirs, addre)
	cmd := exec.Command(path, lr.Args...)
	cmd.Dir = e.work
	cmd.Env = m.env(e, lr, u)
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.ExtraFiles = []*os.File{tr, addre}
	// A session of its own (and so a process group of its own, with the
	// same id): what the engine starts in groups of their own stays in its
	// session and is killed with it (killSession).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: cred}
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("start %s: %w", lr.Command, err))
	}
	if err := writePIDFile(e.dir, cmd.Process.Pid, uid); err != nil {
		m.log.Warn("recording the engine's pid", "ec", e.ticket, "err", err) // only adoption after a restart needs it
	}
	log := &cappedLog{f: lf, cap: m.cfg.LogCap}
	m.mu.Lock()
	e.cmd, e.pid, e.log = cmd, cmd.Process.Pid, log
	m.mu.Unlock()
	close(e.launched)
	pumped := make(chan struct{})
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		defer close(pumped)
		log.pump(pr)
	}()
	go func() {
		defer m.wg.Done()
		m.watch(e, pr, addrc, pumped)
	}()
	return nil
}

// socketPair returns the two ends of a Unix stream socket pair, close on
// exec (the engine's end is passed on explicitly); ours is non-blocking,
// so that closing it ends a read that waits on it.
func socketPair() (ours, theirs *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "engine address"), os.NewFile(uintptr(fds[1]), "engine address"), nil
}

// readAddr waits for a starting engine to report the address of its task
// API on the socket the ECM gave it (descriptor 4, LINKIS_ADDR_FD), records
// it (AddrRecord), moves the engine to Running and acknowledges (the
// engine reports to the manager only then). Nothing else can speak on
// that socket: the engine marks its end close-on-exec at once, so the
// user's code it runs never holds it, and /proc/PID/fd cannot open a
// socket. (A file in the work directory, the earlier channel, could be
// written first by any process of the engine's user, and the ECM sends
// the cluster token to the address it reports.) An engine that reports
// no valid address stays Starting until it exits or StartTimeout passes.
func (m *ECM) readAddr(e *engine, conn *os.File) {
	defer conn.Close()
	line, err := bufio.NewReaderSize(io.LimitReader(conn, maxAddrLen), maxAddrLen).ReadString('\n')
	if err != nil {
		return // it ended, or never reported
	}
	addr := strings.TrimSpace(line)
	if err := linkis.ValidateAddress("addr", addr); err != nil {
		m.log.Warn("the engine reported a malformed address", "ec", e.ticket, "err", err)
		return
	}
	if err := writeOwnFile(e.dir, AddrRecord, []byte(addr+"\n")); err != nil {
		m.log.Warn("recording the engine's address", "ec", e.ticket, "err", err) // only adoption after a restart needs it
	}
	m.mu.Lock()
	if e.state == stateStarting {
		e.state, e.addr = stateRunning, addr
		m.starting--
		if !e.since.IsZero() {
			m.metrics.served(e.since)
		}
	}
	m.mu.Unlock()
	_, _ = conn.Write([]byte(engineconn.AddrAck))
}

// maxAddrLen bounds what readAddr reads: an address and its newline.
const maxAddrLen = linkis.MaxAddressLen + 1

// env is the engine's environment: a minimal base, the launch request's
// variables, then the ECM's own (which win).
func (m *ECM) env(e *engine, lr *manager.LaunchRequest, u *user.User) []string {
	env := baseEnv(u)
	keys := make([]string, 0, len(lr.Env))
	for k := range lr.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+lr.Env[k])
	}
	host := m.cfg.EngineHost
	if host == "" {
		host, _, _ = net.SplitHostPort(m.Addr())
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			host = "127.0.0.1"
		}
	}
	if d := m.cfg.EngineMaxFreeTime; d > 0 {
		env = append(env, engineconn.EnvMaxFreeTime+"="+d.String())
	}
	return append(env,
		engineconn.EnvManager+"="+strings.Join(m.cfg.Managers, ","),
		engineconn.EnvTokenFD+"=3", // cmd.ExtraFiles[0]
		engineconn.EnvAddrFD+"=4",  // cmd.ExtraFiles[1]
		engineconn.EnvWorkDir+"="+e.work,
		engineconn.EnvLogDir+"="+e.logs,
		engineconn.EnvResultDir+"="+e.result,
		engineconn.EnvHost+"="+host,
		"TMPDIR="+e.work,
	)
}

// watch follows an engine from start to exit: it notices when the engine
// writes its address, and when the process ends it kills what is left of
// its process group, records how it ended and reports it.
func (m *ECM) watch(e *engine, pr, addrc *os.File, pumped <-chan struct{}) {
	waited := make(chan error, 1)
	go func() { waited <- e.cmd.Wait() }() // ends when the process does; every path below waits for it
	read := make(chan struct{})
	go func() { // ends when the engine reported, or once addrc is closed below
		defer close(read)
		m.readAddr(e, addrc)
	}()
	startBy := time.NewTimer(m.cfg.StartTimeout)
	var werr error
wait:
	for {
		select {
		case werr = <-waited:
			break wait
		case <-startBy.C:
			if m.isStarting(e) {
				m.stopUnstarted(e, "engine did not start in time; stopping it", "timeout", m.cfg.StartTimeout)
			}
		}
	}
	startBy.Stop()
	addrc.Close() // a child of the engine may hold its end still
	<-read
	_ = syscall.Kill(-e.pid, syscall.SIGKILL) // what is left of its group
	killSession(e.pid)                        // and of its session (tasks in groups of their own)
	select {
	case <-pumped:
	case <-time.After(2 * time.Second): // a child that left the group still holds the pipe
		pr.Close()
		<-pumped
	}
	pr.Close()
	m.mu.Lock()
	ps, why, wasRunning, log, timedOut := e.cmd.ProcessState, e.killWhy, e.state == stateRunning, e.log, e.timedOut
	m.mu.Unlock()
	tail := log.lastLines(m.cfg.TailLines)
	_ = log.close()
	failed, retryable, reason := classify(ps, werr, why, wasRunning, tail)
	if timedOut && why == "" {
		failed, retryable = true, true
		reason = fmt.Sprintf("did not start within %v; stopped (%v)", m.cfg.StartTimeout, ps)
		if tail != "" {
			reason += "; last output:\n" + tail
		}
	}
	m.end(e, failed, reason, retryable)
	m.log.Info("engine exited", "ec", e.ticket, "failed", failed, "reason", firstLine(reason))
	m.report(e)
}

// classify says how an engine ended. A stop the ECM was asked for (or its
// own shutdown) is not a failure, and whoever held the engine may ask
// again. A clean exit is not a failure. A death by signal (OOM killer,
// kill -9) is a failure a retry may fix; so is a non-zero exit after the
// engine served; a non-zero exit before it ever served is a start-up
// failure (bad engine type, bad configuration) that a retry would repeat.
func classify(ps *os.ProcessState, werr error, why string, wasRunning bool, tail string) (failed, retryable bool, reason string) {
	withTail := func(s string) string {
		if tail == "" {
			return s
		}
		return s + "; last output:\n" + tail
	}
	if ps == nil {
		return true, true, withTail(fmt.Sprintf("lost the process: %v", werr))
	}
	status, _ := ps.Sys().(syscall.WaitStatus)
	switch {
	case why != "":
		// Not a failure; an ask that held it may ask again for another.
		return false, true, why + " (" + ps.String() + ")"
	case ps.Success():
		return false, false, "exited cleanly"
	case status.Signaled():
		return true, true, withTail("killed by signal " + status.Signal().String())
	case ps.ExitCode() == 143 || ps.ExitCode() == 137:
		return true, true, withTail(ps.String())
	case wasRunning:
		return true, true, withTail(ps.String() + " after it served")
	default:
		return true, false, withTail(ps.String() + " before it reported in")
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// stopUnstarted stops an engine that did not report its address in time
// (or cannot: adopted while starting) and says why in the log (msg,
// args); it ends failed and retryable.
func (m *ECM) stopUnstarted(e *engine, msg string, args ...any) {
	m.mu.Lock()
	e.timedOut = true
	m.mu.Unlock()
	m.log.Warn(msg, append([]any{"ec", e.ticket}, args...)...)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.stop(m.ctx, e, m.cfg.KillGrace, "")
	}()
}

// isStarting says whether the engine has not reported its address yet
// (and still runs).
func (m *ECM) isStarting(e *engine) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return e.state == stateStarting
}

// end records that an engine is gone, in memory and in its directory
// (EndFile, for an ECM that restarts).
func (m *ECM) end(e *engine, failed bool, reason string, retryable bool) {
	m.mu.Lock()
	if e.state == stateExited {
		m.mu.Unlock()
		return
	}
	if e.state == stateStarting {
		m.starting--
	}
	e.state, e.failed, e.reason, e.retryable, e.endedAt = stateExited, failed, reason, retryable, time.Now()
	m.metrics.exit(failed, e.killWhy != "")
	r := endRecord{Failed: failed, Retryable: retryable, Reason: reason, EndedAt: e.endedAt.UnixMilli()}
	m.mu.Unlock()
	if err := writeEndFile(e.dir, r); err != nil {
		m.log.Warn("recording the engine's end", "ec", e.ticket, "err", err)
	}
	m.mu.Lock()
	close(e.exited)
	m.mu.Unlock()
}

// maxReportedReason leaves a margin under manager.MaxReasonLen.
const maxReportedReason = 4000

// clipReason makes a reason the manager accepts: valid UTF-8 (an invalid
// byte would travel in JSON as U+FFFD, three bytes, and could push it over
// the manager's limit) cut on a rune boundary to maxReportedReason bytes.
func clipReason(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxReportedReason {
		return s
	}
	cut := maxReportedReason - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// report tells the manager an engine ended, retrying until it is heard,
// the manager says it already settled that engine, or the ECM stops.
func (m *ECM) report(e *engine) {
	m.mu.Lock()
	req := api.ECEndedRequest{EC: e.ticket, Failed: e.failed, Reason: e.reason, Retryable: e.retryable}
	m.mu.Unlock()
	req.Reason = clipReason(req.Reason)
	backoff := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
		err := m.mgr.ECEnded(ctx, req)
		cancel()
		switch {
		case err == nil, errors.Is(err, linkis.ErrUnknownNode):
			return // heard, or already settled
		case !linkis.IsRetryable(err) && !errors.Is(err, context.DeadlineExceeded):
			m.log.Error("reporting an engine's end was refused", "ec", e.ticket, "err", err)
			return
		}
		select {
		case <-m.ctx.Done():
			m.log.Warn("ECM stopping before the manager heard an engine ended", "ec", e.ticket)
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// response is the engine's state as the API reports it.
func (m *ECM) response(e *engine) api.LaunchResponse {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := api.LaunchResponse{EC: e.ticket, PID: e.pid}
	switch e.state {
	case stateStarting:
		r.State = api.ECStarting
	case stateRunning:
		r.State, r.Addr = api.ECRunning, e.addr
	default:
		r.State, r.Failed, r.Reason, r.Retryable = api.ECExited, e.failed, e.reason, e.retryable
	}
	return r
}

// MaxKillGrace bounds the grace a kill request may ask for.
const MaxKillGrace = 5 * time.Minute

// Kill stops an engine: SIGTERM to its process group, SIGKILL to the group
// after the grace; it answers once the process is gone (Exited), or
// Unknown for a ticket this ECM never had.
func (m *ECM) Kill(ctx context.Context, req api.KillRequest) (api.KillResponse, error) {
	if _, err := manager.ParseECID(req.EC); err != nil {
		return api.KillResponse{}, err
	}
	if req.GraceMs < 0 || time.Duration(req.GraceMs)*time.Millisecond > MaxKillGrace {
		return api.KillResponse{}, linkis.Errorf(linkis.ErrInvalidArgument, "graceMs", "must be from 0 to %d, got %d", MaxKillGrace.Milliseconds(), req.GraceMs)
	}
	m.mu.Lock()
	e := m.engines[req.EC]
	m.mu.Unlock()
	if e == nil {
		return api.KillResponse{EC: req.EC, State: api.ECUnknown}, nil
	}
	grace := m.cfg.KillGrace
	if req.GraceMs > 0 {
		grace = time.Duration(req.GraceMs) * time.Millisecond
	}
	m.stop(ctx, e, grace, "killed on request")
	return m.response(e), nil
}

// stop ends an engine's process group: SIGTERM, then SIGKILL after grace.
// why, when not empty, is recorded as the reason (a stop on request is not
// a failure).
func (m *ECM) stop(ctx context.Context, e *engine, grace time.Duration, why string) {
	select {
	case <-e.launched:
	case <-ctx.Done():
		return
	}
	m.mu.Lock()
	if e.state == stateExited {
		m.mu.Unlock()
		return
	}
	if e.killWhy == "" && why != "" {
		e.killWhy = why
	}
	pid := e.pid
	m.mu.Unlock()
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-e.exited:
		return
	case <-ctx.Done():
	case <-timer.C:
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-e.exited:
	case <-time.After(10 * time.Second):
		m.log.Error("an engine survived SIGKILL", "ec", e.ticket, "pid", pid)
	}
}

// Engine returns the state of an engine this ECM has (as a launch of its
// ticket would answer), and false for a ticket it does not have.
func (m *ECM) Engine(ticket string) (api.LaunchResponse, bool) {
	m.mu.Lock()
	e := m.engines[ticket]
	m.mu.Unlock()
	if e == nil {
		return api.LaunchResponse{}, false
	}
	return m.response(e), true
}
