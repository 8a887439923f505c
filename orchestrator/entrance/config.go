package entrance

import (
	"strconv"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Config configures an Entrance. Start from DefaultConfig.
type Config struct {
	// Jobs is the consumer groups' and the history's configuration. It
	// lives in the replicated state: the entrance proposes it when it
	// starts leading and the state holds another (give every member the
	// same). Nil leaves the state's as it is.
	Jobs *manager.JobConfig
	// DataDir, when set, is where a data directory of the version before
	// the job queues joined the replicated state kept its history
	// (DataDir/jobs.db) and results (DataDir/results): Open imports it once
	// (see Migrate). Empty: nothing to import.
	DataDir string
	// Checkpoint is how often a running job's progress, log lines and
	// output tail are written to its record (a state change or a new task
	// is written at once).
	Checkpoint time.Duration
	// CallTimeout bounds each call the entrance makes that must finish
	// (proposing a job's end, stopping the tasks of a killed job).
	CallTimeout time.Duration
	// StaleReads serves every read from this member's state without
	// checking it is current (faster, may lag the leader); a caller can
	// also ask for it per read (orchestrator.AllowStale).
	StaleReads bool
	// MaxWaiters bounds the callers waiting for jobs to end on this member.
	MaxWaiters int
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Checkpoint:  500 * time.Millisecond,
		CallTimeout: 30 * time.Second,
		MaxWaiters:  100_000,
	}
}

// Validate checks the configuration, naming the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Checkpoint < time.Millisecond:
		return linkis.ValueError(linkis.ErrInvalidArgument, "Checkpoint", c.Checkpoint.String(), "must be at least 1ms")
	case c.CallTimeout <= 0:
		return linkis.ValueError(linkis.ErrInvalidArgument, "CallTimeout", c.CallTimeout.String(), "must be positive")
	case c.MaxWaiters < 1:
		return linkis.ValueError(linkis.ErrInvalidArgument, "MaxWaiters", strconv.Itoa(c.MaxWaiters), "must be ≥ 1")
	}
	if c.Jobs != nil {
		return c.Jobs.Validate()
	}
	return nil
}

// ParseTimeout reads a timeout label (jobQueuingTimeout,
// jobRunningTimeout): whole seconds ("300", as Linkis writes them) or a Go
// duration ("5m", "1h30m"). It must be positive.
func ParseTimeout(label, s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 || n > 1<<31 {
			return 0, linkis.ValueError(linkis.ErrInvalidLabel, label, s, "must be 1 to 2^31 seconds, or a Go duration")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, linkis.ValueError(linkis.ErrInvalidLabel, label, s, "must be whole seconds (\"300\") or a positive Go duration (\"5m\")")
	}
	return d, nil
}
