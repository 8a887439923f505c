package orchestrator

import (
	"context"
	"errors"
	"time"
)

// Spec is one job as the entrance hands it to the orchestrator: the
// request as it was accepted, who submitted it and when (the date
// variables are computed from Submitted, so a re-run after a restart
// substitutes the same dates).
type Spec struct {
	TaskID    int64
	ExecID    string
	User      string // the authenticated submitter; userCreator names the same user
	Request   JobRequest
	Submitted time.Time
	// Globals are the user's global variables (Linkis's
	// saveGlobalVariable) as they were at submission; the request's own
	// variables win over them.
	Globals Values
	// Resume, when set, takes the job up where an earlier run of it
	// stopped (another leader's, before it died): the retry round it was
	// in and the tasks it had running, which are followed rather than
	// submitted again.
	Resume *Resume
	// HoldEngines keeps the grant of a task that ended on its own instead
	// of releasing it: Outcome.Held lists them, for the caller to release
	// once the job's end is recorded (in the same command). Until then an
	// earlier run's successor asking under the same id gets the same
	// engine, which answers the attempt's key with the task it ran: a job
	// whose leader died after its task ended is not run again.
	HoldEngines bool
}

// Resume is where an earlier run of a job stood.
type Resume struct {
	Round    int    // the retry round to run (0 or 1: the first)
	Attempts int    // engine attempts started so far
	Tasks    []Task // tasks that were running
}

// Task is a task of a job on an engine, as the job's record keeps it.
type Task struct {
	// Key names the attempt (the exec leaf's ask id); the engine answers
	// a resubmission with the same key with the task it already has.
	Key   string
	AskID string // the grant it runs under
	EC    string
	ECM   string
	Addr  string
	ID    string // the engine's task id
}

// ErrDetached is the cause with which a run is cancelled when whoever
// drives it stops without ending the job (its leader lost leadership, the
// process is shutting down): the run returns at once and leaves its tasks
// running and its engines held, for the next run to take up (Resume).
var ErrDetached = errors.New("the run was detached: its job goes on under the next leader")

// Listener receives what happens to a job while the orchestrator runs it.
// Calls come from the goroutine running the job (and, under multi-active,
// from one goroutine per branch), so implementations must be safe for
// concurrent use and must not block for long.
type Listener interface {
	// Scheduled: an engine is being asked for (attempt counts from 1).
	Scheduled(attempt int)
	// Running: a task of the job was submitted to an engine (or, resuming,
	// found running there).
	Running(t Task)
	// Progress: 0..1, with the engine's words for it.
	Progress(progress float64, info string)
	// Log: the orchestrator's own lines of the job's log, prefixed as
	// Linkis does ("... INFO ...").
	Log(lines []string)
	// Output: lines of the log of task key, as its engine wrote them. The
	// whole log stays with the engine's ECM; these are for a live view.
	Output(key string, lines []string)
	// TaskEnded: task key ended with its log lines lines long.
	TaskEnded(key string, lines int)
	// Retrying: the attempt failed retryably; the next attempt runs in
	// retry round round, after wait (the entrance shows WaitForRetry
	// meanwhile).
	Retrying(attempt, round int, wait time.Duration, reason error)
}

// Outcome is how a job's run ended.
type Outcome struct {
	State   State    // Succeed, Failed, Cancelled or Timeout
	Err     error    // why it did not succeed (nil on Succeed)
	Results []string // result-set file paths, in order, on Succeed
	EC      string   // the engine whose answer counted
	// Held are the asks whose engines the run kept (Spec.HoldEngines):
	// the caller releases them.
	Held []string
}

// Runner runs jobs: the Orchestrator, or a test's stand-in. Check is the
// part of the pipeline that needs no engine (converter, parser, validator):
// the entrance calls it before accepting a job, so a request Run would
// refuse is never accepted. Run returns when the job has ended or ctx is
// done (then with State Cancelled, after cancelling its tasks and
// releasing its engines).
type Runner interface {
	Check(spec Spec) error
	Run(ctx context.Context, spec Spec, l Listener) Outcome
}
