package engineconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// ExitFile is the file in the work directory where an EngineConn records
// how it ended: a line "ok", or "failed REASON".
const (
	ExitFile   = "engineconn.exit"
	ExitOK     = "ok"
	ExitFailed = "failed"
)

// ErrOnceFailed is returned by Run when a once engine's job did not
// succeed.
var ErrOnceFailed = errors.New("engineconn: the once job failed")

// EngineConn is one engine process's runtime: its session, executor, task
// service and reports to the manager. Create it with New and call Run once.
type EngineConn struct {
	cfg     Config
	eng     Engine
	mgr     Manager
	log     *slog.Logger
	now     func() time.Time
	locks   *locks
	session Session

	taskCtx    context.Context // parent of every task; cancelled at shutdown
	taskCancel context.CancelFunc
	wg         sync.WaitGroup // running tasks
	changed    chan struct{}  // status changed: heartbeat now
	exitCh     chan exitReq   // a reason to exit
	exitOnce   sync.Once
	addr       string

	mu         sync.Mutex
	tasks      map[string]*Task
	ended      []string // ids of ended tasks, oldest first
	seq        int
	served     int
	running    int
	succeeded  int64
	failed     int64
	started    bool
	closing    bool
	status     linkis.NodeStatus
	lastActive time.Time
	onceTask   *Task
	keys       map[string]keyed    // task keys: the task submitted with each (see Submit)
	gone       map[string]goneTask // forgotten keyed tasks, by id
	goneQ      []string            // their ids, oldest first; at most cfg.KeepKeys

	saved logSegments // ended tasks' logs
}

// New checks cfg and finds the engine of its type in reg; mgr is the
// manager API (an *api.Client in production). log may be nil.
func New(cfg Config, reg *Registry, mgr Manager, log *slog.Logger) (*EngineConn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	eng, err := reg.Lookup(cfg.EngineType.Type)
	if err != nil {
		return nil, err
	}
	if mgr == nil {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "manager", "an EngineConn needs the manager API")
	}
	if log == nil {
		log = slog.Default()
	}
	for _, d := range []string{cfg.WorkDir, cfg.LogDir, cfg.ResultDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("engineconn: %w", err)
		}
	}
	e := &EngineConn{
		cfg: cfg, eng: eng, mgr: mgr, log: log.With("ec", cfg.Ticket, "engine", cfg.EngineType.String()),
		now: time.Now, tasks: map[string]*Task{}, keys: map[string]keyed{}, gone: map[string]goneTask{}, changed: make(chan struct{}, 1), exitCh: make(chan exitReq, 1),
		status: linkis.StatusStarting, saved: logSegments{dir: cfg.LogDir},
	}
	e.locks = &locks{ec: cfg.Ticket, serial: cfg.Concurrency == 1, mgr: mgr, now: e.now, ttl: cfg.GrantTTL, grants: map[string]grant{}}
	e.lastActive = e.now()
	return e, nil
}

// Addr returns the task API's address once Run listens ("" before).
func (e *EngineConn) Addr() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.addr
}

type exitReq struct {
	reason string
	linger bool
}

// exit asks Run to shut down (the first reason wins); linger keeps the
// task API answering for ExitLinger first.
func (e *EngineConn) exit(reason string, linger bool) {
	e.exitOnce.Do(func() { e.exitCh <- exitReq{reason, linger} })
}

// touch recomputes the status after a change outside e.mu.
func (e *EngineConn) touch() {
	e.mu.Lock()
	e.lastActive = e.now()
	e.refreshLocked()
	e.mu.Unlock()
}

