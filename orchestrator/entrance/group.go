package entrance

import (
	"container/heap"

	"github.com/golinkis/golinkis/orchestrator"
)

// qjob is a job the entrance holds in memory from its acceptance to its
// end. While queued it is all the entrance keeps of the job (the request
// stays in History until dispatch), so it is small: about 100 bytes.
type qjob struct {
	taskID   int64
	g        *group
	prev     *qjob // in g's queue
	next     *qjob
	queuedAt int64 // unix nanoseconds it entered the queue
	deadline int64 // unix nanoseconds of its queuing timeout; 0: none
	heapIdx  int32 // in the deadline heap; -1: not in it
	state    orchestrator.State
	ending   bool // taken out of its queue to be ended
	run      *run // set at dispatch
	// rec is the record as Submit queued it, when small: its dispatch
	// then need not read it back.
	rec *queuedCopy
}

// group is a consumer group: a FIFO queue of jobs and the count of its
// running ones. A group lives while it has queued, reserved or running
// jobs; the entrance forgets it when it has none.
type group struct {
	key  groupKey
	name string // Creator_User_EngineType: ambiguous when names hold '_'

	head, tail *qjob
	queued     int // jobs in the queue
	reserved   int // submits persisting, counted against the capacity
	running    int
	maxRunning int
	capacity   int

	// The ring of groups that can dispatch (queued > 0, running <
	// maxRunning), in round-robin order.
	inRing           bool
	ringPrev, ringNx *group
}

// groupKey identifies a consumer group (its name cannot: "A_B" + "c" and
// "A" + "B_c" make the same).
type groupKey struct{ creator, user, engineType string }

func (g *group) push(q *qjob) {
	q.g = g
	q.prev, q.next = g.tail, nil
	if g.tail == nil {
		g.head = q
	} else {
		g.tail.next = q
	}
	g.tail = q
	g.queued++
}

func (g *group) remove(q *qjob) {
	if q.prev == nil {
		g.head = q.next
	} else {
		q.prev.next = q.next
	}
	if q.next == nil {
		g.tail = q.prev
	} else {
		q.next.prev = q.prev
	}
	q.prev, q.next = nil, nil
	g.queued--
}

func (g *group) eligible() bool { return g.queued > 0 && g.running < g.maxRunning }

func (g *group) idle() bool { return g.queued == 0 && g.reserved == 0 && g.running == 0 }

// ring is a circular list of groups; head is the next to dispatch.
type ring struct {
	head *group
	n    int
}

func (r *ring) add(g *group) {
	if g.inRing {
		return
	}
	g.inRing = true
	r.n++
	if r.head == nil {
		g.ringPrev, g.ringNx = g, g
		r.head = g
		return
	}
	// Insert before head: the last in turn.
	last := r.head.ringPrev
	g.ringPrev, g.ringNx = last, r.head
	last.ringNx = g
	r.head.ringPrev = g
}

func (r *ring) del(g *group) {
	if !g.inRing {
		return
	}
	g.inRing = false
	r.n--
	if r.n == 0 {
		r.head = nil
	} else {
		g.ringPrev.ringNx = g.ringNx
		g.ringNx.ringPrev = g.ringPrev
		if r.head == g {
			r.head = g.ringNx
		}
	}
	g.ringPrev, g.ringNx = nil, nil
}

// advance makes the group after head the next in turn.
func (r *ring) advance() {
	if r.head != nil {
		r.head = r.head.ringNx
	}
}

// deadlines is a min-heap of queued jobs by queuing deadline.
type deadlines []*qjob

func (d deadlines) Len() int           { return len(d) }
func (d deadlines) Less(i, j int) bool { return d[i].deadline < d[j].deadline }
func (d deadlines) Swap(i, j int) {
	d[i], d[j] = d[j], d[i]
	d[i].heapIdx, d[j].heapIdx = int32(i), int32(j)
}
func (d *deadlines) Push(x any) {
	q := x.(*qjob)
	q.heapIdx = int32(len(*d))
	*d = append(*d, q)
}
func (d *deadlines) Pop() any {
	old := *d
	q := old[len(old)-1]
	old[len(old)-1] = nil
	*d = old[:len(old)-1]
	q.heapIdx = -1
	return q
}

func (d *deadlines) drop(q *qjob) {
	if q.heapIdx >= 0 {
		heap.Remove(d, int(q.heapIdx))
	}
}
