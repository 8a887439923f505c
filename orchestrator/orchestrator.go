package orchestrator

import (
	"context"
	"log/slog"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/datasource"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/raftstore"
)

// Config configures an Orchestrator.
type Config struct {
	// EngineTypes are the engine types (the type part of engineType)
	// jobs may name; others are refused with linkis.ErrUnknownEngineType.
	EngineTypes []string
	// RetryCount is how many times a retryable failure is retried (the
	// retry strategy; label jobRetryCount overrides it per job, up to
	// MaxRetryCount). Linkis's entrance retries twice.
	RetryCount int
	// RetryWait is the wait before each retry (label jobRetryTimeout
	// overrides it per job, up to MaxRetryWait). Linkis waits 30 s.
	RetryWait time.Duration
	// MaxRetryCount and MaxRetryWait bound what labels may ask for.
	MaxRetryCount int
	MaxRetryWait  time.Duration
	// LockTimeout is the engine lock asked for (0: the manager's default).
	LockTimeout time.Duration
	// AskWaitTimeout bounds how long the manager lets an ask wait for an
	// engine to start (0: the manager's default).
	AskWaitTimeout time.Duration
	// SubmitWait is how long a task submission waits at the engine for
	// the task to end: a task shorter than that costs one round trip. A
	// cancel arriving meanwhile is acted on when the answer arrives, so
	// it also bounds how late a cancel reaches a just-submitted task.
	SubmitWait time.Duration
	// PollWait is how long each status call of a running task waits at
	// the engine; progress and log lines are passed on after each.
	PollWait time.Duration
	// KillWait is how long a killed task is given to end before its
	// engine is released.
	KillWait time.Duration
	// CallTimeout bounds each call that must finish even when the job is
	// cancelled (release, kill, a submission in flight).
	CallTimeout time.Duration
	// LogPageSize is how many log lines are fetched per call (at most
	// api.MaxLogPageSize).
	LogPageSize int
	// DataSources are the named data sources jobs of the jdbc engine may
	// name (datasource.KeyDataSource); nil: none.
	DataSources *datasource.Set
	// Vault seals the secrets of jobs' configuration (RedactRequest); the
	// members of a cluster share its key (datasource.VaultKeyFrom the
	// cluster token) so that any member runs what another accepted. Nil: a
	// vault with a key of this process's own.
	Vault *datasource.Vault
	// Logger receives the orchestrator's own logs (nil: slog.Default()).
	Logger *slog.Logger
}

// DefaultConfig returns the defaults: the built-in engine types, 2 retries
// 30 s apart (as Linkis), one-round-trip submissions for tasks up to 1 s.
func DefaultConfig() Config {
	return Config{
		EngineTypes:   []string{"shell", "python", "sql", "echo", "jdbc"},
		RetryCount:    2,
		RetryWait:     30 * time.Second,
		MaxRetryCount: 10,
		MaxRetryWait:  10 * time.Minute,
		SubmitWait:    time.Second,
		PollWait:      time.Second,
		KillWait:      5 * time.Second,
		CallTimeout:   30 * time.Second,
		LogPageSize:   1000,
	}
}

// Validate rejects a configuration the orchestrator cannot run with.
func (c Config) Validate() error {
	switch {
	case len(c.EngineTypes) == 0:
		return linkis.Errorf(linkis.ErrInvalidArgument, "EngineTypes", "at least one engine type is required")
	case c.MaxRetryCount < 0 || c.MaxRetryCount > 1000:
		return linkis.Errorf(linkis.ErrInvalidArgument, "MaxRetryCount", "must be from 0 to 1000, got %d", c.MaxRetryCount)
	case c.RetryCount < 0 || c.RetryCount > c.MaxRetryCount:
		return linkis.Errorf(linkis.ErrInvalidArgument, "RetryCount", "must be from 0 to MaxRetryCount (%d), got %d", c.MaxRetryCount, c.RetryCount)
	case c.MaxRetryWait < 0:
		return linkis.Errorf(linkis.ErrInvalidArgument, "MaxRetryWait", "must not be negative")
	case c.RetryWait < 0 || c.RetryWait > c.MaxRetryWait:
		return linkis.Errorf(linkis.ErrInvalidArgument, "RetryWait", "must be from 0 to MaxRetryWait (%v), got %v", c.MaxRetryWait, c.RetryWait)
	case c.LockTimeout < 0 || c.AskWaitTimeout < 0:
		return linkis.Errorf(linkis.ErrInvalidArgument, "LockTimeout", "lock and ask wait timeouts must not be negative")
	case c.SubmitWait < time.Millisecond || c.SubmitWait > api.MaxWait:
		return linkis.Errorf(linkis.ErrInvalidArgument, "SubmitWait", "must be from 1ms to %v, got %v", api.MaxWait, c.SubmitWait)
	case c.PollWait < time.Millisecond || c.PollWait > api.MaxWait:
		return linkis.Errorf(linkis.ErrInvalidArgument, "PollWait", "must be from 1ms to %v, got %v", api.MaxWait, c.PollWait)
	case c.KillWait < 0:
		return linkis.Errorf(linkis.ErrInvalidArgument, "KillWait", "must not be negative")
	case c.CallTimeout <= 0:
		return linkis.Errorf(linkis.ErrInvalidArgument, "CallTimeout", "must be positive")
	case c.LogPageSize < 1 || c.LogPageSize > api.MaxLogPageSize:
		return linkis.Errorf(linkis.ErrInvalidArgument, "LogPageSize", "must be from 1 to %d, got %d", api.MaxLogPageSize, c.LogPageSize)
	}
	for _, t := range c.EngineTypes {
		if _, err := linkis.ParseEngineType(t + "-1"); err != nil {
			return linkis.ValueError(linkis.ErrInvalidArgument, "EngineTypes", t, "not an engine type name")
		}
	}
	return nil
}

