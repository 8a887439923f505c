package linkis

import "fmt"

// JobState is where a job stands, spelt as Linkis spells it. The zero value
// is not a state.
type JobState uint8

// The job states. Inited and WaitForRetry are queued; Scheduled means the
// job left its queue and is getting an engine; Running means a task of it
// runs on an engine. The last four are final.
const (
	JobInited JobState = iota + 1
	JobWaitForRetry
	JobScheduled
	JobRunning
	JobSucceed
	JobFailed
	JobCancelled
	JobTimeout
)

var jobStateNames = [...]string{"", "Inited", "WaitForRetry", "Scheduled", "Running", "Succeed", "Failed", "Cancelled", "Timeout"}

func (s JobState) String() string {
	if s.Valid() {
		return jobStateNames[s]
	}
	return fmt.Sprintf("State(%d)", s)
}

// Valid reports whether s is one of the defined states.
func (s JobState) Valid() bool { return s >= JobInited && s <= JobTimeout }

// ParseJobState reads a state name.
func ParseJobState(name string) (JobState, error) {
	for i, n := range jobStateNames {
		if i > 0 && n == name {
			return JobState(i), nil
		}
	}
	return 0, ValueError(ErrInvalidArgument, "state", name, "not a job state")
}

// MarshalText writes the state's name.
func (s JobState) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("job state %d has no name", s)
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads a state's name.
func (s *JobState) UnmarshalText(b []byte) error {
	v, err := ParseJobState(string(b))
	if err == nil {
		*s = v
	}
	return err
}

// Final reports whether the job has ended.
func (s JobState) Final() bool { return s >= JobSucceed && s <= JobTimeout }

// Queued reports whether the job waits in its group's queue.
func (s JobState) Queued() bool { return s == JobInited || s == JobWaitForRetry }

// jobMoves lists, for each state, the states it may move to.
var jobMoves = [...][]JobState{
	JobInited:       {JobScheduled, JobFailed, JobCancelled, JobTimeout},
	JobWaitForRetry: {JobScheduled, JobFailed, JobCancelled, JobTimeout},
	JobScheduled:    {JobRunning, JobWaitForRetry, JobSucceed, JobFailed, JobCancelled, JobTimeout},
	JobRunning:      {JobWaitForRetry, JobSucceed, JobFailed, JobCancelled, JobTimeout},
	JobSucceed:      nil,
	JobFailed:       nil,
	JobCancelled:    nil,
	JobTimeout:      nil,
}

// CanMoveJob reports whether a job may move from one state to another.
func CanMoveJob(from, to JobState) bool {
	if int(from) >= len(jobMoves) {
		return false
	}
	for _, s := range jobMoves[from] {
		if s == to {
			return true
		}
	}
	return false
}

// CheckJobMove returns an ErrIllegalTransition error unless
// CanMoveJob(from, to).
func CheckJobMove(from, to JobState) error {
	if CanMoveJob(from, to) {
		return nil
	}
	return Errorf(ErrIllegalTransition, "state", "a job cannot move from %v to %v", from, to)
}
