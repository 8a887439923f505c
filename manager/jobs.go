package manager

import (
	"strconv"
	"strings"
	"time"

	"github.com/google/btree"

	"github.com/golinkis/golinkis/linkis"
)

// The entrance's state: job records and the queues of the consumer groups,
// replicated with the manager's so that one log orders both and every
// replica agrees on which job runs next. The request a job carries is
// opaque here (the orchestrator's encoding); the state keeps only what
// queueing, timeouts and the history need.

// JobConfig configures the consumer groups and the job history. It is part
// of the replicated state and changes only through ConfigureJobs.
type JobConfig struct {
	// QueueCapacity bounds each group's queue (Linkis: 1000); a submission
	// beyond it is refused with ErrQueueFull.
	QueueCapacity int
	// GroupMaxRunning caps the running jobs of each consumer group (Linkis:
	// max(5, instances ÷ entrances)). 0 holds every job in its queue.
	GroupMaxRunning int
	// CreatorMaxRunning overrides GroupMaxRunning for every group of a
	// creator; GroupOverrides (by group name Creator_User_EngineType) wins
	// over it.
	CreatorMaxRunning map[string]int
	GroupOverrides    map[string]int
	// MaxRunning caps the running jobs of all groups, shared round-robin.
	MaxRunning int
	// QueueTimeout and RunTimeout end a job that waited (ran) that long
	// with Timeout, unless its submission set its own. 0: none.
	QueueTimeout time.Duration
	RunTimeout   time.Duration
	// Retain is how many ended jobs the history keeps; RetainFor drops
	// ended jobs older than that (0: by count only). The oldest go first.
	Retain    int
	RetainFor time.Duration
	// LogLines bounds the orchestrator's own log lines a record keeps;
	// TailLines the last lines of engine output kept for when the host
	// that holds the whole log is gone.
	LogLines  int
	TailLines int
}

// DefaultJobConfig returns the entrance defaults (as Linkis where it has
// one).
func DefaultJobConfig() JobConfig {
	return JobConfig{
		QueueCapacity:   1000,
		GroupMaxRunning: 5,
		MaxRunning:      1000,
		Retain:          100_000,
		LogLines:        1000,
		TailLines:       200,
	}
}

// Limits on job commands.
const (
	// MaxJobRequestBytes bounds a job's encoded request (its code is at
	// most 512 KiB; the rest is configuration and labels).
	MaxJobRequestBytes = 768 << 10
	// MaxJobLineBytes bounds one log line kept in a record; longer lines
	// are cut.
	MaxJobLineBytes = 4 << 10
	// MaxJobTasks bounds the tasks a job runs at once (multi-active
	// branches).
	MaxJobTasks = 16
	// MaxJobResults bounds the result sets of a job.
	MaxJobResults = 1024
	// MaxJobReleases bounds the asks one UpdateJob releases.
	MaxJobReleases = 64
	maxJobName     = 128
	maxJobCount    = 1 << 24
)

// Validate rejects a configuration the entrance cannot run with.
func (c JobConfig) Validate() error {
	for _, n := range []struct {
		name     string
		v, lo, h int
	}{
		{"QueueCapacity", c.QueueCapacity, 1, maxJobCount}, {"GroupMaxRunning", c.GroupMaxRunning, 0, maxJobCount},
		{"MaxRunning", c.MaxRunning, 1, maxJobCount}, {"Retain", c.Retain, 1, maxJobCount},
		{"LogLines", c.LogLines, 1, 1 << 20}, {"TailLines", c.TailLines, 0, 1 << 16},
	} {
		if n.v < n.lo || n.v > n.h {
			return linkis.Errorf(linkis.ErrInvalidArgument, n.name, "must be from %d to %d, got %d", n.lo, n.h, n.v)
		}
	}
	for name, m := range map[string]map[string]int{"CreatorMaxRunning": c.CreatorMaxRunning, "GroupOverrides": c.GroupOverrides} {
		if len(m) > 1<<16 {
			return linkis.Errorf(linkis.ErrInvalidArgument, name, "at most %d entries, got %d", 1<<16, len(m))
		}
		for k, v := range m {
			if k == "" || len(k) > 3*maxJobName {
				return linkis.ValueError(linkis.ErrInvalidArgument, name, k, "a name must be 1 to 384 bytes")
			}
			if v < 0 || v > maxJobCount {
				return linkis.ValueError(linkis.ErrInvalidArgument, name+"["+k+"]", strconv.Itoa(v), "must be from 0 to 16777216")
			}
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"QueueTimeout", c.QueueTimeout}, {"RunTimeout", c.RunTimeout}, {"RetainFor", c.RetainFor}} {
		if d.v < 0 {
			return linkis.Errorf(linkis.ErrInvalidArgument, d.name, "must not be negative, got %v", d.v)
		}
	}
	return nil
}

