package orchestrator

import (
	"context"
	"errors"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// result is how a node of the physical tree ended.
type result struct {
	results   []string // result-set paths, on success
	ec        string   // the engine that answered (or the last tried)
	err       error    // nil on success
	retryable bool     // err may go away when tried again
	noRoute   bool     // the ask failed because the route has no engine (its ECM is gone)
	cancelled bool     // ctx was done: the node stopped without an answer
	detached  bool     // cancelled with ErrDetached: tasks left running, engines held
	// reusable: the task ended on its own (succeeded, or failed in the
	// user's code) and its engine is fit for the next task.
	reusable bool
	refused  bool // the engine refused the task: it never ran
	unsent   bool // the submission certainly never reached the engine (its host is gone)
	ran      bool // the task was running when it failed: its code may have run in part
}

func (r result) ok() bool { return r.err == nil && !r.cancelled }

// run is one execution of a physical tree.
type run struct {
	o        *Orchestrator
	spec     *Spec
	n        *notifier
	attempts atomic.Int32 // exec leaves started

	mu   sync.Mutex
	held []string // asks kept for the caller to release (Spec.HoldEngines)
}

// execute runs a physical tree: its stages in order, each to its end.
func (o *Orchestrator) execute(ctx context.Context, spec *Spec, root *JobNode, l Listener) Outcome {
	r := &run{o: o, spec: spec, n: &notifier{l: l}}
	if spec.Resume != nil {
		r.attempts.Store(int32(spec.Resume.Attempts))
	}
	out := r.execute(ctx, root)
	r.mu.Lock()
	out.Held = r.held
	r.mu.Unlock()
	return out
}

// execute runs the tree's stages.
func (r *run) execute(ctx context.Context, root *JobNode) Outcome {
	spec := r.spec
	var out Outcome
	for _, st := range root.Stages {
		res := r.node(ctx, st, 1)
		if res.ec != "" {
			out.EC = res.ec
		}
		switch {
		case res.ok():
			// An answer that arrived as the job was cancelled still counts.
		case res.detached || detached(ctx):
			return Outcome{State: Cancelled, Err: ErrDetached, EC: out.EC}
		case res.cancelled || ctx.Err() != nil:
			r.info("job " + spec.ExecID + " was cancelled")
			return Outcome{State: Cancelled, Err: cancelCause(ctx), EC: out.EC}
		default:
			r.info("job " + spec.ExecID + " failed: " + res.err.Error())
			return Outcome{State: Failed, Err: res.err, EC: out.EC}
		}
		out.Results = append(out.Results, res.results...)
	}
	out.State = Succeed
	return out
}

// detached reports whether ctx was cancelled with ErrDetached.
func detached(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrDetached)
}

func cancelCause(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return context.Canceled
}

// node runs one node of the tree; round is the retry round it runs in
// (part of every ask id below it).
func (r *run) node(ctx context.Context, n Node, round int) result {
	switch n := n.(type) {
	case *StageNode:
		return r.node(ctx, n.Child, round)
	case *RetryNode:
		return r.retry(ctx, n)
	case *FailoverNode:
		return r.failover(ctx, n, round)
	case *MultiActiveNode:
		return r.multiActive(ctx, n, round)
	case *ExecNode:
		return r.exec(ctx, n, round)
	}
	return result{err: linkis.Errorf(linkis.ErrInvalidArgument, "tree", "a physical tree holds an unknown node %T", n)}
}

// reheat is the reheater: after a node ended, it decides whether the tree
// goes on with it: another try of a retry node (after its wait), the next
// route of a failover node (failover also moves on when the route has no
// engine at all, e.g. it pins an ECM the manager no longer knows). It
// reports whether the node is tried again.
func reheat(res result, tried, limit int, failover bool) bool {
	return !res.ok() && !res.cancelled && (res.retryable || failover && res.noRoute) && tried <= limit
}