// refreshLocked recomputes the node status and wakes the heartbeat loop
// when it changed.
func (e *EngineConn) refreshLocked() {
	var s linkis.NodeStatus
	switch {
	case e.closing:
		s = linkis.StatusShuttingDown
	case !e.started:
		s = linkis.StatusStarting
	case e.cfg.Mode == linkis.ModeOnce && e.running > 0:
		s = linkis.StatusBusy
	case e.cfg.Mode == linkis.ModeOnce:
		s = linkis.StatusRunning
	case e.running >= e.cfg.Concurrency:
		s = linkis.StatusBusy
	case e.cfg.Concurrency == 1 && e.locks.count() > 0:
		s = linkis.StatusIdle // locked for a caller, not running
	default:
		s = linkis.StatusUnlock
	}
	if s != e.status {
		e.status = s
		select {
		case e.changed <- struct{}{}:
		default:
		}
	}
}

// Info returns the engine's view of itself.
func (e *EngineConn) Info() api.EngineInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return api.EngineInfo{EC: e.cfg.Ticket, EngineType: e.cfg.EngineType.String(), Status: e.status.String(),
		Mode: e.cfg.Mode.String(), Capacity: e.cfg.Concurrency, Running: e.running,
		Succeeded: e.succeeded, Failed: e.failed, Locks: e.locks.count()}
}

// Lock verifies a grant with the manager and serves it from now on.
func (e *EngineConn) Lock(ctx context.Context, r api.LockRequest) (api.LockResponse, error) {
	if _, err := api.ParseToken(r.Token); err != nil {
		return api.LockResponse{}, err
	}
	if err := e.admissible(); err != nil && !errors.Is(err, linkis.ErrEngineBusy) {
		return api.LockResponse{}, err
	}
	if _, err := e.locks.check(ctx, r.AskID, r.Token); err != nil {
		return api.LockResponse{}, err
	}
	e.touch()
	g, _ := e.locks.get(r.AskID)
	out := api.LockResponse{EC: e.cfg.Ticket, AskID: r.AskID, Held: true}
	if !g.expires.IsZero() {
		out.Expires = g.expires.UnixNano()
	}
	return out, nil
}

// Unlock ends a grant on the engine's side and tells the manager.
func (e *EngineConn) Unlock(ctx context.Context, r api.LockRequest) (api.LockResponse, error) {
	if err := e.locks.drop(r.AskID, r.Token); err != nil {
		return api.LockResponse{}, err
	}
	e.touch()
	e.reportUnlock(ctx, r.Token)
	return api.LockResponse{EC: e.cfg.Ticket, AskID: r.AskID}, nil
}

// reportUnlock tells the manager a grant ended here; a manager that no
// longer knows it (expired, released) has nothing to undo.
func (e *EngineConn) reportUnlock(ctx context.Context, token string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := e.mgr.ECUnlock(ctx, api.ECUnlockRequest{EC: e.cfg.Ticket, Token: token})
	if err != nil && !errors.Is(err, linkis.ErrLockMismatch) && !errors.Is(err, linkis.ErrUnknownNode) {
		e.log.Warn("unlock report failed", "err", err)
	}
}

