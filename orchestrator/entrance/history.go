package entrance

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

// History is where the entrance keeps its jobs: their records, their logs
// and the indexes it reads them by. BoltHistory is the embedded default; a
// database can take its place.
//
// Insert is synchronous and durable. Update and AppendLog are written
// behind: they must be visible to Get and Log at once (from memory), and
// reach the disk shortly after, in batches; a crash may lose the last
// moments of them, which the entrance settles at its next Open.
type History interface {
	// Insert assigns job.TaskID (monotonic, never reused) and job.ExecID
	// (unique), stores the job durably and returns once it is on disk.
	// Concurrent inserts share commits. On error nothing is stored.
	Insert(job *orchestrator.Job) error
	// Update records the job's latest snapshot (the job must have been
	// inserted). Several updates of one job between two commits are written
	// once.
	Update(job orchestrator.Job)
	// AppendLog appends lines to the job's log, within its caps.
	AppendLog(taskID int64, lines []string)
	// Get returns a job by task id (linkis.ErrUnknownJob if none).
	Get(taskID int64) (orchestrator.Job, error)
	// Resolve returns the task id and the user of the job with an exec id
	// (linkis.ErrUnknownJob if none), without reading its record.
	Resolve(execID string) (taskID int64, user string, err error)
	// List returns a user's jobs selected by q, newest first, one page of
	// them and the number of all that match. q is already validated.
	List(user string, q orchestrator.ListQuery) ([]orchestrator.Job, int, error)
	// Log returns up to size lines of the job's log from line from, the
	// number of lines stored, and whether lines are still waiting to be
	// written.
	Log(taskID int64, from, size int) (lines []string, total int, pending bool, err error)
	// Unfinished calls fn with every job not in a final state, in TaskID
	// order.
	Unfinished(fn func(orchestrator.Job) error) error
	// Count returns the number of jobs stored.
	Count() (int, error)
	// Flush returns once everything given before it is on disk.
	Flush() error
	// Close flushes and closes the history.
	Close() error
}

// Buckets of the bbolt history.
var (
	bucketJobs    = []byte("jobs")    // taskID → JSON Job without its request
	bucketReqs    = []byte("reqs")    // taskID → JSON JobRequest
	bucketExec    = []byte("exec")    // execID → taskID, user
	bucketUser    = []byte("user")    // user \x00 taskID → summary (state, created, creator \x00 engineType)
	bucketLive    = []byte("live")    // taskID → state, for jobs not yet final
	bucketLogs    = []byte("logs")    // taskID, line number → line
	bucketLogMeta = []byte("logmeta") // taskID → lines, bytes, truncated
)

// LogTruncated is the last line of a log that reached its cap.
const LogTruncated = "WARN log truncated: the job's log reached its size cap; later lines are dropped"

// BoltOptions tune a BoltHistory.
type BoltOptions struct {
	// NoSync skips fsync: faster, not durable. For tests and benchmarks.
	NoSync bool
	// LogMaxLines and LogMaxBytes cap each job's log; past either, one
	// LogTruncated line ends it. 0: 10,000 lines, 1 MiB.
	LogMaxLines int
	LogMaxBytes int
	// Log receives write errors.
	Log *slog.Logger
}

// BoltHistory is the History on a bbolt file. One writer goroutine commits
// everything: each commit takes all the inserts, updates and log lines
// pending at that moment, so concurrent submits share one fsync and
// repeated updates of a job collapse into one write.
type BoltHistory struct {
	db   *bolt.DB
	opts BoltOptions
	log  *slog.Logger

	mu         sync.Mutex
	inserts    []*insertOp
	dirty      map[int64]*orchestrator.Job // latest snapshots not yet committing
	committing map[int64]*orchestrator.Job // snapshots in the commit under way
	logs       map[int64][]string          // lines not yet committing
	logsCommit map[int64][]string          // lines in the commit under way
	logBytes   map[int64]int               // bytes of logs, per job
	closed     bool
	seq        int64 // the last task id given (the writer's)

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	// abort makes the writer stop without a last commit (tests: a crash).
	abort chan struct{}
}

type insertOp struct {
	job  *orchestrator.Job // nil: a flush barrier
	err  error
	done chan struct{}
}