// retry runs its child; a retryable failure gets another round after the
// wait, up to Max more.
func (r *run) retry(ctx context.Context, n *RetryNode) result {
	first := 1
	if rs := r.spec.Resume; rs != nil && rs.Round > 1 {
		first = rs.Round
	}
	for round := first; ; round++ {
		res := r.node(ctx, n.Child, round)
		if res.ran && !n.Rerun && !res.ok() && !res.cancelled && res.retryable {
			res.err = wrapf(res.err, "not run again: its code may have run in part (a jobRetryCount label allows re-runs)")
			return res
		}
		if !reheat(res, round, n.Max, false) {
			if !res.ok() && !res.cancelled && res.retryable && round > 1 {
				res.err = wrapf(res.err, "after "+strconv.Itoa(round)+" attempts")
			}
			return res
		}
		r.info("attempt " + strconv.Itoa(round) + " failed (" + res.err.Error() + "); retrying in " + n.Wait.String())
		r.n.retrying(int(r.attempts.Load()), round+1, n.Wait, res.err)
		if !linkis.Sleep(ctx, n.Wait) {
			return result{cancelled: true, ec: res.ec}
		}
	}
}

// failover runs the primary route and, on a retryable failure, each backup
// in turn.
func (r *run) failover(ctx context.Context, n *FailoverNode, round int) result {
	var errs []error
	var res result
	for i, c := range n.Routes {
		res = r.node(ctx, c, round)
		if res.ok() || res.cancelled {
			return res
		}
		errs = append(errs, branchErr("route", c, res.err))
		if !reheat(res, i+1, len(n.Routes)-1, true) {
			break
		}
		next := c
		if i+1 < len(n.Routes) {
			next = n.Routes[i+1]
		}
		r.info("route " + routeOf(c) + " failed (" + res.err.Error() + "); failing over to " + routeOf(next))
		r.n.retrying(int(r.attempts.Load()), round, 0, res.err)
	}
	if len(errs) == 1 {
		return res
	}
	return result{ec: res.ec, err: joinErrs("every route failed", errs), retryable: res.retryable}
}

// multiActive runs every branch at once: the first success wins and the
// others are cancelled (each kills its task and releases its engine before
// this returns). It fails when every branch failed.
func (r *run) multiActive(ctx context.Context, n *MultiActiveNode, round int) result {
	type answer struct {
		i     int
		res   result
		panic any // what the branch panicked with
	}
	cancels := make([]context.CancelFunc, len(n.Branches))
	answers := make(chan answer, len(n.Branches))
	var wg sync.WaitGroup
	for i, c := range n.Branches {
		bctx, cancel := context.WithCancel(ctx)
		cancels[i] = cancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := answer{i: i}
			defer func() {
				// A panic here would end the process: it goes on from
				// the goroutine running the job instead.
				if a.panic = recover(); a.panic != nil {
					r.o.log.Error("a multi-active branch panicked", "exec", r.spec.ExecID, "panic", a.panic, "stack", string(debug.Stack()))
				}
				answers <- a
			}()
			a.res = r.node(bctx, c, round)
		}()
	}
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
		wg.Wait() // every loser has killed its task and released its engine
	}()
	errs := make([]error, len(n.Branches))
	var win *result
	retryable := true
	var last result
	var panicked any
	for range n.Branches {
		a := <-answers
		last = a.res
		switch {
		case a.panic != nil:
			if panicked == nil {
				panicked = a.panic
				for _, cancel := range cancels {
					cancel()
				}
			}
		case a.res.ok() && win == nil:
			res := a.res
			win = &res
			r.info("branch " + routeOf(n.Branches[a.i]) + " answered first on " + res.ec + "; cancelling the others")
			for j, cancel := range cancels {
				if j != a.i {
					cancel()
				}
			}
		case win == nil && !a.res.cancelled:
			errs[a.i] = branchErr("branch", n.Branches[a.i], a.res.err)
			retryable = retryable && a.res.retryable
		}
	}
	switch {
	case panicked != nil:
		panic(panicked)
	case win != nil:
		return *win
	case ctx.Err() != nil:
		return result{cancelled: true, ec: last.ec}
	}
	var failed []error
	for _, e := range errs {
		if e != nil {
			failed = append(failed, e)
		}
	}
	return result{ec: last.ec, err: joinErrs("every branch failed", failed), retryable: retryable}
}

