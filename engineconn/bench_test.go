package engineconn_test

import (
	"context"
	"testing"

	"github.com/golinkis/golinkis/api"
)

// BenchmarkDispatch: one task through the task API on the echo engine
// (submit and wait in one HTTP call, output to the log only), with the
// engine in this process: the runtime's own overhead, HTTP included.
func BenchmarkDispatch(b *testing.B) {
	cfg := testConfig(b, "echo")
	cfg.MaxTasks = 1 << 30
	h := start(b, cfg)
	ctx := context.Background()
	req := api.TaskRequest{AskID: "ask-1", Token: token, Code: "hi", RunType: "log"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := h.cli.Run(ctx, req)
		if err != nil || st.State != api.TaskSuccess {
			b.Fatalf("%+v %v", st, err)
		}
	}
}