// OpenBolt opens (or creates) the history in file path.
func OpenBolt(path string, opts BoltOptions) (*BoltHistory, error) {
	// NoFreelistSync: commits do not write the free list (it is rebuilt by
	// a scan at open), as etcd, Consul and Nomad run bbolt; measured on
	// BenchmarkEntranceOverhead, 10 alternating runs: fsync 97.0 → 89.7
	// µs/job, nosync 60.8 → 57.7, queued-fsync even.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: opts.NoSync, FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("entrance: open history %s: %w", path, err)
	}
	var seq int64
	err = db.Update(func(tx *bolt.Tx) error {
		defer func() {
			if b := tx.Bucket(bucketJobs); b != nil {
				seq = int64(b.Sequence())
			}
		}()
		for _, b := range [][]byte{bucketJobs, bucketReqs, bucketExec, bucketUser, bucketLive, bucketLogs, bucketLogMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("entrance: init history %s: %w", path, err)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.LogMaxLines <= 0 {
		opts.LogMaxLines = 10000
	}
	if opts.LogMaxBytes <= 0 {
		opts.LogMaxBytes = 1 << 20
	}
	h := &BoltHistory{
		db: db, opts: opts, log: opts.Log, seq: seq,
		dirty: map[int64]*orchestrator.Job{}, logs: map[int64][]string{}, logBytes: map[int64]int{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), abort: make(chan struct{}),
	}
	go h.writer()
	return h, nil
}

func key64(id int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	return b[:]
}

func userKey(user string, id int64) []byte {
	b := make([]byte, 0, len(user)+9)
	b = append(b, user...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, uint64(id))
}

func summary(j *orchestrator.Job) []byte {
	b := make([]byte, 0, 10+len(j.Creator)+len(j.EngineType))
	b = append(b, byte(j.State))
	b = binary.BigEndian.AppendUint64(b, uint64(j.Created.UnixNano()))
	b = append(b, j.Creator...)
	b = append(b, 0)
	return append(b, j.EngineType...)
}

func (h *BoltHistory) signal() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// Insert implements History.
func (h *BoltHistory) Insert(job *orchestrator.Job) error {
	op := &insertOp{job: job, done: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return linkis.Errorf(linkis.ErrUnavailable, "history", "closed")
	}
	h.inserts = append(h.inserts, op)
	h.mu.Unlock()
	h.signal()
	<-op.done
	return op.err
}

// Update implements History.
func (h *BoltHistory) Update(job orchestrator.Job) {
	h.mu.Lock()
	h.dirty[job.TaskID] = &job
	h.mu.Unlock()
	h.signal()
}

// AppendLog implements History.
func (h *BoltHistory) AppendLog(taskID int64, lines []string) {
	if len(lines) == 0 {
		return
	}
	h.mu.Lock()
	// Bound what waits in memory by the caps: lines are taken until a cap
	// is passed by one line (the commit then ends the log with
	// LogTruncated), and a single line beyond LogMaxBytes is cut.
	pending, size := h.logs[taskID], h.logBytes[taskID]
	for _, l := range lines {
		if len(pending) > h.opts.LogMaxLines || size > h.opts.LogMaxBytes {
			break
		}
		if len(l) > h.opts.LogMaxBytes {
			l = l[:h.opts.LogMaxBytes+1]
		}
		pending = append(pending, l)
		size += len(l)
	}
	h.logs[taskID], h.logBytes[taskID] = pending, size
	h.mu.Unlock()
	h.signal()
}

// Flush implements History.
func (h *BoltHistory) Flush() error {
	op := &insertOp{done: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.inserts = append(h.inserts, op)
	h.mu.Unlock()
	h.signal()
	<-op.done
	return op.err
}

// Close implements History: a last commit of everything pending, then the
// file is closed.
func (h *BoltHistory) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	close(h.stop)
	<-h.done
	return h.db.Close()
}

func (h *BoltHistory) writer() {
	defer close(h.done)
	backoff := time.Duration(0)
	for {
		select {
		case <-h.abort:
			h.failInserts(linkis.Errorf(linkis.ErrUnavailable, "history", "closed"))
			return
		case <-h.stop:
			if err := h.commit(); err != nil {
				h.log.Error("entrance history: last commit failed", "err", err)
			}
			return
		case <-h.kick:
		}
		if err := h.commit(); err != nil {
			backoff = min(max(2*backoff, 10*time.Millisecond), time.Second)
			h.log.Error("entrance history: commit failed; retrying", "err", err, "in", backoff)
			select {
			case <-time.After(backoff):
			case <-h.stop:
			case <-h.abort:
			}
			h.signal()
		} else {
			backoff = 0
		}
	}
}

func (h *BoltHistory) failInserts(err error) {
	h.mu.Lock()
	ops := h.inserts
	h.inserts = nil
	h.mu.Unlock()
	for _, op := range ops {
		op.err = err
		close(op.done)
	}
}

type encoded struct {
	id       int64
	user     string
	execID   string
	job, req []byte
	summary  []byte
	final    bool
	state    orchestrator.State
}

// encode marshals a job's record without its request (written once, at
// insert, so that state updates do not rewrite the code).
func encode(j *orchestrator.Job) (encoded, error) {
	rec := *j
	rec.Request = orchestrator.JobRequest{}
	b, err := json.Marshal(&rec)
	if err != nil {
		return encoded{}, err
	}
	return encoded{id: j.TaskID, user: j.User, execID: j.ExecID, job: b, summary: summary(j), final: j.State.Final(), state: j.State}, nil
}

// commit writes one batch. Records are encoded before the transaction: a
// record that cannot be encoded fails its insert (or, for an update, is
// logged and dropped) without failing the others. Inserts that fail get
// the error; updates and log lines that fail go back to wait for the next
// commit.
func (h *BoltHistory) commit() error {
	h.mu.Lock()
	ops := h.inserts
	h.inserts = nil
	h.committing, h.dirty = h.dirty, make(map[int64]*orchestrator.Job, len(h.dirty))
	h.logsCommit, h.logs = h.logs, make(map[int64][]string, len(h.logs))
	clear(h.logBytes)
	updates, logs := h.committing, h.logsCommit
	h.mu.Unlock()
	if len(ops) == 0 && len(updates) == 0 && len(logs) == 0 {
		h.mu.Lock()
		h.committing, h.logsCommit = nil, nil
		h.mu.Unlock()
		return nil
	}

	var ins, ups []encoded
	var insOps []*insertOp
	for _, op := range ops {
		if op.job == nil {
			continue
		}
		j := op.job
		h.seq++
		j.TaskID = h.seq
		j.ExecID = newExecID(j.TaskID)
		enc, err := encode(j)
		if err == nil {
			enc.req, err = json.Marshal(&j.Request)
		}
		if err != nil {
			op.err = linkis.Errorf(linkis.ErrInvalidArgument, "request", "cannot be stored: %v", err)
			j.TaskID, j.ExecID = 0, ""
			continue
		}
		ins = append(ins, enc)
		insOps = append(insOps, op)
	}
	for _, j := range updates {
		enc, err := encode(j)
		if err != nil {
			h.log.Error("entrance history: bug: cannot encode a job; update dropped", "taskID", j.TaskID, "err", err)
			continue
		}
		ups = append(ups, enc)
	}

	err := h.db.Update(func(tx *bolt.Tx) error {
		jobs, reqs, exec, users, live := tx.Bucket(bucketJobs), tx.Bucket(bucketReqs), tx.Bucket(bucketExec), tx.Bucket(bucketUser), tx.Bucket(bucketLive)
		put := func(r *encoded) error {
			k := key64(r.id)
			if err := jobs.Put(k, r.job); err != nil {
				return err
			}
			if err := users.Put(userKey(r.user, r.id), r.summary); err != nil {
				return err
			}
			if r.final {
				return live.Delete(k)
			}
			return live.Put(k, []byte{byte(r.state)})
		}
		for i := range ins {
			r := &ins[i]
			k := key64(r.id)
			if err := reqs.Put(k, r.req); err != nil {
				return err
			}
			if err := exec.Put([]byte(r.execID), append(k, r.user...)); err != nil {
				return err
			}
			if err := put(r); err != nil {
				return err
			}
		}
		if len(ins) > 0 {
			if err := jobs.SetSequence(uint64(h.seq)); err != nil {
				return err
			}
		}
		for i := range ups {
			if err := put(&ups[i]); err != nil {
				return err
			}
		}
		for id, lines := range logs {
			if err := h.appendLogTx(tx, id, lines); err != nil {
				return err
			}
		}
		return nil
	})
	h.mu.Lock()
	if err != nil {
		// Put back what a later commit must still write, unless newer.
		for id, j := range updates {
			if _, newer := h.dirty[id]; !newer {
				h.dirty[id] = j
			}
		}
		for id, lines := range logs {
			h.logs[id] = append(lines, h.logs[id]...)
		}
	}
	h.committing, h.logsCommit = nil, nil
	h.mu.Unlock()
	if err != nil {
		for _, op := range insOps {
			op.err = fmt.Errorf("entrance: persist job: %w", err)
			op.job.TaskID, op.job.ExecID = 0, ""
		}
	}
	for _, op := range ops {
		close(op.done)
	}
	return err
}

func (h *BoltHistory) appendLogTx(tx *bolt.Tx, id int64, lines []string) error {
	meta, logs := tx.Bucket(bucketLogMeta), tx.Bucket(bucketLogs)
	k := key64(id)
	var n, size uint32
	var truncated bool
	if m := meta.Get(k); len(m) == 9 {
		n, size, truncated = binary.BigEndian.Uint32(m), binary.BigEndian.Uint32(m[4:]), m[8] == 1
	}
	if truncated {
		return nil
	}
	lk := make([]byte, 12)
	copy(lk, k)
	for _, line := range lines {
		if int(n) >= h.opts.LogMaxLines || int(size)+len(line) > h.opts.LogMaxBytes {
			line, truncated = LogTruncated, true
		}
		binary.BigEndian.PutUint32(lk[8:], n)
		if err := logs.Put(lk, []byte(line)); err != nil {
			return err
		}
		n++
		size += uint32(len(line))
		if truncated {
			break
		}
	}
	m := make([]byte, 9)
	binary.BigEndian.PutUint32(m, n)
	binary.BigEndian.PutUint32(m[4:], size)
	if truncated {
		m[8] = 1
	}
	return meta.Put(k, m)
}

func newExecID(taskID int64) string {
	var r [4]byte
	rand.Read(r[:])
	return "exec_" + strconv.FormatInt(taskID, 10) + "_" + hex.EncodeToString(r[:])
}

// memo returns the newest snapshot still in memory, if any.
func (h *BoltHistory) memo(taskID int64) (orchestrator.Job, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if j, ok := h.dirty[taskID]; ok {
		return *j, true
	}
	if j, ok := h.committing[taskID]; ok {
		return *j, true
	}
	return orchestrator.Job{}, false
}

// Get implements History.
func (h *BoltHistory) Get(taskID int64) (orchestrator.Job, error) {
	if j, ok := h.memo(taskID); ok {
		return j, nil
	}
	var j orchestrator.Job
	found := false
	err := h.db.View(func(tx *bolt.Tx) error {
		k := key64(taskID)
		v := tx.Bucket(bucketJobs).Get(k)
		if v == nil {
			return nil
		}
		found = true
		if err := json.Unmarshal(v, &j); err != nil {
			return err
		}
		if r := tx.Bucket(bucketReqs).Get(k); r != nil {
			return json.Unmarshal(r, &j.Request)
		}
		return nil
	})
	if err != nil {
		return j, fmt.Errorf("entrance: read job %d: %w", taskID, err)
	}
	if !found {
		// A snapshot may have moved from memory to disk meanwhile.
		if j, ok := h.memo(taskID); ok {
			return j, nil
		}
		return j, linkis.ValueError(linkis.ErrUnknownJob, "taskID", strconv.FormatInt(taskID, 10), "no such job")
	}
	// The commit that wrote j may have raced a newer snapshot into memory.
	if m, ok := h.memo(taskID); ok {
		return m, nil
	}
	return j, nil
}

// Resolve implements History.
func (h *BoltHistory) Resolve(execID string) (int64, string, error) {
	var id int64 = -1
	var user string
	err := h.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketExec).Get([]byte(execID)); len(v) >= 8 {
			id, user = int64(binary.BigEndian.Uint64(v)), string(v[8:])
		}
		return nil
	})
	if err != nil {
		return 0, "", fmt.Errorf("entrance: read exec id: %w", err)
	}
	if id < 0 {
		return 0, "", linkis.ValueError(linkis.ErrUnknownJob, "execID", execID, "no such job")
	}
	return id, user, nil
}