// askID names the ask of an exec leaf in a round: a retry, a backup route
// or another branch never reuses an ask id, and a re-run of the same job
// (after a restart) asks with the same ids, so the manager hands back
// what the first run still held - or what the state asked for the job's
// first attempt as it dispatched it (manager.SubmitJob.Ask).
func askID(execID string, round, branch int) string {
	return manager.JobAskID(execID, round, branch)
}

// askRequest is the ask of leaf n under id.
func (o *Orchestrator) askRequest(id string, n *ExecNode) api.AskRequest {
	return api.AskRequest{ID: id, Labels: n.Labels, Params: n.Unit.Startup,
		LockTimeoutMs: o.cfg.LockTimeout.Milliseconds(), WaitTimeoutMs: o.cfg.AskWaitTimeout.Milliseconds()}
}

// exec is the leaf: ask for an engine, run the unit on it, release it -
// on every path out.
func (r *run) exec(ctx context.Context, n *ExecNode, round int) result {
	cfg := &r.o.cfg
	id := askID(r.spec.ExecID, round, n.Branch)
	if t, ok := r.resumed(id); ok {
		return r.attach(ctx, t)
	}
	attempt := int(r.attempts.Add(1))
	r.n.scheduled(attempt)
	r.info("asking for an engine " + n.Labels[linkis.LabelEngineType] + routeSuffix(n) + " (attempt " + strconv.Itoa(attempt) + ")")
	reasks := 0
	for {
		g, err := r.o.asker.Ask(ctx, r.o.askRequest(id, n))
		if err != nil {
			if detached(ctx) {
				return result{cancelled: true, detached: true} // the next run asks again with the same id
			}
			r.release(ctx, id) // withdraws an ask still waiting
			if ctx.Err() != nil {
				return result{cancelled: true}
			}
			return result{err: wrapf(err, "no engine"+routeSuffix(n)), retryable: linkis.IsRetryable(err),
				noRoute: errors.Is(err, linkis.ErrUnknownNode) || errors.Is(err, linkis.ErrNoNodeAvailable)}
		}
		if detached(ctx) {
			return result{cancelled: true, detached: true, ec: g.EC}
		}
		if ctx.Err() != nil {
			// Cancelled as the grant arrived: the job's code must not run;
			// the engine never ran it, so it is fit for the next task.
			r.giveBack(ctx, g, true)
			return result{cancelled: true, ec: g.EC}
		}
		res := r.use(ctx, n, g, id)
		if res.unsent && reasks < maxReasks && ctx.Err() == nil {
			// The engine cannot be reached (its host died): the submission
			// never got there and the task never ran, so asking for
			// another engine is safe whatever the job's retry labels say. The manager is told, so that it hands
			// the engine out no more, and the next ask has an id of its own
			// (the released one is done).
			reasks++
			if rep, ok := r.o.asker.(EngineReporter); ok {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.CallTimeout)
				if err := rep.Unreachable(rctx, g.EC, "unreachable: "+clip(res.err.Error())); err != nil && !errors.Is(err, linkis.ErrUnknownNode) {
					r.o.log.Warn("reporting an unreachable engine", "exec", r.spec.ExecID, "ec", g.EC, "err", err)
				}
				cancel()
			}
			r.info("engine " + g.EC + " cannot be reached (" + res.err.Error() + "); the task never ran there: asking for another")
			id = askID(r.spec.ExecID, round, n.Branch) + "r" + strconv.Itoa(reasks)
			continue
		}
		return res
	}
}

// use runs the leaf's unit (attempt key) on granted engine g and gives g
// back on every path out: kept or released as the task ended, released
// when runOn panics (the panic goes on to Run's caller) - unless the run
// was detached, which leaves the task running and the engine held.
func (r *run) use(ctx context.Context, n *ExecNode, g api.AskResult, key string) result {
	given := false
	defer func() {
		if !given {
			r.release(ctx, g.AskID)
		}
	}()
	res := r.runOn(ctx, n, &g, key)
	given = true
	if !res.detached {
		r.giveBack(ctx, g, res.reusable)
	}
	return res
}

