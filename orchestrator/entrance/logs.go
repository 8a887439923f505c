package entrance

import (
	"context"
	"io"
	"strconv"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
)

// LogTruncated is the last line of a job's own log lines once they reached
// their cap (the tasks' logs have their own cap and note).
const LogTruncated = manager.JobLogTruncated

// HostData reads what stays on the hosts that ran tasks: task logs and
// result-set files, served by each host's ECM (api.ECMClient is one).
type HostData interface {
	TaskLog(ctx context.Context, addr, ec, task string, from, size int) (api.TaskLog, error)
	ResultPage(ctx context.Context, addr, ec, name string, from, size int) (api.ResultPage, error)
	OpenResult(ctx context.Context, addr, ec, name string) (io.ReadCloser, int64, error)
}

var _ HostData = (*api.ECMClient)(nil)

// Log returns lines from, from+1, ... (at most size; 0: 1000; at most
// 10,000) of a job's log: the orchestrator's own lines, kept in the job's
// record, and the log of each task the job ran, read from the ECM of the
// host that ran it. While a task runs, the page ends with its lines so
// far. Complete is set once the job has ended and the page reaches the
// last line. A task whose host is gone (or no longer keeps its log) shows
// one line saying so, then the tail of engine output the record kept.
func (e *Entrance) Log(ctx context.Context, user, execID string, from, size int) (orchestrator.LogPage, error) {
	if from < 0 {
		return orchestrator.LogPage{}, linkis.ValueError(linkis.ErrInvalidArgument, "fromLine", strconv.Itoa(from), "must be ≥ 0")
	}
	if size == 0 {
		size = 1000
	}
	if size < 0 || size > api.MaxLogPageSize {
		return orchestrator.LogPage{}, linkis.ValueError(linkis.ErrInvalidArgument, "size", strconv.Itoa(size), "must be 1 to 10000")
	}
	v, err := e.view(ctx, user, execID)
	if err != nil {
		return orchestrator.LogPage{}, err
	}
	addrs := map[string]string{}
	_ = e.store.Read(ctx, false, func(s *manager.State) {
		for _, p := range v.Log {
			if id := p.Task.ECM; id != "" {
				if m, ok := s.ECM(id); ok {
					addrs[id] = m.Addr
				}
			}
		}
	})
	lines := []string{}
	pos, done := 0, true
	for i, p := range v.Log {
		if len(lines) >= size {
			done = false
			break
		}
		if p.Task.Key == "" {
			lines, pos = window(lines, p.Lines, from, pos, size)
			continue
		}
		running := runningTask(&v, p.Task.Key)
		if addrs[p.Task.ECM] == "" {
			// Its host is gone: say so.
			lines, pos = window(lines, lostTask(&v, p.Task, i == lastTaskPart(v.Log)), from, pos, size)
			continue
		}
		if p.Count >= 0 && from >= pos+p.Count {
			pos += p.Count
			continue
		}
		local := max(from-pos, 0)
		page, err := e.host.TaskLog(ctx, addrs[p.Task.ECM], p.Task.EC, p.Task.TaskID, local, size-len(lines))
		if err != nil {
			e.log.Debug("entrance: reading a task log", "execID", execID, "task", p.Task.TaskID, "err", err)
			lines, pos = window(lines, lostTask(&v, p.Task, i == lastTaskPart(v.Log)), from, pos, size)
			continue
		}
		lines = append(lines, page.Lines...)
		if !page.Complete || p.Count < 0 && running {
			// It runs: what follows is not written yet.
			done = false
			break
		}
		n := page.Next
		if p.Count >= 0 {
			n = p.Count
		}
		if page.Next < n && len(lines) >= size {
			done = false
			break
		}
		pos += max(n, local)
	}
	return orchestrator.LogPage{
		From: from, Lines: lines, Next: from + len(lines),
		Complete: done && v.State.Final() && !v.Cleanup,
	}, nil
}

// window appends the lines of part that fall in [from, from+size) of the
// whole log, given that part starts at pos; it returns the position after
// the part.
func window(out, part []string, from, pos, size int) ([]string, int) {
	if lo := from - pos; lo < len(part) {
		lo = max(lo, 0)
		hi := min(len(part), lo+size-len(out))
		out = append(out, part[lo:hi]...)
	}
	return out, pos + len(part)
}

func runningTask(v *manager.JobView, key string) bool {
	for _, t := range v.Tasks {
		if t.Key == key {
			return true
		}
	}
	return false
}

func lastTaskPart(parts []manager.JobLogPart) int {
	for i := len(parts) - 1; i >= 0; i-- {
		if parts[i].Task.Key != "" {
			return i
		}
	}
	return -1
}

// lostTask is what stands for the log of a task that cannot be read: one
// line, and for the job's last task the tail of output its record kept.
func lostTask(v *manager.JobView, t manager.JobTask, last bool) []string {
	line := "WARN the log of task " + t.TaskID + " on engine " + t.EC + " is not available: its host (ECM " + t.ECM + ") is gone or no longer keeps it"
	if !last || len(v.Tail) == 0 {
		return []string{line}
	}
	out := make([]string, 0, 1+len(v.Tail))
	out = append(out, line+"; the last "+strconv.Itoa(len(v.Tail))+" lines of output the job's record kept follow")
	return append(out, v.Tail...)
}