// Run opens the engine session, serves the task API, reports the engine
// started and keeps reporting until the engine exits: when ctx is
// cancelled (SIGTERM), after MaxFreeTime without work, after MaxTasks
// tasks, when a once job ends, or when the manager no longer knows it. It
// returns nil on a clean exit.
func (e *EngineConn) Run(ctx context.Context) (err error) {
	defer func() {
		// The exit record outlives the process's output pipe: an ECM that
		// restarted (and so lost the pipe and the exit status) reads it.
		rec := ExitOK + "\n"
		if err != nil {
			rec = ExitFailed + " " + err.Error() + "\n"
		}
		if werr := writeFileAtomic(filepath.Join(e.cfg.WorkDir, ExitFile), []byte(rec)); werr != nil {
			e.log.Warn("writing the exit record", "err", werr)
		}
	}()
	if f := e.cfg.AddrReport; f != nil {
		defer f.Close()
	}
	cctx := &Context{Ticket: e.cfg.Ticket, EngineType: e.cfg.EngineType, User: e.cfg.User, Labels: e.cfg.Labels,
		Params: e.cfg.Params, WorkDir: e.cfg.WorkDir, LogDir: e.cfg.LogDir, ResultDir: e.cfg.ResultDir}
	sess, err := e.eng.Open(ctx, cctx)
	if err != nil {
		return fmt.Errorf("open the %s session: %w", e.cfg.EngineType, err)
	}
	e.session = sess
	defer func() {
		if err := sess.Close(); err != nil {
			e.log.Warn("closing the session", "err", err)
		}
	}()
	e.taskCtx, e.taskCancel = context.WithCancel(context.Background())
	defer e.taskCancel()

	ln, err := net.Listen("tcp", net.JoinHostPort(e.cfg.Host, "0"))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelWarn)}
	var serveWG sync.WaitGroup
	serveWG.Add(1)
	go func() {
		defer serveWG.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("task API stopped", "err", err)
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		serveWG.Wait()
	}()
	addr := ln.Addr().String()
	e.mu.Lock()
	e.addr = addr
	e.mu.Unlock()
	if err := e.reportAddr(addr); err != nil {
		return err
	}
	// Serving starts before the manager hears of it: the first caller may
	// come as soon as the manager grants the engine, before the report
	// returns here. (No caller holds a grant the manager has not made.)
	e.mu.Lock()
	e.started = true
	e.lastActive = e.now()
	e.refreshLocked()
	e.mu.Unlock()
	if err := e.reportStarted(ctx, addr); err != nil {
		if ctx.Err() != nil {
			e.log.Info("terminated while starting")
			return nil
		}
		return err
	}
	e.log.Info("engine started", "addr", addr, "mode", e.cfg.Mode, "concurrency", e.cfg.Concurrency)

	hbCtx, hbStop := context.WithCancel(context.Background())
	var hbWG sync.WaitGroup
	hbWG.Add(1)
	go func() {
		defer hbWG.Done()
		e.heartbeats(hbCtx)
	}()

	if e.cfg.Mode == linkis.ModeOnce {
		e.startOnce()
	}
	reason, linger := e.housekeeping(ctx)
	e.log.Info("engine exiting", "reason", reason)

	// Shut down: refuse new work, say so, stop running tasks, report the end.
	e.mu.Lock()
	e.closing = true
	e.refreshLocked()
	e.mu.Unlock()
	hbStop()
	hbWG.Wait()
	// Tasks are cancelled first: the ECM kills the engine's process group
	// a few seconds after SIGTERM, and a slow manager must not eat that
	// time. The report goes meanwhile, with a short deadline of its own.
	e.taskCancel()
	var sdWG sync.WaitGroup
	if e.cfg.Mode != linkis.ModeOnce {
		// (A once engine reports its outcome instead: ShuttingDown would
		// fail the ask its job belongs to.)
		sdWG.Add(1)
		go func() {
			defer sdWG.Done()
			sctx, cancel := context.WithTimeout(context.Background(), shutdownReportTimeout)
			defer cancel()
			e.heartbeat(sctx, linkis.StatusShuttingDown)
		}()
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(e.cfg.KillGrace + 2*time.Second):
		e.log.Warn("tasks did not stop within the kill grace")
		<-done // sessions must return once cancelled; Close would race otherwise
	}
	sdWG.Wait()
	e.mu.Lock()
	kept := make([]*Task, 0, len(e.tasks))
	for _, t := range e.tasks {
		kept = append(kept, t)
	}
	e.mu.Unlock()
	for _, t := range kept {
		e.saveLog(t)
	}
	e.saved.close()
	var result error
	if e.cfg.Mode == linkis.ModeOnce {
		st := e.onceTask.status()
		final := linkis.StatusSuccess
		if st.State != api.TaskSuccess {
			final = linkis.StatusFailed
			result = fmt.Errorf("%w: %s %s", ErrOnceFailed, st.State, st.Error)
		}
		e.heartbeat(context.Background(), final)
	}
	if linger {
		// The last task's caller may still come for its status and log.
		select {
		case <-ctx.Done():
		case <-time.After(e.cfg.ExitLinger):
		}
	}
	return result
}

