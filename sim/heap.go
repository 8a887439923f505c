package sim

// event is one entry of the event heap: what happens (kind), to what (ref,
// aux), and when. Ties in time go to the event scheduled first (seq), so
// the order never depends on anything but the run's own history.
type event struct {
	at   int64
	seq  uint64
	ref  int64  // job, engine, ECM or fault index, by kind
	aux  uint64 // generation or incarnation, by kind
	kind evKind
	// delivered marks a manager call already delayed by the network (or a
	// leader election): it is not delayed again.
	delivered bool
}

func (a *event) before(b *event) bool {
	return a.at < b.at || a.at == b.at && a.seq < b.seq
}

// eventHeap is a 4-ary min-heap of events by (at, seq): shallower than a
// binary heap, and its children share cache lines.
type eventHeap struct{ es []event }

func (h *eventHeap) len() int { return len(h.es) }

func (h *eventHeap) push(e event) {
	h.es = append(h.es, e)
	i := len(h.es) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !h.es[i].before(&h.es[p]) {
			break
		}
		h.es[i], h.es[p] = h.es[p], h.es[i]
		i = p
	}
}

func (h *eventHeap) pop() event {
	top := h.es[0]
	last := len(h.es) - 1
	h.es[0] = h.es[last]
	h.es = h.es[:last]
	n := last
	i := 0
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		best := c
		for j := c + 1; j < c+4 && j < n; j++ {
			if h.es[j].before(&h.es[best]) {
				best = j
			}
		}
		if !h.es[best].before(&h.es[i]) {
			break
		}
		h.es[i], h.es[best] = h.es[best], h.es[i]
		i = best
	}
	return top
}

// lane is a FIFO of events pushed with one fixed delay (a heartbeat
// period, the renewal period): since virtual time never goes back, they
// arrive in order, and a lane pops in O(1) what would cost a heap
// O(log n). Most events of a large run are periodic, so the lanes carry
// most of the traffic and the heap keeps only what varies.
type lane struct {
	es   []event
	head int
}

func (l *lane) len() int { return len(l.es) - l.head }

func (l *lane) push(e event) { l.es = append(l.es, e) }

func (l *lane) peek() *event { return &l.es[l.head] }

func (l *lane) pop() event {
	e := l.es[l.head]
	l.head++
	if l.head >= 1024 && l.head*2 >= len(l.es) {
		n := copy(l.es, l.es[l.head:])
		l.es = l.es[:n]
		l.head = 0
	}
	return e
}