// runOn runs the leaf's unit on granted engine g. The submission carries the
// attempt's key: an engine that already has a task of that key (an
// earlier run submitted it and died before recording it) answers with it
// instead of running the code again.
func (r *run) runOn(ctx context.Context, n *ExecNode, g *api.AskResult, key string) result {
	cfg := &r.o.cfg
	params, err := r.o.taskParams(r.spec.User, n)
	if err != nil {
		// The engine is fit for the next task: this one never reached it.
		return result{ec: g.EC, err: err, reusable: true}
	}
	tc := r.o.tasks(g.Addr)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.SubmitWait+cfg.CallTimeout)
	sub, err := tc.Submit(sctx, api.TaskRequest{AskID: g.AskID, Token: g.Token, Key: key, Code: n.Unit.Code, RunType: n.Unit.RunType, Params: params,
		Scrub: r.o.taskScrub(r.spec, params)}, cfg.SubmitWait)
	cancel()
	if err != nil {
		gone := engineGone(err)
		retry := gone || linkis.IsRetryable(err) || errors.Is(err, linkis.ErrLockMismatch)
		return result{ec: g.EC, err: engineErr(g.EC, "refused the task", err, retry, gone), retryable: retry, refused: true, unsent: neverSent(err)}
	}
	r.info("running on engine " + g.EC + " at " + g.Addr + " as task " + sub.ID)
	r.n.running(Task{Key: key, AskID: g.AskID, EC: g.EC, ECM: g.ECM, Addr: g.Addr, ID: sub.ID})
	return r.follow(ctx, tc, g, sub, key)
}

// resumed finds the task an earlier run of the job had running for the
// attempt key - under the key itself or, when that run asked past an
// unreachable engine, under the re-ask's (key "r" n).
func (r *run) resumed(key string) (Task, bool) {
	if r.spec.Resume == nil {
		return Task{}, false
	}
	for _, t := range r.spec.Resume.Tasks {
		if t.ID == "" {
			continue
		}
		if n, ok := strings.CutPrefix(t.Key, key); ok && (n == "" || reaskSuffix(n)) {
			return t, true
		}
	}
	return Task{}, false
}

// reaskSuffix reports whether s is what a re-ask adds to its attempt's
// key: "r" and its number.
func reaskSuffix(s string) bool {
	n, ok := strings.CutPrefix(s, "r")
	if !ok || n == "" {
		return false
	}
	_, err := strconv.Atoi(n)
	return err == nil
}

// attach follows a task an earlier run of the job left running (its
// leader died): the task is not submitted again. An engine that is gone
// fails the attempt retryably, so the job's retry labels decide whether
// it runs again.
func (r *run) attach(ctx context.Context, t Task) result {
	tc := r.o.tasks(t.Addr)
	g := api.AskResult{AskID: t.AskID, EC: t.EC, ECM: t.ECM, Addr: t.Addr}
	st, err := tc.Status(ctx, t.ID, 0, -1)
	if err != nil {
		if detached(ctx) {
			return result{cancelled: true, detached: true, ec: t.EC}
		}
		gone := engineGone(err) || errors.Is(err, linkis.ErrUnknownJob)
		if !gone {
			// The engine still answers: the task may still run on it, and
			// its engine is about to be released (as follow does).
			r.kill(ctx, tc, t.ID, t.Key, 0)
		}
		r.release(ctx, t.AskID)
		return result{ec: t.EC, err: engineErr(t.EC, "lost task "+t.ID+" while the job changed leader", err, gone, gone), retryable: gone, ran: true}
	}
	r.info("re-attached to task " + t.ID + " on engine " + t.EC + " at " + t.Addr)
	r.n.running(t)
	if lr, ok := r.o.asker.(LockRenewer); ok { // the lock's expiry is not in the record
		rctx, cancel := context.WithTimeout(ctx, r.o.cfg.CallTimeout)
		if res, err := lr.Renew(rctx, t.AskID); err == nil {
			g.Expires = res.Expires
		}
		cancel()
	}
	res := r.follow(ctx, tc, &g, api.TaskSubmitted{ID: t.ID, State: st.State, Status: &st}, t.Key)
	if !res.detached {
		r.giveBack(ctx, g, res.reusable)
	}
	return res
}