// addrAckTimeout bounds the wait for the ECM to record the address.
const addrAckTimeout = time.Minute

// reportAddr tells the ECM that started the engine where its task API
// listens, on the socket it inherited (Config.AddrReport), and waits for
// the ECM to say it recorded it. The socket is the only channel: a file
// in the work directory could be written first by any process of the
// engine's user, and the ECM would send the cluster token to that
// address. The engine reports to the manager only once its ECM knows the
// address, so whatever the manager hands out, a restarted ECM finds in
// its own record. An ECM that is gone (it closed its end) or does not
// answer fails the start: no ECM could tell where this engine serves.
func (e *EngineConn) reportAddr(addr string) error {
	f := e.cfg.AddrReport
	if f == nil {
		return nil // run by hand
	}
	defer f.Close()
	if _, err := f.Write([]byte(addr + "\n")); err != nil {
		return fmt.Errorf("reporting the address to the ECM: %w", err)
	}
	if err := f.SetReadDeadline(time.Now().Add(addrAckTimeout)); err != nil {
		return fmt.Errorf("reporting the address to the ECM: %w", err)
	}
	var ack [len(AddrAck)]byte
	if _, err := io.ReadFull(f, ack[:]); err != nil || string(ack[:]) != AddrAck {
		return fmt.Errorf("the ECM did not acknowledge the address (gone, or restarted while the engine started): %v", err)
	}
	return nil
}

// AddrAck is what an ECM answers on the address socket once it recorded
// the address.
const AddrAck = "ok\n"

// reportStarted tells the manager the engine serves at addr, retrying
// while the manager cannot be reached.
func (e *EngineConn) reportStarted(ctx context.Context, addr string) error {
	backoff := 50 * time.Millisecond
	deadline := e.now().Add(time.Minute)
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := e.mgr.ECStarted(cctx, api.ECStartedRequest{EC: e.cfg.Ticket, Addr: addr})
		cancel()
		if err == nil {
			return nil
		}
		if !linkis.IsRetryable(err) || e.now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("report started: %w", err)
		}
		e.log.Warn("report started failed; retrying", "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return fmt.Errorf("report started: %w", ctx.Err())
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// heartbeats sends a heartbeat on every status change and periodically,
// until ctx is done. It is the only sender while the engine runs, so
// reports arrive in order.
// busyReportDelay is how long a serial engine holding a grant waits
// before it reports going Busy or back to Idle: the manager already knows
// the engine is held (it granted it), so these two only inform, and a
// stream of short tasks would otherwise cost two reports per task. A task
// that runs longer is reported Busy after this delay.
const busyReportDelay = 250 * time.Millisecond

// quietChange reports whether a status change need not be reported at
// once (see busyReportDelay).
func (e *EngineConn) quietChange(from, to linkis.NodeStatus) bool {
	held := func(s linkis.NodeStatus) bool { return s == linkis.StatusIdle || s == linkis.StatusBusy }
	return e.cfg.Mode == linkis.ModeComputation && e.cfg.Concurrency == 1 && held(from) && held(to)
}

func (e *EngineConn) heartbeats(ctx context.Context) {
	tick := time.NewTicker(e.cfg.HeartbeatInterval)
	defer tick.Stop()
	delay := time.NewTimer(time.Hour)
	delay.Stop()
	pending := false // delay runs
	var reported linkis.NodeStatus
	for first := true; ; first = false {
		periodic, due := first, false
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-e.changed:
			case <-delay.C:
				pending, due = false, true
			case <-tick.C:
				periodic = true
			}
		}
		e.mu.Lock()
		s := e.status
		e.mu.Unlock()
		if s == linkis.StatusShuttingDown {
			return
		}
		if !periodic {
			if s == reported {
				continue // it changed and changed back before it was reported
			}
			if !due && e.quietChange(reported, s) {
				if !pending {
					delay.Reset(busyReportDelay) // report it if it lasts
					pending = true
				}
				continue
			}
		}
		e.heartbeat(ctx, s)
		reported = s
	}
}

