package orchestrator

import "github.com/golinkis/golinkis/linkis"

// State is where a job stands (linkis.JobState: the manager's replicated
// job records and the orchestrator share it).
type State = linkis.JobState

// The job states, as Linkis spells them.
const (
	Inited       = linkis.JobInited
	WaitForRetry = linkis.JobWaitForRetry
	Scheduled    = linkis.JobScheduled
	Running      = linkis.JobRunning
	Succeed      = linkis.JobSucceed
	Failed       = linkis.JobFailed
	Cancelled    = linkis.JobCancelled
	Timeout      = linkis.JobTimeout
)

// ParseState reads a state name.
func ParseState(name string) (State, error) { return linkis.ParseJobState(name) }

// CanMove reports whether a job may move from one state to another.
func CanMove(from, to State) bool { return linkis.CanMoveJob(from, to) }
