package manager

import (
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// Config is the manager's replicated configuration: every replica must start
// from the same Config, and it changes only through the Configure command.
// Durations are nanoseconds of the command clock.
type Config struct {
	// Seed feeds the deterministic tie-break between near-equal ECMs.
	Seed uint64
	// LockTimeout is how long a caller holds an engine it was given before
	// the lock expires and the engine returns to Unlock (Linkis: 5 min).
	LockTimeout time.Duration
	// ResourceLockTimeout is how long resources stay locked for an engine
	// that never reports it started; then the engine is failed and its
	// resources are released (Linkis: 12 min).
	ResourceLockTimeout time.Duration
	// AskWaitTimeout is how long an ask may wait for an engine to start or
	// be released before it fails (Linkis: 8 min).
	AskWaitTimeout time.Duration
	// IdleTimeout is how long an engine may stay unused before the manager
	// reclaims it (Linkis console default: 1 h).
	IdleTimeout time.Duration
	// ECLostAfter declares an engine lost after this much silence
	// (Linkis: 12 min).
	ECLostAfter time.Duration
	// ECMLostAfter declares an ECM lost after this much silence
	// (Linkis: 5 min).
	ECMLostAfter time.Duration
	// NewECMStandby keeps ECMs younger than this behind older ones when
	// choosing where to start an engine (Linkis: 60 s).
	NewECMStandby time.Duration
	// TickInterval is how often a tick is due (see EffectsDue).
	TickInterval time.Duration
	// MaxTasksPerEC retires an engine after it served this many asks
	// (Linkis: 50).
	MaxTasksPerEC int
	// HotspotTopK is how many of the best ECMs the tie-break chooses among,
	// so that concurrent creations do not all land on one host.
	HotspotTopK int
	// MemoryLoadBuckets is the resolution of the memory-load rule: ECMs
	// whose memory load falls in the same 1/N band count as equally loaded
	// and the later rules decide between them.
	MemoryLoadBuckets int
	// MaxWaitersPerKey bounds the asks waiting on one combined label.
	MaxWaitersPerKey int
	// DefaultECMResource is an ECM's capacity when it registers none
	// (Linkis: 100g, 100 cores, 50 instances).
	DefaultECMResource linkis.Resource
	// DefaultQuota is the max of a combined userCreator+engineType ledger
	// row without its own quota (Linkis: 20g, 10 cores, 10 instances). Its
	// Instances is the key's instance cap.
	DefaultQuota linkis.Resource

	// ReclaimIdle lets a shared ask that fits on no ECM stop the
	// longest-idle engines of other combined labels that hold the room
	// (reclaim.go); off, it waits for their IdleTimeout as in Linkis.
	ReclaimIdle bool
}

// DefaultConfig returns the Linkis defaults.
func DefaultConfig() Config {
	return Config{
		Seed:                1,
		LockTimeout:         5 * time.Minute,
		ResourceLockTimeout: 12 * time.Minute,
		AskWaitTimeout:      8 * time.Minute,
		IdleTimeout:         time.Hour,
		ECLostAfter:         12 * time.Minute,
		ECMLostAfter:        5 * time.Minute,
		NewECMStandby:       time.Minute,
		TickInterval:        time.Second,
		MaxTasksPerEC:       50,
		HotspotTopK:         3,
		MemoryLoadBuckets:   10,
		MaxWaitersPerKey:    1000,
		DefaultECMResource:  linkis.Resource{Memory: 100 * linkis.GiB, MilliCores: 100_000, Instances: 50},
		DefaultQuota:        linkis.Resource{Memory: 20 * linkis.GiB, MilliCores: 10_000, Instances: 10},
		ReclaimIdle:         true,
	}
}

// Validate rejects a configuration the manager cannot run with, naming the
// field.
func (c Config) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"LockTimeout", c.LockTimeout}, {"ResourceLockTimeout", c.ResourceLockTimeout},
		{"AskWaitTimeout", c.AskWaitTimeout}, {"IdleTimeout", c.IdleTimeout},
		{"ECLostAfter", c.ECLostAfter}, {"ECMLostAfter", c.ECMLostAfter},
		{"TickInterval", c.TickInterval},
	} {
		if d.v <= 0 {
			return linkis.Errorf(linkis.ErrInvalidArgument, d.name, "must be positive, got %v", d.v)
		}
	}
	if c.NewECMStandby < 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "NewECMStandby", "must not be negative, got %v", c.NewECMStandby)
	}
	if c.TickInterval > c.LockTimeout || c.TickInterval > c.ECMLostAfter {
		return linkis.Errorf(linkis.ErrInvalidArgument, "TickInterval", "%v is longer than LockTimeout or ECMLostAfter: expiries would be late by more than their own length", c.TickInterval)
	}
	for _, n := range []struct {
		name   string
		v, max int
	}{
		{"MaxTasksPerEC", c.MaxTasksPerEC, 1 << 30}, {"HotspotTopK", c.HotspotTopK, 64},
		{"MemoryLoadBuckets", c.MemoryLoadBuckets, 1000}, {"MaxWaitersPerKey", c.MaxWaitersPerKey, 1 << 24},
	} {
		if n.v < 1 || n.v > n.max {
			return linkis.Errorf(linkis.ErrInvalidArgument, n.name, "must be from 1 to %d, got %d", n.max, n.v)
		}
	}
	if err := c.DefaultECMResource.Validate(); err != nil {
		return linkis.Errorf(linkis.ErrInvalidArgument, "DefaultECMResource", "%v", err)
	}
	if err := c.DefaultQuota.Validate(); err != nil {
		return linkis.Errorf(linkis.ErrInvalidArgument, "DefaultQuota", "%v", err)
	}
	if c.DefaultECMResource.Instances < 1 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "DefaultECMResource", "instances must be at least 1")
	}
	if c.DefaultQuota.Instances < 1 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "DefaultQuota", "instances must be at least 1")
	}
	return nil
}