// JobTask is a task of a job on an engine: what a new leader needs to
// re-attach to it, and where its log lives.
type JobTask struct {
	// Key names the attempt: the ask id of the exec leaf that ran it
	// ("{execID}-{round}.{branch}"). Engines answer a resubmission with
	// the same key with the task they already have.
	Key string
	// AskID is the ask whose grant the task runs under (Key, or a
	// re-ask's past an unreachable engine: Key "r" n).
	AskID  string
	EC     string // "ec-N"
	ECM    string // the ECM that hosts the engine
	Addr   string // the engine's task API
	TaskID string // the engine's id of the task
}

// JobLogPart is a piece of a job's log: the orchestrator's own lines, kept
// in the record, or the log of one of its tasks, kept by the engine (while
// it runs) and its ECM (after).
type JobLogPart struct {
	Lines []string
	// Task is the task whose log this part is (Task.Key is empty for the
	// orchestrator's lines); Count is its number of lines once it ended,
	// -1 until then.
	Task  JobTask
	Count int
}

// JobNotice tells what a command did to a job.
type JobNotice struct {
	TaskID  int64
	State   linkis.JobState
	Cleanup bool // ended while its tasks may still run: they must be stopped
}

// job is a job's record.
type job struct {
	id                        int64
	execID                    string
	key                       uint64 // the submission's idempotency key (0: none)
	user, creator, engineType string
	request                   []byte // opaque, never changed in place
	state                     linkis.JobState
	progress                  float64
	progressInfo              string
	attempts                  int
	round                     int // the retry round the next attempt runs in (0: the first)
	ecName                    string
	reason                    string
	killedBy                  string
	results                   []string
	tasks                     []JobTask
	log                       []JobLogPart
	logLines                  int // inline lines kept
	tail                      []string
	created, updated          int64
	started, ended            int64
	queueTimeout, runTimeout  int64 // as submitted (0: the configured default)
	cleanup                   bool
	ask                       *JobAsk // the first ask, made at dispatch (queued jobs only)

	group      *jobGroup
	prev, next *job   // in its group's queue
	queued     bool   // in its group's queue
	active     bool   // holds a running slot (Scheduled, Running, WaitForRetry between attempts)
	endSeq     uint64 // order among ended jobs
	slot       int32  // place in State.jobDues
}

func (j *job) slotp() *int32 { return &j.slot }

// jobGroupKey names a consumer group. Names joined with '_' are ambiguous
// (user x, creator IDE_bob vs user bob_x, creator IDE), so the key keeps
// the parts apart.
type jobGroupKey struct{ creator, user, engineType string }

// jobGroup is a consumer group: a FIFO queue and its running jobs.
type jobGroup struct {
	key        jobGroupKey
	head, tail *job
	queued     int
	running    int
	// The round-robin ring of groups that have a queued job and a free
	// slot.
	rprev, rnext *jobGroup
	inRing       bool
}

func (g *jobGroup) name() string {
	return g.key.creator + "_" + g.key.user + "_" + g.key.engineType
}

// jobs is the part of State that holds the entrance.
type jobs struct {
	cfg     JobConfig
	nextID  int64
	endSeq  uint64
	byID    map[int64]*job
	byExec  map[string]*job
	byKey   map[uint64]*job
	byUser  map[string]*btree.BTreeG[*job]
	all     *btree.BTreeG[*job]
	groups  map[jobGroupKey]*jobGroup
	ring    *jobGroup // the group served last: the next turn is its successor's
	running int
	ended   *btree.BTreeG[*job] // by endSeq: the history's eviction order
	// endedBytes is the size of the ended jobs' requests (bounded by
	// MaxHistoryBytes).
	endedBytes int64
	live       map[int64]*job // active jobs and those awaiting cleanup (for the dispatcher)
	jobDues    dueTable[*job]
	conf       *confStore // the configuration tree, whose caps win (confstore.go)
}

func jobLess(a, b *job) bool          { return a.id < b.id }
func endedLess(a, b *job) bool        { return a.endSeq < b.endSeq }
func newJobTree() *btree.BTreeG[*job] { return btree.NewG(16, jobLess) }