func matches(q *orchestrator.ListQuery, v []byte) bool {
	if len(v) < 10 {
		return false
	}
	if q.State != 0 && orchestrator.State(v[0]) != q.State {
		return false
	}
	created := int64(binary.BigEndian.Uint64(v[1:9]))
	if !q.Since.IsZero() && created < q.Since.UnixNano() {
		return false
	}
	if !q.Until.IsZero() && created >= q.Until.UnixNano() {
		return false
	}
	creator, engine, _ := bytes.Cut(v[9:], []byte{0})
	if q.Creator != "" && string(creator) != q.Creator {
		return false
	}
	if q.EngineType != "" && string(engine) != q.EngineType {
		typ, _, _ := bytes.Cut(engine, []byte{'-'})
		if string(typ) != q.EngineType {
			return false
		}
	}
	return true
}

// List implements History. It scans the user's index entries (small
// summaries, not records) and reads the records of the page only. The
// state filter sees the state last committed: a job that changed in the
// last moments may be filtered by its previous state.
func (h *BoltHistory) List(user string, q orchestrator.ListQuery) ([]orchestrator.Job, int, error) {
	skip := (q.Page - 1) * q.PageSize
	var ids []int64
	total := 0
	err := h.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketUser).Cursor()
		prefix := append([]byte(user), 0)
		end := append([]byte(user), 1)
		k, v := c.Seek(end)
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, v = c.Prev() {
			if !matches(&q, v) {
				continue
			}
			if total >= skip && len(ids) < q.PageSize {
				ids = append(ids, int64(binary.BigEndian.Uint64(k[len(prefix):])))
			}
			total++
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("entrance: list jobs: %w", err)
	}
	jobs := make([]orchestrator.Job, 0, len(ids))
	for _, id := range ids {
		j, err := h.Get(id)
		if err != nil {
			return nil, 0, err
		}
		jobs = append(jobs, j)
	}
	return jobs, total, nil
}

