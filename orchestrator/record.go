package orchestrator

import (
	"context"
	"time"
)

// Job is a job's history record: what was asked, by whom, where it stands
// and what it produced. The entrance persists it before a job's id is
// returned and after every state change.
type Job struct {
	TaskID     int64      `json:"taskID"`
	ExecID     string     `json:"execID"`
	User       string     `json:"user"`       // whom it runs as, its owner (Request.SubmitUser: who submitted it, if another)
	Creator    string     `json:"creator"`    // from userCreator
	EngineType string     `json:"engineType"` // the engineType label, "type-version"
	Request    JobRequest `json:"request"`    // as accepted (code before substitution)

	State        State   `json:"state"`
	Progress     float64 `json:"progress"` // 0..1
	ProgressInfo string  `json:"progressInfo,omitempty"`
	Attempts     int     `json:"attempts,omitempty"` // engine attempts started
	EC           string  `json:"ec,omitempty"`       // the engine whose answer counted (or the last tried)
	// Reason says why a job did not succeed (and, for a job settled at a
	// restart, what happened to it).
	Reason string `json:"reason,omitempty"`
	// Results are the job's result-set files, in order, as paths the
	// result reader (openFile) accepts for this user.
	Results []string `json:"results,omitempty"`

	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Started time.Time `json:"started,omitzero"` // first left the queue
	Ended   time.Time `json:"ended,omitzero"`
	// Position is the job's place in its group's queue (1: next); 0 when
	// it is not queued.
	Position int `json:"position,omitempty"`
}

// Group is the consumer group of a job: Creator_User_EngineType, as Linkis
// names it.
func (j *Job) Group() string { return GroupName(j.Creator, j.User, j.EngineType) }

// GroupName joins a consumer group's name.
func GroupName(creator, user, engineType string) string {
	return creator + "_" + user + "_" + engineType
}

// LogPage is a page of a job's log: Lines are lines From, From+1, ...;
// Next is where the following page starts; Complete means the job has
// ended and Next is past its last line.
type LogPage struct {
	From     int      `json:"from"`
	Lines    []string `json:"lines"`
	Next     int      `json:"next"`
	Complete bool     `json:"complete"`
}

// ListQuery selects a user's jobs for the history list, newest first.
type ListQuery struct {
	State      State     // 0: any
	States     []State   // any of these, besides State; empty: no further bound
	TaskID     int64     // 0: any
	Creator    string    // "": any
	EngineType string    // "": any (the type part or the whole label)
	Since      time.Time // created at or after; zero: no bound
	Until      time.Time // created before; zero: no bound
	Page       int       // from 1
	PageSize   int       // default 20, at most 500
}

type staleKey struct{}

// AllowStale marks ctx so that the reads made with it may be served from
// the answering member's state without checking it is current: faster,
// and possibly behind the leader by the last few commands.
func AllowStale(ctx context.Context) context.Context {
	return context.WithValue(ctx, staleKey{}, true)
}

// StaleAllowed reports whether ctx allows stale reads (AllowStale).
func StaleAllowed(ctx context.Context) bool {
	v, _ := ctx.Value(staleKey{}).(bool)
	return v
}
