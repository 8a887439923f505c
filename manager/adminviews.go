package manager

import (
	"cmp"
	"slices"
	"strings"

	"github.com/golinkis/golinkis/linkis"
)

// Paged reads for an operator: a page costs a walk of what the filters
// leave and a copy of the page only, never a copy of the state.

// ECMQuery selects ECMs, ordered by id.
type ECMQuery struct {
	Instance string             // a substring of the id or the address
	Health   *linkis.NodeHealth // nil: any
	Owner    string             // hosts an engine of this user
	Tenant   string             // a substring of its tenant label
	Labels   linkis.Labels      // it carries every one
	Offset   int
	Limit    int
}

// ListECMs returns the ECMs q selects, ordered by id, and how many match
// in all.
func (s *State) ListECMs(q ECMQuery) ([]ECMInfo, int) {
	// The groups' members are ordered by id already: merge them.
	gs := make([]*ecmGroup, 0, len(s.groups))
	for _, g := range s.groups {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(a, b *ecmGroup) int { return cmp.Compare(a.tenant, b.tenant) })
	pos := make([]int, len(gs))
	var out []ECMInfo
	total := 0
	for {
		var m *ecm
		at := -1
		for i, g := range gs {
			if pos[i] < len(g.byID) && (m == nil || g.byID[pos[i]].id < m.id) {
				m, at = g.byID[pos[i]], i
			}
		}
		if m == nil {
			return out, total
		}
		pos[at]++
		if !q.matches(m) {
			continue
		}
		if total >= q.Offset && len(out) < q.Limit {
			out = append(out, m.info())
		}
		total++
	}
}

func (q *ECMQuery) matches(m *ecm) bool {
	if q.Instance != "" && !containsAny(q.Instance, m.id, m.addr) || q.Health != nil && m.health != *q.Health {
		return false
	}
	if q.Tenant != "" {
		if t, ok := m.labels.Get(linkis.LabelTenant); !ok || !strings.Contains(t, q.Tenant) {
			return false
		}
	}
	for _, l := range q.Labels {
		if v, ok := m.labels.Get(l.Key); !ok || v != l.Value {
			return false
		}
	}
	if q.Owner != "" {
		for _, e := range m.ecs {
			if e.user == q.Owner {
				return true
			}
		}
		return false
	}
	return true
}

