//go:build linux

package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// keyOf finds the job's key in its code.
var keyOf = regexp.MustCompile(`start (j\d+)`)

// listJobs returns every job of the test's user as member n holds them:
// a linearizable read, or its own state (stale).
func (c *cluster) listJobs(n *node, stale bool) ([]restapi.Task, error) {
	var all []restapi.Task
	for page := 1; ; page++ {
		q := url.Values{"pageNow": {strconv.Itoa(page)}, "pageSize": {"500"}}
		if stale {
			q.Set("stale", "true")
		}
		var d restapi.ListData
		if err := c.restGet(n, restapi.PathHistory, q, &d); err != nil {
			return nil, err
		}
		all = append(all, d.Tasks...)
		if len(d.Tasks) < 500 || len(all) >= d.TotalPage {
			return all, nil
		}
	}
}

// restGet reads a REST API path of member n as the test's user (the
// client has no stale option: this reads the envelope itself).
func (c *cluster) restGet(n *node, path string, q url.Values, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+restapi.Prefix+path+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set(restapi.HeaderTokenUser, jobUser)
	req.Header.Set(restapi.HeaderTokenCode, jobUserCode)
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env restapi.Envelope
	if err := json.Unmarshal(b, &env); err != nil || env.Method == "" {
		return fmt.Errorf("%s %s: HTTP %d, not an envelope: %.200s", n.Name, path, resp.StatusCode, b)
	}
	if env.Status != restapi.StatusOK {
		return fmt.Errorf("%s %s: status %d: %s", n.Name, path, env.Status, env.Message)
	}
	return json.Unmarshal(env.Data, out)
}

// verify waits until every job has ended and every member holds the same
// jobs, then checks the history against them (checkHistory) and the
// ledger against the hosts (checkLedger). Every node must run. It returns
// the jobs.
func (c *cluster) verify(h *history) []restapi.Task {
	c.t.Helper()
	l := c.leader()
	var jobs []restapi.Task
	c.waitFor("every job to end", 2*time.Minute, func() bool {
		var err error
		jobs, err = c.listJobs(l, false)
		if err != nil {
			return false
		}
		for _, j := range jobs {
			if st, err := linkis.ParseJobState(j.Status); err != nil || !st.Final() {
				return false
			}
		}
		return true
	})
	for _, m := range c.Members {
		var diff string
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			js, err := c.listJobs(m, true)
			if diff = difference(jobs, js); err == nil && diff == "" {
				break
			}
			if err != nil {
				diff = err.Error()
			}
			if time.Now().After(deadline) {
				c.t.Errorf("%s does not hold the jobs the leader holds within a minute: %s", m.Name, diff)
				break
			}
		}
	}
	runs, err := c.runs()
	if err != nil {
		c.t.Fatal(err)
	}
	bad := checkHistory(h.Ops(), jobs, runs)
	for i, b := range bad {
		if i == 50 {
			c.t.Errorf("... and %d more", len(bad)-i)
			break
		}
		c.t.Error(b.What)
	}
	c.t.Logf("history: %s", summary(h.Ops(), jobs, runs))
	c.report.addDoc("jobs", func() any { return jobs })
	if len(bad) > 0 {
		logs := c.jobLogs(l, bad)
		c.report.addDoc("problems", func() any { return logs })
	}
	c.checkLedger()
	c.checkRaces()
	return jobs
}

// checkRaces fails the test for every log of the cluster's processes
// (servers, ECMs, engines) in which the race detector reported a race
// (under go test -race they are built with it).
func (c *cluster) checkRaces() {
	c.t.Helper()
	for _, n := range append(append([]*node(nil), c.Members...), c.ECMs...) {
		files := []string{n.logf}
		_ = filepath.WalkDir(n.dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && filepath.Base(filepath.Dir(path)) == "logs" {
				files = append(files, path)
			}
			return nil
		})
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte("WARNING: DATA RACE")) {
				c.t.Errorf("a data race in %s's process (log %s)", n.Name, f)
			}
		}
	}
}

// jobLogs returns the problems with the log of each job they name (of
// the first 50).
func (c *cluster) jobLogs(l *node, bad []problem) any {
	type withLog struct {
		problem
		Log []string `json:"log,omitempty"`
	}
	rest := c.rest(l)
	var out []withLog
	for i, b := range bad {
		w := withLog{problem: b}
		if b.ExecID != "" && i < 50 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if p, err := rest.Log(ctx, b.ExecID, 0, 0); err == nil {
				w.Log = p.Lines
			} else {
				w.Log = []string{"(log: " + err.Error() + ")"}
			}
			cancel()
		}
		out = append(out, w)
	}
	return out
}

