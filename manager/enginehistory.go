package manager

import (
	"github.com/golinkis/golinkis/linkis"
)

// The engines that ended: when, why, on which ECM, what they held - what
// Linkis keeps in its EC resource records and the console lists as the
// engines' history. A bounded ring in the replicated state: the latest
// MaxEngineHistory ends, on every member, surviving restarts.

// MaxEngineHistory bounds the ended engines the state remembers; the
// oldest go first.
const MaxEngineHistory = 5000

// maxHistoryReason bounds the last words a record keeps.
const maxHistoryReason = 1024

// EngineRecord is an engine that ended.
type EngineRecord struct {
	ID         ECID
	ECM        string // the ECM that hosted it
	ECMAddr    string // its address then
	Key        string // combined label
	User       string
	EngineType linkis.EngineType
	Labels     linkis.Labels
	Addr       string // where it served ("" if it never started)
	Resource   linkis.Resource
	Started    bool // it reported it was up
	Tasks      int  // asks it served
	CreatedAt  int64
	EndedAt    int64
	Failed     bool
	Reason     string
}

// engineHistory is a ring of records, oldest at head.
type engineHistory struct {
	recs []EngineRecord
	head int
}

func (h *engineHistory) len() int { return len(h.recs) }

// at returns the i-th record, oldest first.
func (h *engineHistory) at(i int) *EngineRecord { return &h.recs[(h.head+i)%len(h.recs)] }

func (h *engineHistory) push(r EngineRecord) {
	if len(h.recs) < MaxEngineHistory {
		h.recs = append(h.recs, r)
		return
	}
	h.recs[h.head] = r
	h.head = (h.head + 1) % len(h.recs)
}

// recordEnded remembers an engine as it ends.
func (s *State) recordEnded(t int64, e *ec, failed bool, reason string) {
	reason = clipBytes(reason, maxHistoryReason)
	s.admin.history.push(EngineRecord{
		ID: e.id, ECM: e.ecm.id, ECMAddr: e.ecm.addr, Key: e.key.key, User: e.user, EngineType: e.et, Labels: e.labels,
		Addr: e.addr, Resource: e.res, Started: e.used, Tasks: int(e.tasks), CreatedAt: e.createdAt, EndedAt: t,
		Failed: failed, Reason: reason,
	})
}

// EndedEngine returns the record of an engine that ended, while the
// history holds it.
func (s *State) EndedEngine(id ECID) (EngineRecord, bool) {
	h := &s.admin.history
	for i := h.len() - 1; i >= 0; i-- {
		if r := h.at(i); r.ID == id {
			return *r, true
		}
	}
	return EngineRecord{}, false
}

// HistoryQuery selects ended engines, newest first.
type HistoryQuery struct {
	User       string // "": every user's
	Instance   string // a substring of the engine's address or ticket, or of its ECM's id or address
	EngineType string // the type, or type-version
	Since      int64  // ended at or after (Unix ns); 0: no bound
	Until      int64  // ended before; 0: no bound
	Offset     int
	Limit      int
}

// EngineHistory returns the ended engines q selects, newest first, and
// how many match in all.
func (s *State) EngineHistory(q HistoryQuery) ([]EngineRecord, int) {
	h := &s.admin.history
	var out []EngineRecord
	total := 0
	for i := h.len() - 1; i >= 0; i-- {
		r := h.at(i)
		switch {
		case q.User != "" && r.User != q.User,
			q.Since != 0 && r.EndedAt < q.Since, q.Until != 0 && r.EndedAt >= q.Until,
			q.EngineType != "" && r.EngineType.Type != q.EngineType && r.EngineType.String() != q.EngineType,
			q.Instance != "" && !containsAny(q.Instance, r.Addr, r.ID.String(), r.ECM, r.ECMAddr):
			continue
		}
		if total >= q.Offset && len(out) < q.Limit {
			out = append(out, *r)
		}
		total++
	}
	return out, total
}
