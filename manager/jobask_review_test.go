package manager

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/golinkis/golinkis/linkis"
)

// Review of cf3f4ab (the state's first ask of a job): the ask a job's
// dispatch makes must be given back exactly once whatever way the job
// ends, and never outlive the job.

// firstAskOwners checks that every ask the state holds under a job's
// first-ask id belongs to a job that still needs it: dispatched (active)
// or ended with its tasks still to stop (cleanup).
func firstAskOwners(s *State) error {
	for id, a := range s.asks {
		for _, j := range s.jobs.byID {
			if firstAskID(j) != id {
				continue
			}
			if !j.active && !j.cleanup {
				return linkis.Errorf(linkis.ErrIllegalTransition, "ask", "first ask %s (%v) outlives its job %d (%v, cleanup %v)", id, a.status, j.id, j.state, j.cleanup)
			}
		}
	}
	return nil
}

// TestFirstAskLedgerProperty drives jobs that carry their first ask
// through every way out - ended by their run (with or without giving the
// ask back in the same command), killed queued, dispatched or running,
// queue and run timeouts, engines that fail to start, lock expiry, retries
// whose next round asks under its own id, eviction - and checks after each
// command the invariants and that no first ask outlives its job; at the
// end, once every job is over and cleaned up, no ask is held and no engine
// is locked.
func TestFirstAskLedgerProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		cfg := DefaultConfig()
		cfg.NewECMStandby = 0
		st, err := New(cfg, nil)
		if err != nil {
			rt.Fatal(err)
		}
		now := t0
		apply := func(c Command) (Result, error) {
			r, err := st.Apply(withTime(c, now))
			if err == nil {
				if err := CheckInvariants(st); err != nil {
					rt.Fatalf("after %v: %v", c.Type(), err)
				}
				if err := firstAskOwners(st); err != nil {
					rt.Fatalf("after %v: %v", c.Type(), err)
				}
			}
			return r, err
		}
		if _, err := apply(RegisterECM{ID: "ecm-1", Addr: "ecm-1:9101", Max: res(16, 8, 3)}); err != nil {
			rt.Fatal(err)
		}
		jc := DefaultJobConfig()
		jc.GroupMaxRunning, jc.MaxRunning, jc.Retain = 2, 4, 2
		if _, err := apply(ConfigureJobs{Config: jc}); err != nil {
			rt.Fatal(err)
		}
		users := []string{"a", "b"}
		var nonce uint64
		runAsks := map[int64][]string{} // asks the simulated run made itself (later rounds)
		for i := rapid.IntRange(1, 80).Draw(rt, "steps"); i > 0; i-- {
			live := st.LiveJobs()
			switch rapid.IntRange(0, 10).Draw(rt, "op") {
			case 0, 1, 2:
				u := rapid.SampledFrom(users).Draw(rt, "user")
				nonce++
				ls, err := linkis.NewLabels(linkis.LabelUserCreator, u+"-IDE", linkis.LabelEngineType, "shell-1")
				if err != nil {
					rt.Fatal(err)
				}
				apply(SubmitJob{Nonce: uint32(nonce), User: u, Creator: "IDE", EngineType: "shell-1", Request: []byte("{}"),
					QueueTimeout: time.Duration(rapid.IntRange(0, 2).Draw(rt, "qt")) * time.Minute,
					RunTimeout:   time.Duration(rapid.IntRange(0, 2).Draw(rt, "rt")) * time.Minute,
					Ask:          &JobAsk{Nonce: nonce, Labels: ls, LockTimeout: time.Duration(rapid.IntRange(0, 2).Draw(rt, "lt")) * time.Minute}})
			case 3: // an engine starts, or fails to
				var ids []ECID
				for id, e := range st.ecs {
					if e.status == linkis.StatusStarting {
						ids = append(ids, id)
					}
				}
				if len(ids) == 0 {
					continue
				}
				slices.Sort(ids)
				id := rapid.SampledFrom(ids).Draw(rt, "ec")
				if rapid.Bool().Draw(rt, "fails") {
					apply(EngineEnded{EC: id, Failed: true, Reason: "boom", Retryable: true})
				} else {
					apply(EngineStarted{EC: id, Addr: "10.0.0.1:" + id.String()})
				}
			case 4, 5: // the run reports
				if len(live) == 0 {
					continue
				}
				j := rapid.SampledFrom(live).Draw(rt, "job")
				first := JobAskID(j.ExecID, 1, 0)
				if j.Cleanup {
					u := UpdateJob{TaskID: j.TaskID, Progress: -1, Cleaned: true, Release: runAsks[j.TaskID]}
					if rapid.Bool().Draw(rt, "runReleasedFirst") {
						u.Release = append(u.Release, first)
					}
					if _, err := apply(u); err == nil {
						delete(runAsks, j.TaskID)
					}
					continue
				}
				switch rapid.IntRange(0, 2).Draw(rt, "how") {
				case 0:
					apply(UpdateJob{TaskID: j.TaskID, State: linkis.JobRunning, Progress: -1,
						Task: JobTask{Key: first, AskID: first, TaskID: "t1"}})
				case 1: // a retry: the next round asks under its own id
					round := j.Round + 2
					if _, err := apply(UpdateJob{TaskID: j.TaskID, State: linkis.JobWaitForRetry, Progress: -1, Round: round,
						Release: []string{first}}); err != nil {
						continue
					}
					nonce++
					ls, _ := linkis.NewLabels(linkis.LabelUserCreator, j.User+"-IDE", linkis.LabelEngineType, "shell-1")
					id := JobAskID(j.ExecID, round, 0)
					if _, err := apply(AskEngine{ID: id, Nonce: nonce, Labels: ls}); err == nil {
						runAsks[j.TaskID] = append(runAsks[j.TaskID], id)
					}
				case 2:
					u := UpdateJob{TaskID: j.TaskID, State: rapid.SampledFrom([]linkis.JobState{linkis.JobSucceed, linkis.JobFailed}).Draw(rt, "end"),
						Progress: -1, Release: runAsks[j.TaskID]}
					if rapid.Bool().Draw(rt, "heldFirst") {
						u.Release = append(u.Release, first)
					}
					if _, err := apply(u); err == nil {
						delete(runAsks, j.TaskID)
					}
				}
			case 6:
				all, n := st.ListJobs(JobQuery{Limit: 1 << 20})
				if n == 0 {
					continue
				}
				apply(KillJob{TaskID: rapid.SampledFrom(all).Draw(rt, "kill").TaskID, By: "x"})
			case 7, 8:
				now += int64(time.Duration(rapid.IntRange(1, 90).Draw(rt, "secs")) * time.Second)
				apply(Tick{})
			case 9: // an ask the run made itself goes back
				for id, as := range runAsks {
					for _, a := range as {
						apply(ReleaseEngine{AskID: a})
					}
					delete(runAsks, id)
					break
				}
			case 10:
				if rapid.Bool().Draw(rt, "restore") {
					r, err := Restore(st.Snapshot(), nil)
					if err != nil {
						rt.Fatalf("restore: %v", err)
					}
					st = r
				}
			}
		}
		// Every job ends and is cleaned up as the dispatcher would.
		all, _ := st.ListJobs(JobQuery{Limit: 1 << 20})
		for _, j := range all { // in task id order: a kill may dispatch a later job
			if _, err := apply(KillJob{TaskID: j.TaskID, By: "x"}); err != nil {
				rt.Fatal(err)
			}
		}
		for _, j := range all {
			if _, err := apply(UpdateJob{TaskID: j.TaskID, Progress: -1, Cleaned: true, Release: runAsks[j.TaskID]}); err != nil {
				rt.Fatal(err)
			}
			delete(runAsks, j.TaskID)
		}
		for id, as := range runAsks { // jobs evicted from the history
			for _, a := range as {
				apply(ReleaseEngine{AskID: a})
			}
			delete(runAsks, id)
		}
		if len(st.asks) != 0 {
			var ids []string
			for id, a := range st.asks {
				ids = append(ids, id+"="+a.status.String())
			}
			slices.Sort(ids)
			rt.Fatalf("every job is over and cleaned up, yet the state holds asks: %s", strings.Join(ids, ", "))
		}
		for _, e := range st.ecs {
			if len(e.grants) > 0 || e.bound != 0 || e.owner != nil {
				rt.Fatalf("engine %v is still held: %d grants, bound %d", e.id, len(e.grants), e.bound)
			}
		}
	})
}

