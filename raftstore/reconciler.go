package raftstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// ECMClient is what the reconciler needs of ECMs. *api.ECMClient is the
// real one; tests and the simulator plug in their own.
type ECMClient interface {
	Launch(ctx context.Context, addr string, r api.LaunchRequest) (api.LaunchResponse, error)
	Kill(ctx context.Context, addr string, r api.KillRequest) (api.KillResponse, error)
}

// ReconcilerConfig tunes the leader-only loop that carries out the effects
// the manager says are due.
type ReconcilerConfig struct {
	// Interval is the longest time between two passes.
	Interval time.Duration
	// MinGap is the shortest time between two passes woken by new entries,
	// so that a busy log does not turn the loop into a spin.
	MinGap time.Duration
	// Resend is how long a launch or kill the ECM accepted may stay without
	// effect before it is sent again (sending again is harmless: ECMs
	// launch and kill idempotently).
	Resend time.Duration
	// Concurrency bounds the ECM calls in flight.
	Concurrency int
	// CallTimeout bounds one ECM call.
	CallTimeout time.Duration
	// KillGrace is how long an ECM waits after SIGTERM before SIGKILL.
	KillGrace time.Duration
}

// DefaultReconcilerConfig returns production values.
func DefaultReconcilerConfig() ReconcilerConfig {
	return ReconcilerConfig{Interval: 200 * time.Millisecond, MinGap: 5 * time.Millisecond, Resend: 5 * time.Second,
		Concurrency: 64, CallTimeout: 10 * time.Second, KillGrace: 5 * time.Second}
}

// Validate rejects values the loop cannot run with, naming the field.
func (c ReconcilerConfig) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Interval", c.Interval}, {"Resend", c.Resend}, {"CallTimeout", c.CallTimeout}} {
		if d.v <= 0 {
			return linkis.Errorf(linkis.ErrInvalidArgument, d.name, "must be positive, got %v", d.v)
		}
	}
	if c.MinGap < 0 || c.MinGap > c.Interval {
		return linkis.Errorf(linkis.ErrInvalidArgument, "MinGap", "must be from 0 to Interval (%v), got %v", c.Interval, c.MinGap)
	}
	if c.KillGrace < 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "KillGrace", "must not be negative, got %v", c.KillGrace)
	}
	if c.Concurrency < 1 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "Concurrency", "must be at least 1, got %d", c.Concurrency)
	}
	return nil
}

// reconcileTarget is what the reconciler needs of the store it serves.
type reconcileTarget interface {
	Apply(ctx context.Context, cmd manager.Command) (manager.Result, error)
	effectsDue(now int64) []manager.Effect
	changes() <-chan struct{}
}

type sentKey struct {
	ec   manager.ECID
	kind manager.EffectKind
}

// reconciler carries out, on the leader only, what the manager says is
// due: launches, kills and ticks. Everything it must not forget is in the
// replicated state; its own memory (which calls are in flight, when each
// was sent) only avoids sending the same call twice in a row, and a new
// leader starts with it empty and sends everything that is still due.
type reconciler struct {
	cfg    ReconcilerConfig
	target reconcileTarget
	ecms   ECMClient
	log    *slog.Logger

	mu   sync.Mutex
	sent map[sentKey]time.Time // calls in flight or accepted, by when they were sent
}

func newReconciler(cfg ReconcilerConfig, t reconcileTarget, ecms ECMClient, log *slog.Logger) *reconciler {
	return &reconciler{cfg: cfg, target: t, ecms: ecms, log: log, sent: map[sentKey]time.Time{}}
}

// run loops until ctx ends, then waits for its calls in flight.
func (r *reconciler) run(ctx context.Context) {
	var calls errgroup.Group
	calls.SetLimit(r.cfg.Concurrency)
	defer calls.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		changed := r.target.changes()
		r.pass(ctx, &calls)
		timer.Reset(r.cfg.Interval)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-changed:
			if !linkis.Sleep(ctx, r.cfg.MinGap) {
				return
			}
		}
	}
}