func newJobs() jobs {
	return jobs{
		cfg:    DefaultJobConfig(),
		nextID: 1,
		byID:   map[int64]*job{},
		byExec: map[string]*job{},
		byKey:  map[uint64]*job{},
		byUser: map[string]*btree.BTreeG[*job]{},
		all:    newJobTree(),
		groups: map[jobGroupKey]*jobGroup{},
		ended:  btree.NewG(16, endedLess),
		live:   map[int64]*job{},
	}
}

// ExecIDOf is the exec id of the job with task id id, submitted with nonce:
// Linkis's exec ids name the job uniquely and are not guessable from the
// task id alone.
func ExecIDOf(id int64, nonce uint32) string {
	const hex = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = hex[nonce&0xf]
		nonce >>= 4
	}
	return "exec_" + strconv.FormatInt(id, 10) + "_" + string(b[:])
}

// groupCap is a group's running cap.
func (js *jobs) groupCap(g *jobGroup) int {
	if v, ok := js.conf.jobCap(g.key); ok {
		return v
	}
	if v, ok := js.cfg.GroupOverrides[g.name()]; ok && !strings.Contains(g.key.creator, "_") && !strings.Contains(g.key.engineType, "_") {
		// Only for a name that splits one way: creator up to the first
		// '_', engine type after the last - user x as creator IDE_bob
		// does not get the cap of user bob_x's IDE group.
		return v
	}
	if v, ok := js.cfg.CreatorMaxRunning[g.key.creator]; ok {
		return v
	}
	return js.cfg.GroupMaxRunning
}

func (js *jobs) group(k jobGroupKey) *jobGroup {
	g := js.groups[k]
	if g == nil {
		g = &jobGroup{key: k}
		js.groups[k] = g
	}
	return g
}

// fixRing puts a group in the ring or takes it out as it became eligible
// (a queued job and a free slot) or not, and forgets an idle group.
func (js *jobs) fixRing(g *jobGroup) {
	eligible := g.queued > 0 && g.running < js.groupCap(g)
	switch {
	case eligible && !g.inRing:
		js.ringInsert(g)
	case !eligible && g.inRing:
		js.ringDel(g)
	}
	if g.queued == 0 && g.running == 0 {
		delete(js.groups, g.key)
	}
}

// ringInsert adds a group to the ring just before the group served last:
// after every group that has waited longer, before the one that just had
// its turn. So a flood in one group delays a newly arrived group's job by
// at most one dispatch.
func (js *jobs) ringInsert(g *jobGroup) {
	if js.ring == nil {
		g.rprev, g.rnext = g, g
		js.ring = g
	} else {
		l := js.ring
		g.rprev, g.rnext = l.rprev, l
		l.rprev.rnext = g
		l.rprev = g
	}
	g.inRing = true
}

func (js *jobs) ringDel(g *jobGroup) {
	if g.rnext == g {
		js.ring = nil
	} else {
		g.rprev.rnext, g.rnext.rprev = g.rnext, g.rprev
		if js.ring == g {
			js.ring = g.rprev // the next turn is still g's successor's
		}
	}
	g.rprev, g.rnext, g.inRing = nil, nil, false
}

func (g *jobGroup) push(j *job) {
	j.prev, j.next = g.tail, nil
	if g.tail != nil {
		g.tail.next = j
	} else {
		g.head = j
	}
	g.tail = j
	g.queued++
	j.queued = true
}

func (g *jobGroup) remove(j *job) {
	if j.prev != nil {
		j.prev.next = j.next
	} else {
		g.head = j.next
	}
	if j.next != nil {
		j.next.prev = j.prev
	} else {
		g.tail = j.prev
	}
	j.prev, j.next, j.queued = nil, nil, false
	g.queued--
}

// jobDue is when a job's queuing or running deadline passes (never for a
// job that has neither).
func (js *jobs) jobDue(j *job) int64 {
	switch {
	case j.queued:
		if d := js.timeout(j.queueTimeout, js.cfg.QueueTimeout); d > 0 {
			return after(j.created, d)
		}
	case j.active:
		if d := js.timeout(j.runTimeout, js.cfg.RunTimeout); d > 0 {
			return after(j.started, d)
		}
	}
	return maxTime
}

const maxTime = int64(^uint64(0) >> 1)

func (js *jobs) timeout(own int64, def time.Duration) int64 {
	if own > 0 {
		return own
	}
	return int64(def)
}