// TestSubmitJobRefusesABadAsk: SubmitJob checks its timeouts
// (negative ones are refused) but not its Ask's: a job queued with an ask
// the snapshot decoder refuses (a negative lock timeout) is accepted, and
// then the state's own snapshot no longer restores - a follower could not
// install it. Bad input gets a clear error and changes nothing.
func TestSubmitJobRefusesABadAsk(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm-1", res(64, 32, 10))
	h.configureJobs(func(c *JobConfig) { c.GroupMaxRunning = 0 }) // the job stays queued with its ask
	a := h.askCmd("", "alice-IDE", "shell-1")
	_, err := h.s.Apply(SubmitJob{Time: h.now, Nonce: 1, User: "alice", Creator: "IDE", EngineType: "shell-1", Request: []byte("{}"),
		Ask: &JobAsk{Nonce: a.Nonce, Labels: a.Labels, LockTimeout: -time.Second}})
	if err != nil {
		if !errors.Is(err, linkis.ErrInvalidArgument) {
			t.Fatalf("a submission with a negative ask timeout: %v, want ErrInvalidArgument", err)
		}
		return
	}
	if _, err := Restore(h.s.Snapshot(), nil); err != nil {
		t.Fatalf("a submission with a negative ask timeout was accepted, and the state's snapshot no longer restores: %v", err)
	}
}

// TestSubmitJobVersion1Decodes: a SubmitJob written before the Ask
// (body version 1: no trailing ask) still decodes, without an ask, and
// applies as before (the run asks itself).
func TestSubmitJobVersion1Decodes(t *testing.T) {
	c := SubmitJob{Time: t0, Nonce: 7, User: "alice", Creator: "IDE", EngineType: "shell-1", Request: []byte("{}")}
	b := EncodeCommand(c)
	if b[1] != 2 || b[len(b)-1] != 0 {
		t.Fatalf("version %d, last byte %d: want version 2 ending in an absent ask", b[1], b[len(b)-1])
	}
	v1 := append([]byte(nil), b[:len(b)-1]...)
	v1[1] = 1
	got, err := DecodeCommand(v1)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := got.(SubmitJob); !ok || s.Ask != nil || s.User != "alice" {
		t.Fatalf("decoded %+v", got)
	}
	h := newHarness(t)
	h.addECM("ecm-1", res(64, 32, 10))
	v := h.apply(got).Job
	if _, ok := h.s.Ask(JobAskID(v.ExecID, 1, 0)); ok || v.State != linkis.JobScheduled {
		t.Fatalf("a version 1 submission: %v, asked %v", v.State, ok)
	}
}