// heartbeat sends one report. A manager that no longer knows the engine
// has settled it already: the engine exits.
func (e *EngineConn) heartbeat(ctx context.Context, s linkis.NodeStatus) {
	e.mu.Lock()
	load := api.Load{RunningTasks: int64(e.running), SucceededTasks: e.succeeded, FailedTasks: e.failed}
	e.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := e.mgr.ECHeartbeat(cctx, api.ECHeartbeatRequest{EC: e.cfg.Ticket, Status: s.String(), Load: load})
	switch {
	case err == nil:
	case errors.Is(err, linkis.ErrUnknownNode):
		if s != linkis.StatusShuttingDown && !s.IsFinal() {
			e.log.Warn("the manager no longer knows this engine; exiting")
			e.exit("the manager no longer knows this engine", false)
		}
	case ctx.Err() != nil:
	default:
		e.log.Warn("heartbeat failed", "status", s, "err", err)
	}
}

// shutdownReportTimeout bounds the ShuttingDown report, well inside the
// ECM's grace between SIGTERM and SIGKILL.
const shutdownReportTimeout = 2 * time.Second

// housekeeping waits for a reason to exit, meanwhile ending grants whose
// lock expired and watching the idle time. linger says the engine ended by
// itself after work whose results may still be fetched.
func (e *EngineConn) housekeeping(ctx context.Context) (reason string, linger bool) {
	tick := time.NewTicker(min(e.cfg.LockRecheck, e.cfg.MaxFreeTime/4+time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return "terminated (SIGTERM)", false
		case r := <-e.exitCh:
			return r.reason, r.linger
		case <-tick.C:
		}
		now := e.now()
		for _, g := range e.locks.expired(now) {
			if e.locks.refresh(ctx, g) {
				e.log.Info("lock ended", "ask", g.askID)
				e.touch()
				e.reportUnlock(ctx, g.token)
			}
		}
		e.mu.Lock()
		idle := e.running == 0 && now.Sub(e.lastActive) >= e.cfg.MaxFreeTime && e.cfg.Mode == linkis.ModeComputation
		e.mu.Unlock()
		if !idle {
			continue
		}
		// Unused for its max free time. Grants the callers released
		// through the manager are dropped; a grant the manager still
		// holds keeps the engine for another period.
		for _, g := range e.locks.all() {
			if e.locks.refresh(ctx, g) {
				e.log.Info("lock ended", "ask", g.askID)
			}
		}
		if e.locks.count() == 0 {
			return fmt.Sprintf("idle for %v", e.cfg.MaxFreeTime), false
		}
		e.touch()
	}
}

// startOnce runs a once engine's job.
func (e *EngineConn) startOnce() {
	e.mu.Lock()
	e.seq++
	t := newTask("t-"+fmt.Sprint(e.seq), api.TaskRequest{Code: e.cfg.OnceCode, AskID: "once"}, e.cfg.ResultDir,
		e.cfg.TaskLogCap, e.cfg.MaxResultBytes, e.now())
	ctx, cancel := context.WithCancel(e.taskCtx)
	t.cancel = cancel
	e.tasks[t.ID] = t
	e.onceTask = t
	e.running++
	e.served++
	e.refreshLocked()
	e.wg.Add(1)
	e.mu.Unlock()
	go e.run(ctx, t)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		<-t.done
		e.exit("the once job ended: "+t.status().State, true)
	}()
}

// writeFileAtomic writes a file through a temporary name, so a reader
// never sees half of it.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return fmt.Errorf("engineconn: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("engineconn: %w", err)
	}
	return nil
}