// Orchestrator turns jobs into physical trees and runs them on engines it
// asks the manager for. It implements Runner and is safe for concurrent
// use: each Run is independent.
type Orchestrator struct {
	cfg   Config
	known map[string]bool // EngineTypes
	asker EngineAsker
	tasks TaskClients
	vault *datasource.Vault
	log   *slog.Logger
}

var _ Runner = (*Orchestrator)(nil)

// New returns an Orchestrator asking engines of asker and running tasks
// through tasks (e.g. NewHTTPTaskClients(token, nil).Client).
func New(cfg Config, asker EngineAsker, tasks TaskClients) (*Orchestrator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if asker == nil {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "asker", "an EngineAsker is required")
	}
	if tasks == nil {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "tasks", "a task client factory is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	o := &Orchestrator{cfg: cfg, known: make(map[string]bool, len(cfg.EngineTypes)), asker: asker, tasks: tasks, vault: cfg.Vault, log: cfg.Logger}
	if o.vault == nil {
		var err error
		if o.vault, err = datasource.NewVault(nil); err != nil {
			return nil, err
		}
	}
	for _, t := range cfg.EngineTypes {
		o.known[t] = true
	}
	return o, nil
}

// Check runs the converter, parser and validator: it refuses, with a
// *linkis.Error naming the field, every request Run would refuse before
// asking for an engine (a jdbc job naming a data source its user may not
// use included). First it replaces the secrets of spec.Request's
// configuration by vault handles, in place (RedactRequest): the maps are
// the caller's, so the request the caller keeps - the entrance's record -
// never holds a secret.
func (o *Orchestrator) Check(spec Spec) error {
	_, err := o.check(&spec)
	return err
}

// Plan runs every stage up to the optimizer and returns the physical tree
// Run would execute (Describe prints it).
func (o *Orchestrator) Plan(spec Spec) (*JobNode, error) {
	if err := validateExecID(spec.ExecID); err != nil {
		return nil, err
	}
	return o.plan(&spec)
}

// FirstAsk is the engine ask the job's first attempt makes, for the state
// to make as it dispatches the job (manager.SubmitJob.Ask); false when
// that attempt is not one lone ask (the job is refused, or its first step
// asks on several branches at once).
func (o *Orchestrator) FirstAsk(spec Spec) (manager.JobAsk, bool) {
	if spec.ExecID == "" {
		spec.ExecID = manager.ExecIDOf(0, 0) // not known before submission; no ask field depends on it
	}
	root, err := o.Plan(spec)
	if err != nil || len(root.Stages) == 0 {
		return manager.JobAsk{}, false
	}
	n := root.Stages[0]
	for {
		switch v := n.(type) {
		case *StageNode:
			n = v.Child
			continue
		case *RetryNode:
			n = v.Child
			continue
		case *FailoverNode:
			if len(v.Routes) > 0 {
				n = v.Routes[0]
				continue
			}
		case *ExecNode:
			if v.Branch != 0 {
				break
			}
			cmd, err := o.askRequest(askID(spec.ExecID, 1, 0), v).Command(0, raftstore.Nonce())
			a, ok := cmd.(manager.AskEngine)
			if err != nil || !ok {
				break
			}
			return manager.JobAsk{Nonce: a.Nonce, Labels: a.Labels, Params: a.Params, LockTimeout: a.LockTimeout, WaitTimeout: a.WaitTimeout}, true
		}
		return manager.JobAsk{}, false
	}
}

// Run runs a job: the stages in order, then the physical tree. It returns
// when the job has ended or ctx is done (then Cancelled, with ctx's cause
// as Err, after its tasks were killed and its engines released).
func (o *Orchestrator) Run(ctx context.Context, spec Spec, l Listener) Outcome {
	root, err := o.Plan(spec)
	if err != nil {
		return Outcome{State: Failed, Err: err}
	}
	return o.execute(ctx, &spec, root, l)
}
