package engineconn

import (
	"crypto/sha256"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// Idempotent submission. A submission with a key (api.TaskRequest.Key)
// registers the key with its task, atomically with the task's admission;
// a later submission of the same key answers with that task and starts
// nothing. Keys of the tasks the engine keeps (running, or among the last
// KeepTasks ended) are always remembered; when such a task's record is
// forgotten its final status stays with its key, for the last KeepKeys
// keyed tasks, so that a caller that comes back late (a new manager leader
// resubmitting) still finds it rather than running it again.

// keyed is the task a key was submitted with.
type keyed struct {
	id  string
	sum [sha256.Size]byte // of the code: the same key with other code is refused
}

// goneTask is a forgotten keyed task: its key and final status.
type goneTask struct {
	key string
	st  api.TaskStatus
}

// maxGoneError bounds the error text kept with a forgotten task's status.
const maxGoneError = 4 << 10

// byKey is byKeyLocked under e.mu.
func (e *EngineConn) byKey(req api.TaskRequest, sum [sha256.Size]byte) (api.TaskSubmitted, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.byKeyLocked(req, sum)
}

// byKeyLocked returns the task already submitted with req's key (sum is
// the sha256 of req.Code), and whether there is one. The same key with
// other code is ErrDuplicate.
func (e *EngineConn) byKeyLocked(req api.TaskRequest, sum [sha256.Size]byte) (api.TaskSubmitted, bool, error) {
	k, ok := e.keys[req.Key]
	if !ok {
		return api.TaskSubmitted{}, false, nil
	}
	if k.sum != sum {
		return api.TaskSubmitted{}, true, linkis.ValueError(linkis.ErrDuplicate, "key", req.Key,
			"already names task "+k.id+" on "+e.cfg.Ticket+", submitted with other code")
	}
	out := api.TaskSubmitted{ID: k.id, Existing: true}
	if t := e.tasks[k.id]; t != nil {
		t.mu.Lock()
		out.State = t.state
		t.mu.Unlock()
	} else {
		out.State = e.gone[k.id].st.State
	}
	return out, true, nil
}

// forget drops the records of ended tasks whose logs are saved; a keyed
// one leaves its final status with its key, and the oldest such are
// dropped past KeepKeys.
func (e *EngineConn) forget(old []*Task) {
	sts := make([]api.TaskStatus, len(old))
	for i, t := range old {
		sts[i] = t.status()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, t := range old {
		delete(e.tasks, t.ID)
		if t.key == "" {
			continue
		}
		st := sts[i]
		if len(st.Error) > maxGoneError {
			st.Error = st.Error[:maxGoneError] + "..."
		}
		e.gone[t.ID] = goneTask{key: t.key, st: st}
		e.goneQ = append(e.goneQ, t.ID)
	}
	for len(e.goneQ) > e.cfg.KeepKeys {
		id := e.goneQ[0]
		e.goneQ = e.goneQ[1:]
		if g, ok := e.gone[id]; ok {
			delete(e.gone, id)
			if e.keys[g.key].id == id {
				delete(e.keys, g.key)
			}
		}
	}
}

// goneStatus returns the final status of a forgotten keyed task.
func (e *EngineConn) goneStatus(id string) (api.TaskStatus, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	g, ok := e.gone[id]
	return g.st, ok
}
