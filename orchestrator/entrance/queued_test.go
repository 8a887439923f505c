package entrance

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/orchestrator"
)

// A small job's copy kept with its queue entry rebuilds the record exactly
// as the history reads it back; a large job keeps none.
func TestQueuedCopyIsTheRecord(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.NoSync = true
	cfg.MaxRunningPerGroup = 0 // nothing leaves the queue
	e, err := Open(cfg, &fakeRunner{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	full := request("alice-IDE", "shell-1", "echo ${x}", "tenant", "t1")
	full.Source = orchestrator.Values{"scriptPath": "/a.sh"}
	full.Params.Variable = orchestrator.Values{"x": "1", "y": "2"}
	full.Params.Configuration.Startup = orchestrator.Values{"engineconn.max.task.num": "10"}
	full.Params.Configuration.Runtime = orchestrator.Values{"k": "v"}
	bare := request("alice-IDE", "shell-1", "true")
	bare.ExecutionContent.RunType = ""
	big := request("alice-IDE", "shell-1", strings.Repeat("x", maxQueuedCopy))
	for _, c := range []struct {
		name string
		req  orchestrator.JobRequest
		kept bool
	}{{"full", full, true}, {"bare", bare, true}, {"big", big, false}} {
		job, err := e.Submit(context.Background(), "alice", c.req)
		if err != nil {
			t.Fatal(err)
		}
		e.mu.Lock()
		g := e.groups[groupKey{"IDE", "alice", "shell-1"}]
		q := g.tail
		rec := q.rec
		e.mu.Unlock()
		if q.taskID != job.TaskID || (rec != nil) != c.kept {
			t.Fatalf("%s: queue entry %d (want %d), copy kept %v", c.name, q.taskID, job.TaskID, rec != nil)
		}
		if rec == nil {
			continue
		}
		got := rec.job(q.taskID, "alice", "shell-1")
		want, err := e.hist.Get(job.TaskID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Created.Equal(want.Created) || !got.Updated.Equal(want.Updated) {
			t.Fatalf("%s: times %v %v, want %v %v", c.name, got.Created, got.Updated, want.Created, want.Updated)
		}
		got.Created, got.Updated = want.Created, want.Updated
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: copy\n%#v\nrecord\n%#v", c.name, got, want)
		}
	}
}
