package embedded_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
)

// Issue 15's second user on a small host, with real engine processes: alice
// runs a python, a shell and an sql job, whose idle engines then hold both
// cores of the host (1 + 0.5 + 0.5) for the idle timeout (an hour). Bob's
// shell job must run at once, on its first attempt: the manager stops the
// longest-idle of alice's engines (python, idle first, as a rule) - and
// only it - to make room. Without idle reclaim his ask fails with "none of 1 available
// ECMs has ... left" (manager.TestReclaimOnlyWhenNeeded/switched_off).
func TestSecondUserOnAFullHost(t *testing.T) {
	mc := manager.DefaultConfig()
	mc.TickInterval = time.Second
	mc.NewECMStandby = 0
	if !mc.ReclaimIdle {
		t.Fatal("idle reclaim must be on by default")
	}
	sys, err := embedded.Start(embedded.Config{
		Capacity: &linkis.Resource{Memory: 4 * linkis.GiB, MilliCores: 2000, Instances: 10},
		Manager:  &mc,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(user, engine, code string) orchestrator.Job {
		t.Helper()
		req, err := orchestrator.NewRequest(orchestrator.RequestSpec{User: user, Engine: engine, Code: code})
		if err != nil {
			t.Fatal(err)
		}
		j, err := sys.Submit(ctx, user, req)
		if err != nil {
			t.Fatal(err)
		}
		if j, err = sys.Wait(ctx, user, j.ExecID); err != nil || j.State != orchestrator.Succeed {
			t.Fatalf("%s's %s job: %+v, %v", user, engine, j, err)
		}
		return j
	}
	python := run("alice", "python", "print(6*7)")
	shell := run("alice", "shell", "echo hello")
	sqlJob := run("alice", "sql", "select 1")
	if python.EC == shell.EC || shell.EC == sqlJob.EC || python.EC == sqlJob.EC {
		t.Fatalf("alice's jobs shared engines: %s %s %s", python.EC, shell.EC, sqlJob.EC)
	}
	// The host is full: 1 + 0.5 + 0.5 cores held by idle engines. The one
	// idle longest is the one to stop - python, unless a late report of
	// its engine (its first task may outlast the 250 ms after which an
	// engine reports Busy and Idle) made it idle later: the manager's
	// record says.
	// Read once the record holds still for 1 s: a late report lands
	// within 250 ms of the task's end.
	var idle map[string]int64
	for stable := time.Now(); time.Since(stable) < time.Second; time.Sleep(50 * time.Millisecond) {
		now := map[string]int64{}
		sys.Store().Read(ctx, true, func(s *manager.State) {
			for _, e := range s.ECs() {
				now[e.ID.String()] = e.IdleSince
			}
		})
		if !maps.Equal(now, idle) {
			idle, stable = now, time.Now()
		}
		if ctx.Err() != nil {
			t.Fatal("the engines' records did not settle")
		}
	}
	victim := python.EC
	for _, j := range []orchestrator.Job{shell, sqlJob} {
		if idle[j.EC] < idle[victim] {
			victim = j.EC
		}
	}
	bob := run("bob", "shell", "echo 'bob runs'")
	if bob.Attempts != 1 {
		t.Fatalf("bob's job needed %d attempts: it should have waited for room, not failed", bob.Attempts)
	}
	// Only what bob needed was stopped: the longest-idle engine, and no
	// other of alice's.
	live := map[string]bool{}
	sys.Store().Read(ctx, true, func(s *manager.State) {
		for _, e := range s.ECs() {
			live[e.ID.String()] = !e.Killing
		}
	})
	for _, j := range []orchestrator.Job{python, shell, sqlJob} {
		if want := j.EC != victim; live[j.EC] != want {
			t.Fatalf("alice's engine %s (%s) live %v after bob's job, want %v: the reclaimed one should be %s, idle longest (idle since %v)",
				j.EC, j.EngineType, live[j.EC], want, victim, idle)
		}
	}
	// The engines left still serve her.
	if victim != shell.EC {
		if again := run("alice", "shell", "echo again"); again.EC != shell.EC {
			t.Fatalf("alice's shell engine %s was replaced by %s: more was reclaimed than needed", shell.EC, again.EC)
		}
	}
}