func containsAny(sub string, ss ...string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// OperatorHealth returns the health an operator gave an ECM (drain), if
// one did.
func (s *State) OperatorHealth(id string) (linkis.NodeHealth, bool) {
	if n := s.admin.health[id]; n != nil {
		return n.forced, true
	}
	return 0, false
}

// ECMByInstance returns the ECM registered as name: its id or its
// address.
func (s *State) ECMByInstance(name string) (ECMInfo, bool) {
	if m := s.ecms[name]; m != nil {
		return m.info(), true
	}
	for _, m := range s.ecms {
		if m.addr == name {
			return m.info(), true
		}
	}
	return ECMInfo{}, false
}

// EngineByInstance returns the live engine an instance names: its address
// (Linkis's instance) or its ticket (ec-N).
func (s *State) EngineByInstance(name string) (ECInfo, bool) {
	e := s.addrs[name]
	if e == nil {
		if id, err := ParseECID(name); err == nil {
			e = s.ecs[id]
		}
	}
	if e == nil {
		return ECInfo{}, false
	}
	return e.info(), true
}

// EngineQuery selects live engines, ordered by id.
type EngineQuery struct {
	ECM         string              // on this ECM ("": any)
	Users       []string            // of one of these users (empty: any)
	EngineTypes []string            // of one of these types ("type" or "type-version"; empty: any)
	Statuses    []linkis.NodeStatus // in one of these statuses (empty: any)
	Offset      int
	Limit       int
}

// ListEngines returns the engines q selects, ordered by id, and how many
// match in all. It walks the engines of the ECM, or of the users, when q
// names them, else every engine; it keeps only the page.
func (s *State) ListEngines(q EngineQuery) ([]ECInfo, int) {
	page := newTopK(q.Offset+q.Limit, func(a, b *ec) bool { return a.id < b.id })
	total := 0
	users := make(map[string]bool, len(q.Users))
	for _, u := range q.Users {
		users[u] = true
	}
	check := users // the keys walked below are the users' already: their engines need no check
	visit := func(e *ec) {
		if q.matches(e, check) {
			total++
			page.offer(e)
		}
	}
	switch {
	case q.ECM != "":
		if m := s.ecms[q.ECM]; m != nil {
			for _, e := range m.ecs {
				visit(e)
			}
		}
	case len(q.Users) > 0:
		check = nil
		for _, k := range s.keys {
			if users[keyUser(k.key)] {
				for _, e := range k.ecs {
					visit(e)
				}
			}
		}
	default:
		for _, e := range s.ecs {
			visit(e)
		}
	}
	es := page.sorted()
	if q.Offset >= len(es) {
		return nil, total
	}
	es = es[q.Offset:]
	out := make([]ECInfo, len(es))
	for i, e := range es {
		out[i] = e.info()
	}
	return out, total
}

func (q *EngineQuery) matches(e *ec, users map[string]bool) bool {
	switch {
	case q.ECM != "" && e.ecm.id != q.ECM,
		len(users) > 0 && !users[e.user],
		len(q.Statuses) > 0 && !slices.Contains(q.Statuses, e.status):
		return false
	}
	if len(q.EngineTypes) > 0 {
		for _, t := range q.EngineTypes {
			if t == e.et.Type || t == e.et.String() {
				return true
			}
		}
		return false
	}
	return true
}

// KeyQuery selects combined labels (ledger rows), ordered by key.
type KeyQuery struct {
	User, Creator string // "": any
	EngineType    string // the type or type-version; "": any
	Offset, Limit int
}

// ListKeys returns the ledger rows of the combined labels q selects -
// those that hold something or have asks waiting - ordered by key, and how
// many match in all.
func (s *State) ListKeys(q KeyQuery) ([]KeyInfo, int) {
	page := newTopK(q.Offset+q.Limit, func(a, b *keyState) bool { return a.key < b.key })
	total := 0
	for _, k := range s.keys {
		user, creator, et, _ := parseKey(k.key)
		if q.User != "" && user != q.User || q.Creator != "" && creator != q.Creator ||
			q.EngineType != "" && q.EngineType != et.Type && q.EngineType != et.String() {
			continue
		}
		total++
		page.offer(k)
	}
	ks := page.sorted()
	if q.Offset >= len(ks) {
		return nil, total
	}
	out := make([]KeyInfo, 0, len(ks)-q.Offset)
	for _, k := range ks[q.Offset:] {
		out = append(out, s.Key(k.key))
	}
	return out, total
}

// topK keeps the k least items offered (a max-heap of them).
type topK[T any] struct {
	k    int
	less func(a, b T) bool
	h    []T
}

func newTopK[T any](k int, less func(a, b T) bool) *topK[T] {
	return &topK[T]{k: max(k, 0), less: less}
}

func (t *topK[T]) offer(x T) {
	switch {
	case t.k == 0:
	case len(t.h) < t.k:
		t.h = append(t.h, x)
		for i := len(t.h) - 1; i > 0; { // up
			p := (i - 1) / 2
			if !t.less(t.h[p], t.h[i]) {
				break
			}
			t.h[p], t.h[i] = t.h[i], t.h[p]
			i = p
		}
	case t.less(x, t.h[0]):
		t.h[0] = x
		for i := 0; ; { // down
			l, r, big := 2*i+1, 2*i+2, i
			if l < len(t.h) && t.less(t.h[big], t.h[l]) {
				big = l
			}
			if r < len(t.h) && t.less(t.h[big], t.h[r]) {
				big = r
			}
			if big == i {
				break
			}
			t.h[i], t.h[big] = t.h[big], t.h[i]
			i = big
		}
	}
}

// sorted returns the items kept, least first.
func (t *topK[T]) sorted() []T {
	slices.SortFunc(t.h, func(a, b T) int {
		switch {
		case t.less(a, b):
			return -1
		case t.less(b, a):
			return 1
		}
		return 0
	})
	return t.h
}