// dispatch moves queued jobs to Scheduled while the groups and the whole
// entrance have room: one job per group in turn, so that a group with a
// long queue takes no more turns than one with a single job.
func (s *State) dispatch(t int64, r *Result) {
	js := &s.jobs
	for js.running < js.cfg.MaxRunning && js.ring != nil {
		g := js.ring.rnext
		j := g.head
		g.remove(j)
		g.running++
		js.running++
		js.ring = g
		js.fixRing(g)
		j.active = true
		j.state = linkis.JobScheduled
		j.updated = t
		if j.started == 0 {
			j.started = t
		}
		js.live[j.id] = j
		js.jobDues.remove(j)
		js.jobDues.add(j, js.jobDue(j))
		r.Jobs = append(r.Jobs, JobNotice{TaskID: j.id, State: j.state})
		s.askFirst(t, j, r)
	}
}

// endJob moves a job to a final state: it leaves its queue or gives back
// its running slot (and the next job is dispatched), and joins the
// history's eviction order. cleanup says its tasks may still run.
func (s *State) endJob(t int64, j *job, to linkis.JobState, reason string, cleanup bool, r *Result) {
	js := &s.jobs
	g := j.group
	if j.queued {
		g.remove(j)
	}
	if j.active {
		j.active = false
		g.running--
		js.running--
	}
	js.fixRing(g)
	j.group = nil
	js.jobDues.remove(j)
	j.state, j.updated, j.ended = to, t, t
	j.progressInfo = "" // words about a run that is over ("retrying in 30s") would mislead
	if reason != "" {
		j.reason = reason
	}
	if to == linkis.JobSucceed {
		j.progress = 1
	}
	j.cleanup = cleanup
	if cleanup {
		js.live[j.id] = j
	} else {
		delete(js.live, j.id)
		j.tasks = nil
	}
	js.endSeq++
	j.endSeq = js.endSeq
	js.addEnded(j)
	r.Jobs = append(r.Jobs, JobNotice{TaskID: j.id, State: to, Cleanup: cleanup})
	j.ask = nil // never dispatched
	if !cleanup {
		s.releaseFirst(t, j, r)
	}
	s.dispatch(t, r)
}

// maxHistoryBytes bounds the requests (code and configuration) of the
// ended jobs the history keeps, whatever Retain says: 100,000 jobs of the
// largest request would hold 73 GiB on every replica. A variable for the
// tests only: every replica must evict alike.
var maxHistoryBytes int64 = 512 << 20

// addEnded puts an ended job in the history's eviction order.
func (js *jobs) addEnded(j *job) {
	js.ended.ReplaceOrInsert(j)
	js.endedBytes += int64(len(j.request))
}

// evictJobs drops the oldest ended jobs past the history's bounds (but for
// those whose tasks the dispatcher has yet to stop).
func (s *State) evictJobs(t int64) {
	js := &s.jobs
	var gone []*job
	n, bytes := js.ended.Len(), js.endedBytes
	js.ended.Ascend(func(j *job) bool {
		old := js.cfg.RetainFor > 0 && t-j.ended >= int64(js.cfg.RetainFor)
		if n <= js.cfg.Retain && bytes <= maxHistoryBytes && !old {
			return false
		}
		if !j.cleanup {
			gone = append(gone, j)
			n--
			bytes -= int64(len(j.request))
		}
		return true
	})
	for _, j := range gone {
		js.forget(j)
	}
}

func (js *jobs) forget(j *job) {
	js.ended.Delete(j)
	js.endedBytes -= int64(len(j.request))
	delete(js.byID, j.id)
	delete(js.byExec, j.execID)
	if j.key != 0 && js.byKey[j.key] == j {
		delete(js.byKey, j.key)
	}
	if u := js.byUser[j.user]; u != nil {
		u.Delete(j)
		if u.Len() == 0 {
			delete(js.byUser, j.user)
		}
	}
	js.all.Delete(j)
	delete(js.live, j.id)
}

// insert files a new job in the indexes.
func (js *jobs) insert(j *job) {
	js.byID[j.id] = j
	js.byExec[j.execID] = j
	if j.key != 0 {
		js.byKey[j.key] = j
	}
	u := js.byUser[j.user]
	if u == nil {
		u = newJobTree()
		js.byUser[j.user] = u
	}
	u.ReplaceOrInsert(j)
	js.all.ReplaceOrInsert(j)
	if j.id >= js.nextID {
		js.nextID = j.id + 1
	}
}

// enqueue puts a new job at the end of its group's queue.
func (js *jobs) enqueue(j *job) {
	g := js.group(jobGroupKey{j.creator, j.user, j.engineType})
	j.group = g
	g.push(j)
	js.fixRing(g)
	js.jobDues.add(j, js.jobDue(j))
}

// clip cuts a line to MaxJobLineBytes.
func clip(s string) string { return clipBytes(s, MaxJobLineBytes) }
