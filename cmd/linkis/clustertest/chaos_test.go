//go:build linux

package clustertest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// Kill -9 of the leader, of a follower and of a whole ECM host (its
// engines with it) while 200 jobs are queued and running: every
// acknowledged job ends exactly once and is the same on every member, no
// job runs twice, nothing is lost, and the ledger returns to zero.
func TestKillsUnderLoad(t *testing.T) {
	c := newCluster(t, clusterConfig{Members: 3, ECMHosts: 2})
	h := newHistory()
	c.report.addDoc("history", h.doc)
	tr := workload{Jobs: 200, Clients: 8, LongEvery: 10, Long: 3 * time.Second, Deadline: 5 * time.Minute}.run(context.Background(), c, h)

	// Each fault strikes while jobs are queued and running, and is undone
	// (the node restarted from its data directory) before the next.
	for _, s := range []struct {
		ended int64
		f     fault
		role  string
	}{{20, killFault, "leader"}, {70, killFault, "follower"}, {120, crashFault, "ECM host"}} {
		tr.waitUntil(func() bool { return tr.ended.Load() >= s.ended })
		var n *node
		switch s.role {
		case "leader":
			n = c.leader()
		case "follower":
			n = c.follower()
		default:
			n = c.ECMs[0]
		}
		t.Logf("%s (%s) at %d jobs ended", n.Name, s.role, tr.ended.Load())
		c.inject(h, s.f, n, s.role)
		time.Sleep(time.Second)
		c.recover(h, s.f, n)
	}

	<-tr.done
	tr.check(t, 0.9)
	c.verify(h)
}

// A job whose dispatching member - the leader - is killed (kill -9) while
// the job runs finishes Succeed: the next leader re-attaches to its task
// instead of failing it or running it again, and the client that follows
// the job from another member sees no error at all.
func TestLeaderKilledMidJob(t *testing.T) {
	c := newCluster(t, clusterConfig{Members: 3, ECMHosts: 1})
	h := newHistory()
	c.report.addDoc("history", h.doc)
	ctx := context.Background()
	l, f := c.leader(), c.follower()
	cl := c.newClient(0, h)
	cl.use(f)
	op := cl.submit(ctx, jobKey(0), jobRequest(jobKey(0), "IDE", 4*time.Second), time.Now().Add(time.Minute))
	if op.Outcome != outOK {
		t.Fatalf("submit to %s: %s", f.Name, op.Err)
	}
	// Running in the replicated record, and started on its engine: the
	// record names the task the next leader must follow.
	c.waitFor("the job to run", time.Minute, func() bool {
		st, ok := cl.status(ctx, op.ExecID)
		runs, err := c.runs()
		return ok && st == linkis.JobRunning && err == nil && runs[jobKey(0)] != nil
	})
	h.fault("kill -9 %s (leader, dispatching %s)", l.Name, op.ExecID)
	c.kill(l)
	st, err := c.rest(f).Wait(ctx, op.ExecID, nil)
	if err != nil || st.Status != "Succeed" {
		t.Errorf("the client following the job from %s: %+v, %v; want Succeed and no error", f.Name, st, err)
	}
	page, err := c.rest(f).Log(ctx, op.ExecID, 0, 0)
	if err != nil || !strings.Contains(strings.Join(page.Lines, "\n"), "re-attached to task") {
		t.Errorf("the job's log does not say the new leader re-attached to its task (%v):\n%s", err, strings.Join(page.Lines, "\n"))
	}
	c.restart(l)
	c.verify(h)
}

