package orchestrator

import (
	"fmt"

	"github.com/golinkis/golinkis/linkis"
)

// State is where a job stands, spelt as Linkis spells it.
type State uint8

// The job states. Inited and WaitForRetry are queued; Scheduled means the
// job left its queue and is getting an engine; Running means a task of it
// runs on an engine. The last four are final.
const (
	Inited State = iota + 1
	WaitForRetry
	Scheduled
	Running
	Succeed
	Failed
	Cancelled
	Timeout
)

var stateNames = [...]string{"", "Inited", "WaitForRetry", "Scheduled", "Running", "Succeed", "Failed", "Cancelled", "Timeout"}

func (s State) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", s)
}

// ParseState reads a state name.
func ParseState(name string) (State, error) {
	for i, n := range stateNames {
		if i > 0 && n == name {
			return State(i), nil
		}
	}
	return 0, linkis.ValueError(linkis.ErrInvalidArgument, "state", name, "not a job state")
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) {
	if s == 0 || int(s) >= len(stateNames) {
		return nil, fmt.Errorf("job state %d has no name", s)
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads a state's name.
func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	if err == nil {
		*s = v
	}
	return err
}

// Final reports whether the job has ended.
func (s State) Final() bool { return s >= Succeed && s <= Timeout }

// Queued reports whether the job waits in its group's queue.
func (s State) Queued() bool { return s == Inited || s == WaitForRetry }

// transitions lists, for each state, the states it may move to.
var transitions = [...][]State{
	Inited:       {Scheduled, Failed, Cancelled, Timeout},
	WaitForRetry: {Scheduled, Failed, Cancelled, Timeout},
	Scheduled:    {Running, WaitForRetry, Succeed, Failed, Cancelled, Timeout},
	Running:      {WaitForRetry, Succeed, Failed, Cancelled, Timeout},
	Succeed:      nil,
	Failed:       nil,
	Cancelled:    nil,
	Timeout:      nil,
}

// CanMove reports whether a job may move from one state to another.
func CanMove(from, to State) bool {
	if int(from) >= len(transitions) {
		return false
	}
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// CheckMove returns an ErrIllegalTransition error unless CanMove(from, to).
func CheckMove(from, to State) error {
	if CanMove(from, to) {
		return nil
	}
	return linkis.Errorf(linkis.ErrIllegalTransition, "state", "a job cannot move from %v to %v", from, to)
}
