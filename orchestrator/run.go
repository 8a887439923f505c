package orchestrator

import (
	"context"
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
}

// Listener receives what happens to a job while the orchestrator runs it.
// Calls come from the goroutine running the job (and, under multi-active,
// from one goroutine per branch), so implementations must be safe for
// concurrent use and must not block for long.
type Listener interface {
	// Scheduled: an engine is being asked for (attempt counts from 1).
	Scheduled(attempt int)
	// Running: a task of the job was submitted to engine ec.
	Running(ec string)
	// Progress: 0..1, with the engine's words for it.
	Progress(progress float64, info string)
	// Log: lines of the job's log, in order (engine output, and the
	// orchestrator's own lines prefixed as Linkis does: "INFO ...").
	Log(lines []string)
	// Retrying: the attempt failed retryably and the next starts after
	// wait (the entrance shows WaitForRetry meanwhile).
	Retrying(attempt int, wait time.Duration, reason error)
}

// Outcome is how a job's run ended.
type Outcome struct {
	State   State    // Succeed, Failed, Cancelled or Timeout
	Err     error    // why it did not succeed (nil on Succeed)
	Results []string // result-set file paths, in order, on Succeed
	EC      string   // the engine whose answer counted
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