// The leader cut off from the others (its link down): the minority it is
// left in accepts no job - every submission to it fails with a clear,
// retryable error, never a silent accept - while the majority elects a
// leader and goes on (jobs submitted there run, jobs that ran under the
// old leader finish); once healed, the old leader rejoins and holds the
// same jobs as everyone.
func TestPartitionLeader(t *testing.T) {
	c := newCluster(t, clusterConfig{Members: 3, ECMHosts: 1})
	h := newHistory()
	c.report.addDoc("history", h.doc)
	ctx := context.Background()
	l := c.leader()
	var majority []*node
	for _, m := range c.Members {
		if m != l {
			majority = append(majority, m)
		}
	}
	// Jobs running under the old leader when it is cut off.
	before := c.newClientOn(0, h, c.Client, majority)
	var running []string
	for i := range 4 {
		op := before.submit(ctx, jobKey(i), jobRequest(jobKey(i), "IDE", 3*time.Second), time.Now().Add(time.Minute))
		if op.Outcome != outOK {
			t.Fatalf("submit before the partition: %s", op.Err)
		}
		running = append(running, op.ExecID)
	}
	c.waitFor("the jobs to run", time.Minute, func() bool {
		for _, id := range running {
			if st, ok := before.status(ctx, id); !ok || st != linkis.JobRunning {
				return false
			}
		}
		return true
	})

	h.fault("partition: %s (leader) cut off", l.Name)
	c.cut(l)
	cut := h.since()
	// A client on the leader's own host, which still reaches it, submits
	// there until the majority has a leader, and a few times after.
	const minorityClient = 99
	minority := c.newClientOn(minorityClient, h, l.Host, []*node{l})
	var elected time.Duration
	deadline := time.Now().Add(time.Minute)
	for i, after := 100, 0; after < 5; i++ {
		minority.submit(ctx, jobKey(i), jobRequest(jobKey(i), "nb", 0), time.Time{})
		switch nl := c.leaderOf(majority); {
		case elected != 0:
			after++
		case nl != nil:
			elected = h.since()
			h.fault("%s leads the majority", nl.Name)
		case time.Now().After(deadline):
			t.Fatal("the majority elected no leader within a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The majority goes on.
	tr := workload{Jobs: 20, Clients: 2, Deadline: 2 * time.Minute, First: 200, Members: majority}.run(ctx, c, h)
	<-tr.done
	tr.check(t, 1)

	h.fault("partition healed")
	c.heal(l)
	c.waitRejoined(l)

	// What the minority answered while cut off: never an acceptance;
	// always an answer (not a client's timeout) that says to try again.
	asked := 0
	for _, op := range h.Ops() {
		if op.Kind != "submit" || op.Client != minorityClient {
			continue
		}
		switch {
		case op.Outcome == outOK:
			t.Errorf("the cut-off leader accepted job %s (key %s) at %v", op.ExecID, op.Key, op.Return)
		case !op.Answered || !op.Retryable:
			t.Errorf("the cut-off leader's answer to key %s at %v is not a clear retryable error: %s", op.Key, op.Return, op.Err)
		}
		if op.Call > elected {
			asked++
		}
	}
	if asked == 0 {
		t.Error("the cut-off leader was not asked once the majority had a leader")
	}
	t.Logf("cut off at %v; the majority had a leader at %v; the minority refused %d submissions after that", cut, elected, asked)
	for _, j := range c.verify(h) {
		m := keyOf.FindStringSubmatch(j.ExecutionCode)
		switch {
		case m != nil && m[1] < jobKey(100) && j.Status != "Succeed":
			t.Errorf("job %s, running when its leader was cut off, ended %s: %s", j.ExecID, j.Status, errDesc(j))
		case m != nil && m[1] >= jobKey(200) && j.Status != "Succeed":
			t.Errorf("job %s, submitted to the majority, ended %s: %s", j.ExecID, j.Status, errDesc(j))
		}
	}
}

// Every member killed (kill -9) and restarted from its data directory:
// the histories, the queues and the results come back - ended jobs as
// they were, with their result sets; queued jobs still queued, then run;
// running jobs re-attached and ended once.
func TestRestartFromDisk(t *testing.T) {
	c := newCluster(t, clusterConfig{Members: 3, ECMHosts: 1})
	h := newHistory()
	c.report.addDoc("history", h.doc)
	ctx := context.Background()
	tr := workload{Jobs: 10, Clients: 2, Deadline: 2 * time.Minute}.run(ctx, c, h)
	<-tr.done
	tr.check(t, 1)
	// Five long jobs take the IDE group's five running slots; five more
	// wait in its queue.
	cl := c.newClient(0, h)
	var running, queued []string
	for i := 100; i < 110; i++ {
		sleep := time.Duration(0)
		if i < 105 {
			sleep = 4 * time.Second
		}
		op := cl.submit(ctx, jobKey(i), jobRequest(jobKey(i), "IDE", sleep), time.Now().Add(time.Minute))
		if op.Outcome != outOK {
			t.Fatalf("submit: %s", op.Err)
		}
		if i < 105 {
			running = append(running, op.ExecID)
		} else {
			queued = append(queued, op.ExecID)
		}
	}
	c.waitFor("five jobs to run and five to wait", time.Minute, func() bool {
		for _, id := range running {
			if st, ok := cl.status(ctx, id); !ok || st != linkis.JobRunning {
				return false
			}
		}
		for _, id := range queued {
			if st, ok := cl.status(ctx, id); !ok || st != linkis.JobInited {
				return false
			}
		}
		return true
	})
	l := c.leader()
	before, err := c.listJobs(l, false)
	if err != nil {
		t.Fatal(err)
	}
	results := c.results(t, l, before)

	h.fault("kill -9 of every member")
	for _, m := range c.Members {
		c.kill(m)
	}
	h.fault("every member restarted from disk")
	for _, m := range c.Members {
		c.restart(m)
	}
	l = c.leader()
	var after []restapi.Task
	c.waitFor("the restarted leader to list the jobs", time.Minute, func() bool {
		after, err = c.listJobs(l, false)
		return err == nil
	})
	byID := map[int64]restapi.Task{}
	for _, j := range after {
		byID[j.TaskID] = j
	}
	for _, b := range before {
		a, ok := byID[b.TaskID]
		switch {
		case !ok:
			t.Errorf("job %s (task %d) is gone after the restart", b.ExecID, b.TaskID)
		case a.ExecID != b.ExecID || a.ExecutionCode != b.ExecutionCode:
			t.Errorf("task %d was %s, is %s after the restart", b.TaskID, b.ExecID, a.ExecID)
		case b.Status == "Succeed" && canonical([]restapi.Task{a}) != canonical([]restapi.Task{b}):
			t.Errorf("ended job %s changed in the restart:\nbefore %+v\nafter  %+v", b.ExecID, b, a)
		}
	}
	if got := c.results(t, l, before); !reflect.DeepEqual(got, results) {
		t.Errorf("results after the restart differ:\nbefore %v\nafter  %v", results, got)
	}
	for _, id := range append(append([]string(nil), running...), queued...) {
		st, err := c.rest(l).Wait(ctx, id, nil)
		if err != nil || st.Status != "Succeed" {
			t.Errorf("job %s, running or queued at the restart: %+v %v", id, st, err)
		}
	}
	c.verify(h)
}

// results reads the first page of every result set of the jobs that
// Succeed: exec id → rows, as strings. Each holds its job's "out KEY".
func (c *cluster) results(t *testing.T, n *node, jobs []restapi.Task) map[string][]string {
	t.Helper()
	rest := c.rest(n)
	out := map[string][]string{}
	for _, j := range jobs {
		if j.Status != "Succeed" {
			continue
		}
		if len(j.ResultLocations) == 0 {
			t.Errorf("job %s Succeed without a result set", j.ExecID)
			continue
		}
		var rows []string
		for _, p := range j.ResultLocations {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			f, err := rest.OpenFile(ctx, p, 1, 0)
			cancel()
			if err != nil {
				t.Errorf("job %s's result %s: %v", j.ExecID, p, err)
				continue
			}
			for _, r := range f.FileContent {
				rows = append(rows, fmt.Sprint(r...))
			}
		}
		if m := keyOf.FindStringSubmatch(j.ExecutionCode); m == nil || !slices.Contains(rows, "out "+m[1]) {
			t.Errorf("job %s's results %q do not hold its output", j.ExecID, rows)
		}
		out[j.ExecID] = rows
	}
	return out
}
