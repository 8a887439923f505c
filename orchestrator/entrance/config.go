package entrance

import (
	"strconv"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// Config configures an Entrance. Start from DefaultConfig.
type Config struct {
	// DataDir holds the history (DataDir/jobs.db) and the result files
	// (DataDir/results/<user>/<taskID>/). Required.
	DataDir string

	// MaxRunningPerGroup caps the running jobs of each consumer group
	// (Linkis: max(5, instances ÷ entrances)). Default 5. 0 holds every
	// group's jobs in their queues (a paused entrance; tests).
	MaxRunningPerGroup int
	// GroupMaxRunning overrides MaxRunningPerGroup for groups named
	// Creator_User_EngineType.
	GroupMaxRunning map[string]int
	// CreatorMaxRunning overrides MaxRunningPerGroup for every group of a
	// creator (GroupMaxRunning wins over it).
	CreatorMaxRunning map[string]int
	// MaxRunning caps the running jobs of the whole entrance; groups share
	// it round-robin. Default 1000.
	MaxRunning int
	// QueueCapacity is each group's queue capacity (Linkis: 1000); a submit
	// beyond it is refused with linkis.ErrQueueFull. Default 1000.
	QueueCapacity int

	// QueueTimeout ends a job that waited that long in its queue with
	// Timeout. The label jobQueuingTimeout overrides it per job. 0: none
	// (the default, as in Linkis).
	QueueTimeout time.Duration
	// RunTimeout ends a job that ran that long (from leaving its queue)
	// with Timeout. The label jobRunningTimeout overrides it per job. 0:
	// none (the default).
	RunTimeout time.Duration

	// RequeueScheduled: at Open, a job left Scheduled by the previous run
	// (it had not reached an engine, as far as the history knows) is queued
	// again as WaitForRetry. Otherwise it is Failed. Default true.
	RequeueScheduled bool
	// RequeueRunning: at Open, a job left Running by the previous run is
	// queued again as WaitForRetry. A rerun may repeat the job's side
	// effects, so the default (false) fails it with the reason "the
	// entrance restarted while the job ran; its outcome is unknown".
	RequeueRunning bool

	// LogMaxLines and LogMaxBytes cap each job's stored log; past either,
	// one LogTruncated line ends it. Defaults 10,000 lines and 1 MiB.
	LogMaxLines int
	LogMaxBytes int

	// NoSync skips fsync in the history: faster and not durable. Only for
	// tests and benchmarks.
	NoSync bool
	// History replaces the embedded bbolt history (a database); DataDir
	// still holds the result files. The entrance closes it at Close.
	History History
}

// DefaultConfig returns the defaults; set DataDir.
func DefaultConfig() Config {
	return Config{
		MaxRunningPerGroup: 5,
		MaxRunning:         1000,
		QueueCapacity:      1000,
		RequeueScheduled:   true,
		LogMaxLines:        10000,
		LogMaxBytes:        1 << 20,
	}
}

// Validate checks the configuration, naming the first bad field.
func (c Config) Validate() error {
	switch {
	case c.DataDir == "":
		return linkis.Errorf(linkis.ErrInvalidArgument, "DataDir", "required")
	case c.MaxRunningPerGroup < 0:
		return linkis.ValueError(linkis.ErrInvalidArgument, "MaxRunningPerGroup", strconv.Itoa(c.MaxRunningPerGroup), "must be ≥ 0")
	case c.MaxRunning < 1:
		return linkis.ValueError(linkis.ErrInvalidArgument, "MaxRunning", strconv.Itoa(c.MaxRunning), "must be ≥ 1")
	case c.QueueCapacity < 1:
		return linkis.ValueError(linkis.ErrInvalidArgument, "QueueCapacity", strconv.Itoa(c.QueueCapacity), "must be ≥ 1")
	case c.QueueTimeout < 0:
		return linkis.ValueError(linkis.ErrInvalidArgument, "QueueTimeout", c.QueueTimeout.String(), "must be ≥ 0")
	case c.RunTimeout < 0:
		return linkis.ValueError(linkis.ErrInvalidArgument, "RunTimeout", c.RunTimeout.String(), "must be ≥ 0")
	case c.LogMaxLines < 1:
		return linkis.ValueError(linkis.ErrInvalidArgument, "LogMaxLines", strconv.Itoa(c.LogMaxLines), "must be ≥ 1")
	case c.LogMaxBytes < 1 || c.LogMaxBytes > 1<<30:
		return linkis.ValueError(linkis.ErrInvalidArgument, "LogMaxBytes", strconv.Itoa(c.LogMaxBytes), "must be 1 byte to 1 GiB")
	}
	for name, n := range c.GroupMaxRunning {
		if n < 0 {
			return linkis.ValueError(linkis.ErrInvalidArgument, "GroupMaxRunning", name, "must be ≥ 0")
		}
	}
	for name, n := range c.CreatorMaxRunning {
		if n < 0 {
			return linkis.ValueError(linkis.ErrInvalidArgument, "CreatorMaxRunning", name, "must be ≥ 0")
		}
	}
	return nil
}

func (c *Config) maxRunning(name, creator string) int {
	if n, ok := c.GroupMaxRunning[name]; ok {
		return n
	}
	if n, ok := c.CreatorMaxRunning[creator]; ok {
		return n
	}
	return c.MaxRunningPerGroup
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