// difference says how a member's jobs differ from the leader's ("": they
// do not), ignoring what a member adds of its own (its name).
func difference(leader, member []restapi.Task) string {
	mine := map[int64]restapi.Task{}
	for _, j := range member {
		mine[j.TaskID] = j
	}
	if len(member) != len(leader) {
		return fmt.Sprintf("%d jobs, the leader %d", len(member), len(leader))
	}
	for _, j := range leader {
		if a, b := canonical([]restapi.Task{j}), canonical([]restapi.Task{mine[j.TaskID]}); a != b {
			return fmt.Sprintf("task %d is %s, at the leader %s", j.TaskID, b, a)
		}
	}
	return ""
}

// canonical is a list of jobs as every member must hold it: ordered by
// task id, without what a member adds of its own (its name).
func canonical(jobs []restapi.Task) string {
	js := append([]restapi.Task(nil), jobs...)
	sort.Slice(js, func(i, k int) bool { return js[i].TaskID < js[k].TaskID })
	for i := range js {
		js[i].Instance = ""
	}
	b, _ := json.Marshal(js)
	return string(b)
}

// runRecord is what the hosts' records say of a job's runs.
type runRecord struct {
	Starts, Ends int
	Hosts        []string
}

// runs reads every host's record of the runs of jobs ($HOME/ran.log).
func (c *cluster) runs() (map[string]*runRecord, error) {
	runs := map[string]*runRecord{}
	for _, n := range append(append([]*node(nil), c.Members...), c.ECMs...) {
		f, err := os.Open(filepath.Join(n.home, "ran.log"))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			what, key, ok := strings.Cut(sc.Text(), " ")
			if !ok || (what != "start" && what != "end") {
				f.Close()
				return nil, fmt.Errorf("%s's record of runs: line %q", n.Name, sc.Text())
			}
			r := runs[key]
			if r == nil {
				r = &runRecord{}
				runs[key] = r
			}
			if what == "start" {
				r.Starts++
				r.Hosts = append(r.Hosts, n.Name)
			} else {
				r.Ends++
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return runs, nil
}

// problem is something a check found wrong, and the job it is about.
type problem struct {
	ExecID string `json:"execId,omitempty"`
	What   string `json:"what"`
}

// checkHistory validates a history against the jobs the cluster holds at
// the end and the hosts' records of runs, and returns what is wrong.
func checkHistory(ops []Op, jobs []restapi.Task, runs map[string]*runRecord) []problem {
	var bad []problem
	fail := func(exec, format string, args ...any) {
		bad = append(bad, problem{ExecID: exec, What: fmt.Sprintf(format, args...)})
	}

	// What the clients were told of each key.
	type told struct{ acked, refused, unknown int }
	submits := map[string]*told{}
	ackedAs := map[string]string{} // key → exec id
	for _, op := range ops {
		if op.Kind != "submit" {
			continue
		}
		s := submits[op.Key]
		if s == nil {
			s = &told{}
			submits[op.Key] = s
		}
		switch op.Outcome {
		case outOK:
			s.acked++
			ackedAs[op.Key] = op.ExecID
		case outRefused:
			s.refused++
		default:
			s.unknown++
		}
	}
	// What the cluster holds of each key.
	byKey := map[string][]restapi.Task{}
	byExec := map[string]restapi.Task{}
	for _, j := range jobs {
		m := keyOf.FindStringSubmatch(j.ExecutionCode)
		if m == nil {
			fail(j.ExecID, "job %s (task %d) is no job of the test: code %q", j.ExecID, j.TaskID, j.ExecutionCode)
			continue
		}
		byKey[m[1]] = append(byKey[m[1]], j)
		byExec[j.ExecID] = j
	}
	for key, js := range byKey {
		s := submits[key]
		switch {
		case s == nil:
			fail(js[0].ExecID, "job %s of key %s was never submitted", js[0].ExecID, key)
		case len(js) > 1:
			fail(js[0].ExecID, "key %s, submitted once, is %d jobs", key, len(js))
		case s.acked == 0 && s.unknown == 0:
			fail(js[0].ExecID, "key %s was refused for certain (%d times), yet is job %s", key, s.refused, js[0].ExecID)
		}
	}
	for key, s := range submits {
		js := byKey[key]
		if s.acked > 0 {
			if len(js) == 0 {
				fail(ackedAs[key], "acknowledged job %s (key %s) is lost", ackedAs[key], key)
				continue
			}
			if js[0].ExecID != ackedAs[key] {
				fail(js[0].ExecID, "key %s was acknowledged as %s but is job %s", key, ackedAs[key], js[0].ExecID)
			}
		}
		for _, j := range js {
			if st, err := linkis.ParseJobState(j.Status); err != nil || !st.Final() {
				fail(j.ExecID, "job %s (key %s) has not ended: %s", j.ExecID, key, j.Status)
			}
		}
	}
	// What ran.
	for key, r := range runs {
		js := byKey[key]
		switch {
		case len(js) == 0:
			fail("", "key %s ran (on %v) but is no job", key, r.Hosts)
		case r.Starts > 1:
			fail(js[0].ExecID, "job %s (key %s) ran %d times, on %v", js[0].ExecID, key, r.Starts, r.Hosts)
		case r.Ends > r.Starts:
			fail(js[0].ExecID, "job %s (key %s): %d ends for %d starts", js[0].ExecID, key, r.Ends, r.Starts)
		}
	}
	for key, js := range byKey {
		for _, j := range js {
			if r := runs[key]; j.Status == "Succeed" && (r == nil || r.Starts != 1 || r.Ends != 1) {
				fail(j.ExecID, "job %s (key %s) Succeed, but its runs are %+v", j.ExecID, key, r)
			}
		}
	}
	// What clients read: per job, a read that began after another ended
	// never sees a state the earlier one's cannot move to, and a final
	// state read is the one the job holds.
	reads := map[string][]Op{}
	for _, op := range ops {
		if op.Kind == "status" && op.Outcome == outOK {
			reads[op.ExecID] = append(reads[op.ExecID], op)
		}
	}
	for exec, rs := range reads {
		sort.Slice(rs, func(i, k int) bool { return rs[i].Return < rs[k].Return })
		for i, a := range rs {
			sa, _ := linkis.ParseJobState(a.State)
			if j, ok := byExec[exec]; ok && sa.Final() && a.State != j.Status {
				fail(exec, "job %s read %s by client %d at %v, but it ended %s", exec, a.State, a.Client, a.Return, j.Status)
			}
			for _, b := range rs[i+1:] {
				sb, _ := linkis.ParseJobState(b.State)
				if b.Call > a.Return && !reachable(sa, sb) {
					fail(exec, "job %s went back: read %s (client %d from %s, returned %v), then %s (client %d from %s, called %v)",
						exec, a.State, a.Client, a.Member, a.Return, b.State, b.Client, b.Member, b.Call)
				}
			}
		}
	}
	sort.Slice(bad, func(i, k int) bool { return bad[i].What < bad[k].What })
	return bad
}

// reachable reports whether a job in state from may later be in state to.
func reachable(from, to linkis.JobState) bool {
	seen := map[linkis.JobState]bool{from: true}
	todo := []linkis.JobState{from}
	for len(todo) > 0 {
		s := todo[0]
		todo = todo[1:]
		for n := linkis.JobInited; n <= linkis.JobTimeout; n++ {
			if !seen[n] && linkis.CanMoveJob(s, n) {
				seen[n] = true
				todo = append(todo, n)
			}
		}
	}
	return seen[to]
}

// summary counts a history's operations, the jobs' final states and
// why they failed, and the failed jobs that never ran.
func summary(ops []Op, jobs []restapi.Task, runs map[string]*runRecord) string {
	count := map[string]int{}
	for _, op := range ops {
		count[op.Kind+" "+op.Outcome]++
	}
	for _, j := range jobs {
		count["job "+j.Status]++
		if j.Status != "Succeed" {
			why := errDesc(j)
			if i := strings.IndexAny(why, "0123456789"); i > 0 {
				why = why[:i] // the reason's kind, without ids
			}
			count["  "+j.Status+": "+why]++
			if m := keyOf.FindStringSubmatch(j.ExecutionCode); m != nil && runs[m[1]] == nil {
				count["  "+j.Status+" without having run"]++
			}
		}
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %d; ", k, count[k])
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// errDesc is a task's error description ("" when it has none).
func errDesc(j restapi.Task) string {
	if j.ErrDesc == nil {
		return ""
	}
	return *j.ErrDesc
}
