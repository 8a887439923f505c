package embedded_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/orchestrator"
)

// Review reproducer (branch rev-jobs), end to end on real engines: jobs
// whose last UpdateJob exceeds a limit of the log's decoder never end -
// the dispatcher's update is refused with ErrMalformed and the job's end
// is dropped with it (see orchestrator/entrance TestReviewBigUpdatesEndTheJob).
func TestReviewRealEnginesBigUpdates(t *testing.T) {
	sys, err := embedded.Start(embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	for _, c := range []struct{ name, engine, code string }{
		// One 5000-byte line (the engine keeps lines up to 64 KiB; a
		// record's line limit is 4 KiB).
		{"a 5000-byte line", "shell", "head -c 5000 /dev/zero | tr '\\0' x; echo"},
		// 1100 result sets (a record takes 1024).
		{"1100 result sets", "sql", strings.Repeat("select 1;\n", 1100)},
		{"control: 10 result sets", "sql", strings.Repeat("select 1;\n", 10)},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := orchestrator.NewRequest(orchestrator.RequestSpec{User: "alice", Engine: c.engine, Code: c.code})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			j, err := sys.Submit(ctx, "alice", req)
			if err != nil {
				t.Fatal(err)
			}
			done, err := sys.Wait(ctx, "alice", j.ExecID)
			if err != nil || !done.State.Final() {
				t.Fatalf("the job never ended: %v %v", done.State, err)
			}
		})
	}
}