// Log implements History.
func (h *BoltHistory) Log(taskID int64, from, size int) ([]string, int, bool, error) {
	h.mu.Lock()
	pending := len(h.logs[taskID]) > 0 || len(h.logsCommit[taskID]) > 0
	h.mu.Unlock()
	var lines []string
	total := 0
	err := h.db.View(func(tx *bolt.Tx) error {
		k := key64(taskID)
		if m := tx.Bucket(bucketLogMeta).Get(k); len(m) == 9 {
			total = int(binary.BigEndian.Uint32(m))
		}
		if from >= total {
			return nil
		}
		lk := make([]byte, 12)
		copy(lk, k)
		binary.BigEndian.PutUint32(lk[8:], uint32(from))
		c := tx.Bucket(bucketLogs).Cursor()
		for k2, v := c.Seek(lk); k2 != nil && bytes.HasPrefix(k2, k) && len(lines) < size; k2, v = c.Next() {
			lines = append(lines, string(v))
		}
		return nil
	})
	if err != nil {
		return nil, 0, false, fmt.Errorf("entrance: read log: %w", err)
	}
	return lines, total, pending, nil
}

// Unfinished implements History.
func (h *BoltHistory) Unfinished(fn func(orchestrator.Job) error) error {
	var ids []int64
	err := h.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLive).ForEach(func(k, _ []byte) error {
			ids = append(ids, int64(binary.BigEndian.Uint64(k)))
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("entrance: read unfinished jobs: %w", err)
	}
	for _, id := range ids {
		j, err := h.Get(id)
		if errors.Is(err, linkis.ErrUnknownJob) {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(j); err != nil {
			return err
		}
	}
	return nil
}

// Count implements History.
func (h *BoltHistory) Count() (int, error) {
	n := 0
	err := h.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketJobs).Stats().KeyN
		return nil
	})
	return n, err
}