// follow passes a submitted task's progress and log lines on until it
// ends, killing it when ctx is done (but for ErrDetached, which leaves it
// running).
func (r *run) follow(ctx context.Context, tc TaskClient, g *api.AskResult, sub api.TaskSubmitted, key string) result {
	ec := g.EC
	renewAt := renewTime(time.Now(), g.Expires)
	st := api.TaskStatus{ID: sub.ID, State: sub.State}
	if sub.Status != nil {
		st = *sub.Status
	}
	logNext, progress := 0, 0.0
	var lastCall time.Time
	inline := sub.Log // the first page, when the task ended within the submission's wait
	for {
		if st.Progress > progress {
			progress = st.Progress
			r.n.l.Progress(progress, st.State)
		}
		ended := api.TaskEnded(st.State)
		if inline != nil {
			if inline.From == 0 {
				if len(inline.Lines) > 0 {
					r.n.l.Output(key, inline.Lines)
				}
				logNext = max(inline.Next, 0)
			}
			inline = nil
		}
		if st.LogLines > logNext {
			logNext = r.logs(ctx, tc, sub.ID, key, logNext, st.LogLines)
		}
		if ended {
			r.n.l.TaskEnded(key, max(logNext, st.LogLines))
			break
		}
		if detached(ctx) {
			return result{cancelled: true, detached: true, ec: ec}
		}
		if ctx.Err() != nil {
			r.kill(ctx, tc, sub.ID, key, logNext)
			return result{cancelled: true, ec: ec}
		}
		if now := time.Now(); !renewAt.IsZero() && now.After(renewAt) {
			renewAt = r.renew(ctx, g, now)
		}
		// The status call returns as soon as the log has a line we have
		// not read; a task that prints all the time is read in batches
		// at most every minLogInterval rather than in a tight loop.
		if wait := time.Until(lastCall.Add(minLogInterval)); wait > 0 {
			select {
			case <-ctx.Done():
				continue
			case <-time.After(wait):
			}
		}
		lastCall = time.Now()
		next, err := tc.Status(ctx, sub.ID, r.o.cfg.PollWait, logNext)
		if err != nil {
			if detached(ctx) {
				return result{cancelled: true, detached: true, ec: ec}
			}
			if ctx.Err() != nil {
				r.kill(ctx, tc, sub.ID, key, logNext)
				return result{cancelled: true, ec: ec}
			}
			gone := engineGone(err)
			if gone {
				r.n.l.TaskEnded(key, logNext)
			} else {
				// The engine still answers: the task may still run on
				// it, and its engine is about to be released.
				r.kill(ctx, tc, sub.ID, key, logNext)
			}
			return result{ec: ec, err: engineErr(ec, "lost task "+sub.ID, err, gone, gone), retryable: gone, ran: true}
		}
		st = next
	}
	switch st.State {
	case api.TaskSuccess:
		return result{ec: ec, results: st.Results, reusable: true}
	case api.TaskCancel:
		// Not our kill: the engine ended the task (it is shutting down).
		return result{ec: ec, retryable: true, ran: true, err: &linkis.Error{Kind: linkis.ErrEngineFailed, Field: "engine", Value: ec,
			Reason: "the engine cancelled task " + st.ID + ": " + st.Error, Retry: ptr(true)}}
	default:
		return result{ec: ec, reusable: true, err: &linkis.Error{Kind: linkis.ErrEngineFailed, Field: "task", Value: st.ID,
			Reason: "the code failed on " + ec + ": " + clip(st.Error), Retry: ptr(false)}}
	}
}

// logs passes on a task's log lines from line from up to at least until,
// and returns where the next page starts.
func (r *run) logs(ctx context.Context, tc TaskClient, id, key string, from, until int) int {
	for from < until {
		page, err := tc.Log(ctx, id, from, r.o.cfg.LogPageSize)
		if err != nil {
			if ctx.Err() == nil {
				r.o.log.Warn("reading a task log", "exec", r.spec.ExecID, "task", id, "err", err)
			}
			return from
		}
		if len(page.Lines) > 0 {
			r.n.l.Output(key, page.Lines)
		}
		if page.Next <= from || page.Complete {
			return max(page.Next, from)
		}
		from = page.Next
	}
	return from
}