// pass reads what is due and starts what was not sent recently (waiting
// for a free slot when Concurrency calls are in flight).
func (r *reconciler) pass(ctx context.Context, calls *errgroup.Group) {
	now := time.Now()
	due := r.target.effectsDue(now.UnixNano())
	live := make(map[sentKey]bool, len(due))
	for _, e := range due {
		if e.Kind == manager.EffectTick {
			r.propose(ctx, manager.Tick{Time: now.UnixNano()})
			continue
		}
		k := sentKey{e.EC, e.Kind}
		live[k] = true
		r.mu.Lock()
		at, busy := r.sent[k]
		if busy && now.Sub(at) < r.cfg.Resend {
			r.mu.Unlock()
			continue
		}
		r.sent[k] = now
		r.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		calls.Go(func() error {
			r.call(ctx, e)
			return nil
		})
	}
	r.mu.Lock()
	for k := range r.sent {
		if !live[k] {
			delete(r.sent, k) // done: the state no longer asks for it
		}
	}
	r.mu.Unlock()
}

// call sends one launch or kill and proposes what its answer settles.
func (r *reconciler) call(ctx context.Context, e manager.Effect) {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	defer cancel()
	var resp api.LaunchResponse
	var err error
	if e.Kind == manager.EffectLaunch {
		resp, err = r.ecms.Launch(cctx, e.ECMAddr, api.FromLaunch(e.Launch))
	} else {
		resp, err = r.ecms.Kill(cctx, e.ECMAddr, api.KillRequest{EC: e.EC.String(), GraceMs: r.cfg.KillGrace.Milliseconds()})
	}
	cmd := settle(e, resp, err, time.Now().UnixNano())
	if err != nil && cmd == nil {
		r.log.Warn("ECM call failed; will retry", "effect", e.Kind, "ec", e.EC, "ecm", e.ECM, "err", err)
		r.retrySoon(e)
		return
	}
	if cmd != nil {
		r.propose(ctx, cmd)
	}
}

// retrySoon lets a failed call be sent again after a second (or Resend,
// if shorter) rather than after a whole Resend.
func (r *reconciler) retrySoon(e manager.Effect) {
	r.mu.Lock()
	r.sent[sentKey{e.EC, e.Kind}] = time.Now().Add(min(time.Second, r.cfg.Resend) - r.cfg.Resend)
	r.mu.Unlock()
}

// settle maps an ECM's answer to the command it settles (manager's
// Effect.Settle), or nil when there is nothing to propose yet. A launch
// the ECM refuses outright (400) fails the engine: sending it again cannot
// help. A refused kill settles nothing (the process may still run), and
// other failures may pass: those calls are retried.
func settle(e manager.Effect, resp api.LaunchResponse, err error, now int64) manager.Command {
	if err == nil {
		return e.Settle(now, resp.Report())
	}
	if api.StatusOf(err) == http.StatusBadRequest && e.Kind == manager.EffectLaunch {
		return e.Settle(now, manager.EngineReport{State: manager.ReportExited, Failed: true,
			Reason: fmt.Sprintf("the ECM refused the %v: %v", e.Kind, err)})
	}
	return nil
}

// propose applies a command the reconciler settled; refusals that only
// say the work is already done are expected and not worth a warning.
func (r *reconciler) propose(ctx context.Context, cmd manager.Command) {
	_, err := r.target.Apply(ctx, cmd)
	switch {
	case err == nil, ctx.Err() != nil:
	case errors.Is(err, linkis.ErrUnknownNode), errors.Is(err, linkis.ErrIllegalTransition):
		r.log.Debug("reconciler: already settled", "cmd", cmd.Type(), "err", err)
	default:
		r.log.Warn("reconciler: proposal failed", "cmd", cmd.Type(), "err", err)
	}
}
