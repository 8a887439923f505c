package entrance

import (
	"time"

	"github.com/golinkis/golinkis/orchestrator"
)

// queuedCopy is a small job's record as Submit queued it, kept with its
// queue entry so that its dispatch need not read it back from the history
// (a read and a JSON decode per job). It is compact - the request's maps
// flattened into one slice of strings - and kept only for jobs whose copy
// stays within maxQueuedCopy bytes, so that a queued job holds well under
// 1 KiB (BenchmarkQueuedJobMemory).
type queuedCopy struct {
	created time.Time
	// execID, creator, code, runType, then the pairs of Labels, Source,
	// Variable, Startup and Runtime, n[i] pairs each.
	s []string
	n [5]uint8
}

// maxQueuedCopy bounds the bytes a queuedCopy may hold (its strings'
// bytes included).
const maxQueuedCopy = 512

// copyQueued returns the compact copy of job, or nil when it would be too
// large to keep.
func copyQueued(job *orchestrator.Job) *queuedCopy {
	r := &job.Request
	maps := [5]orchestrator.Values{r.Labels, r.Source, r.Params.Variable, r.Params.Configuration.Startup, r.Params.Configuration.Runtime}
	size, strs := 64+len(job.ExecID)+len(job.Creator)+len(r.ExecutionContent.Code)+len(r.ExecutionContent.RunType), 4
	for _, m := range maps {
		if len(m) > 255 {
			return nil
		}
		strs += 2 * len(m)
		for k, v := range m {
			size += len(k) + len(v)
		}
	}
	size += 16 * strs
	if size > maxQueuedCopy {
		return nil
	}
	c := &queuedCopy{created: job.Created.Round(0), s: make([]string, 0, strs)}
	c.s = append(c.s, job.ExecID, job.Creator, r.ExecutionContent.Code, r.ExecutionContent.RunType)
	for i, m := range maps {
		c.n[i] = uint8(len(m))
		for k, v := range m {
			c.s = append(c.s, k, v)
		}
	}
	return c
}

// job rebuilds the record as the history reads it back: a map without
// entries is nil (the record omits it), except Labels, never empty.
func (c *queuedCopy) job(taskID int64, user, engineType string) orchestrator.Job {
	j := orchestrator.Job{
		TaskID: taskID, ExecID: c.s[0], User: user, Creator: c.s[1], EngineType: engineType,
		State: orchestrator.Inited, Created: c.created, Updated: c.created,
	}
	j.Request.ExecutionContent = orchestrator.ExecutionContent{Code: c.s[2], RunType: c.s[3]}
	var maps [5]orchestrator.Values
	at := 4
	for i, n := range c.n {
		if n == 0 {
			continue
		}
		m := make(orchestrator.Values, n)
		for range n {
			m[c.s[at]] = c.s[at+1]
			at += 2
		}
		maps[i] = m
	}
	if maps[0] == nil {
		maps[0] = orchestrator.Values{}
	}
	r := &j.Request
	r.Labels, r.Source, r.Params.Variable = maps[0], maps[1], maps[2]
	r.Params.Configuration.Startup, r.Params.Configuration.Runtime = maps[3], maps[4]
	return j
}