// renewTime is when a lock expiring at expires (Unix ns; 0: never) is
// renewed: half-way from now.
func renewTime(now time.Time, expires int64) time.Time {
	if expires <= 0 {
		return time.Time{}
	}
	return now.Add(time.Unix(0, expires).Sub(now) / 2)
}

// renew extends the lock of the grant a running task holds and returns
// when to renew it next (zero: not again). A failed renewal is logged; the
// task runs on.
func (r *run) renew(ctx context.Context, g *api.AskResult, now time.Time) time.Time {
	lr, ok := r.o.asker.(LockRenewer)
	if !ok {
		return time.Time{}
	}
	rctx, cancel := context.WithTimeout(ctx, r.o.cfg.CallTimeout)
	defer cancel()
	res, err := lr.Renew(rctx, g.AskID)
	if err != nil || res.Expires <= 0 {
		r.o.log.Warn("renewing an engine lock", "exec", r.spec.ExecID, "ask", g.AskID, "err", err)
		if rem := time.Unix(0, g.Expires).Sub(now); rem > 0 {
			return now.Add(min(5*time.Second, rem/2)) // try again while the lock lasts
		}
		return time.Time{}
	}
	g.Expires = res.Expires
	return renewTime(now, res.Expires)
}

// kill stops a task whose job was cancelled and gives it KillWait to end,
// so that its engine is free when it is released; then it passes on the
// log lines from line logNext the task printed before it ended, which
// would otherwise be lost with the engine's memory of the task.
func (r *run) kill(ctx context.Context, tc TaskClient, id, key string, logNext int) {
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.cfg.CallTimeout)
	defer cancel()
	st, err := tc.Kill(kctx, id)
	if err != nil {
		r.o.log.Warn("killing a task", "exec", r.spec.ExecID, "task", id, "err", err)
		r.n.l.TaskEnded(key, logNext)
		return
	}
	if !api.TaskEnded(st.State) && r.o.cfg.KillWait > 0 {
		st, _ = tc.Status(kctx, id, r.o.cfg.KillWait, -1)
	}
	if st.LogLines > logNext {
		logNext = r.logs(kctx, tc, id, key, logNext, st.LogLines)
	}
	r.n.l.TaskEnded(key, max(logNext, st.LogLines))
	r.info("task " + id + " was killed")
}

// maxReasks bounds how many unreachable engines one attempt asks past.
const maxReasks = 3

// minLogInterval is the shortest time between two status calls of a
// running task, each of which may bring new log lines: a line waits at
// most this long (plus a round trip) for the one before it.
const minLogInterval = 20 * time.Millisecond

// release gives back what an ask holds (or withdraws it while it waits),
// whatever happened to the job: the call outlives ctx.
func (r *run) release(ctx context.Context, id string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.cfg.CallTimeout)
	defer cancel()
	if err := r.o.asker.Release(rctx, id); err != nil && !errors.Is(err, linkis.ErrUnknownAsk) {
		r.o.log.Warn("releasing an engine", "exec", r.spec.ExecID, "ask", id, "err", err)
	}
}

// giveBack returns a granted engine: held for the caller when the task
// ended on its own and the spec says so (Spec.HoldEngines), released
// otherwise.
func (r *run) giveBack(ctx context.Context, g api.AskResult, reusable bool) {
	if r.spec.HoldEngines && reusable {
		r.mu.Lock()
		r.held = append(r.held, g.AskID)
		r.mu.Unlock()
		return
	}
	r.release(ctx, g.AskID)
}

// info passes one of the orchestrator's own lines to the job's log.
func (r *run) info(msg string) {
	r.n.l.Log([]string{time.Now().Format("2006-01-02 15:04:05.000") + " INFO " + msg})
}

// notifier passes the job's moves to its Listener in a legal order: one
// Scheduled per try (under multi-active, for the first branch to get
// there), Running for each task, Retrying between tries.
type notifier struct {
	l     Listener
	mu    sync.Mutex
	phase uint8 // 0 queued, 1 scheduled, 2 running
}

func (n *notifier) scheduled(attempt int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.phase == 0 {
		n.phase = 1
		n.l.Scheduled(attempt)
	}
}

// running passes every task on (each has its own part of the log and may
// have to be re-attached to or stopped); the first of a try moves the job
// to Running.
func (n *notifier) running(t Task) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.phase = 2
	n.l.Running(t)
}

