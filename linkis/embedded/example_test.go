package embedded_test

import (
	"context"
	"fmt"
	"log"

	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/orchestrator"
)

// A whole system in one process: submit a SQL job, wait for it, read its
// result table. (The test binary is the engine binary: TestMain calls
// embedded.ServeEngine first.)
func Example() {
	sys, err := embedded.Start(embedded.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer sys.Close()
	ctx := context.Background()
	req, _ := orchestrator.NewRequest(orchestrator.RequestSpec{User: "alice", Engine: "sql", Code: "select 6*7 as answer"})
	job, err := sys.Submit(ctx, "alice", req)
	if err != nil {
		log.Fatal(err)
	}
	job, _ = sys.Wait(ctx, "alice", job.ExecID)
	rs, _ := sys.ReadResult(ctx, "alice", job.Results[0], 0)
	fmt.Println(job.State, rs.Columns[0].Name, rs.Rows)
	// Output: Succeed answer [[42]]
}