func (n *notifier) retrying(attempt, round int, wait time.Duration, reason error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.phase = 0
	n.l.Retrying(attempt, round, wait, reason)
}

// engineErr is an engine's refusal or loss as a typed error: a kind the
// engine answered with is kept; a lost engine is ErrEngineFailed.
func engineErr(ec, what string, err error, retry, gone bool) error {
	if !gone {
		if le := (*linkis.Error)(nil); errors.As(err, &le) {
			cp := *le
			cp.Reason = "engine " + ec + " " + what + ": " + cp.Reason
			cp.Retry = ptr(retry)
			return &cp
		}
	}
	reason := "engine " + ec + " " + what + ": " + err.Error()
	if gone {
		reason = "engine " + ec + " died or became unreachable (" + what + "): " + err.Error()
	}
	return &linkis.Error{Kind: linkis.ErrEngineFailed, Field: "engine", Value: ec, Reason: reason, Retry: ptr(retry)}
}

// wrapf adds context to err, keeping it a *linkis.Error of the same kind.
func wrapf(err error, context string) error {
	if le := (*linkis.Error)(nil); errors.As(err, &le) {
		cp := *le
		cp.Reason = context + ": " + cp.Reason
		return &cp
	}
	return &linkis.Error{Kind: linkis.ErrUnavailable, Field: "engine", Reason: context + ": " + err.Error(), Retry: ptr(linkis.IsRetryable(err))}
}

// joinErrs is one error naming every branch's failure: of their kind
// when they share one, else ErrEngineFailed; retryable when all are.
func joinErrs(what string, errs []error) error {
	var kind error
	retry := true
	parts := make([]string, 0, len(errs))
	for _, err := range errs {
		parts = append(parts, err.Error())
		retry = retry && linkis.IsRetryable(err)
		var le *linkis.Error
		k := linkis.ErrEngineFailed
		if errors.As(err, &le) {
			k = le.Kind
		}
		switch {
		case kind == nil:
			kind = k
		case kind != k:
			kind = linkis.ErrEngineFailed
		}
	}
	if kind == nil {
		kind = linkis.ErrEngineFailed
	}
	return &linkis.Error{Kind: kind, Field: "strategy", Reason: what + ": " + strings.Join(parts, "; "), Retry: ptr(retry)}
}

// branchErr names the route or branch an error came from.
func branchErr(what string, n Node, err error) error {
	return wrapf(err, what+" "+routeOf(n))
}

// routeOf names a strategy child: its route, or its branch number.
func routeOf(n Node) string {
	if e, ok := n.(*ExecNode); ok {
		if e.Route != "" {
			return e.Route
		}
		return "#" + strconv.Itoa(e.Branch)
	}
	return n.Describe()
}

func routeSuffix(n *ExecNode) string {
	if n.Route == "" {
		return ""
	}
	return " on route " + n.Route
}

// clip bounds an engine's words for an error message.
func clip(s string) string {
	if len(s) > 2000 {
		s = s[:2000] + "..."
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// Stop kills tasks of a job that ended while they ran, when no run of the
// job is at hand (the leader that ran it died), and releases the engines
// they held; it returns the log length of each task it reached, by key.
// It implements entrance.TaskStopper.
func (o *Orchestrator) Stop(ctx context.Context, tasks []Task) map[string]int {
	lines := map[string]int{}
	for _, t := range tasks {
		tc := o.tasks(t.Addr)
		if st, err := tc.Kill(ctx, t.ID); err == nil {
			if !api.TaskEnded(st.State) && o.cfg.KillWait > 0 {
				if end, err := tc.Status(ctx, t.ID, o.cfg.KillWait, -1); err == nil {
					st = end
				}
			}
			lines[t.Key] = st.LogLines
		} else if !engineGone(err) {
			o.log.Warn("stopping a task of an ended job", "task", t.ID, "ec", t.EC, "err", err)
		}
		if err := o.asker.Release(ctx, t.AskID); err != nil && !errors.Is(err, linkis.ErrUnknownAsk) {
			o.log.Warn("releasing the engine of an ended job", "ask", t.AskID, "err", err)
		}
	}
	return lines
}
