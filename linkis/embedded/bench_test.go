package embedded_test

import (
	"fmt"
	"testing"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/entrance"
	"github.com/golinkis/golinkis/raftstore"
)

// BenchmarkJobsThroughput pushes b.N trivial shell jobs (`true`) of one
// user through the whole system - entrance (persisted, queued), the
// orchestrator, the manager, a warm pool of shell engines (real processes,
// HTTP; each job's engine asked by the state as it dispatches the job) -
// and reports jobs/s
// end to end: from the first Submit to the last job's end. Run it with
// -benchtime 10000x for the figure. engine=echo runs the same jobs
// on the echo engine (an engine process without a child: everything but
// bash).
//
// manager=wal and manager=bolt run the echo jobs on the durable manager of
// `linkis server` (a single-node Raft log in the data directory, in that
// store) instead of the in-memory one.
func BenchmarkJobsThroughput(b *testing.B) {
	for _, engine := range []string{"shell", "echo"} {
		for _, pool := range []int{4, 8} {
			b.Run(fmt.Sprintf("engine=%s/pool=%d", engine, pool), func(b *testing.B) { benchThroughput(b, engine, pool, "") })
		}
	}
	for _, store := range []raftstore.LogStore{raftstore.LogStoreWAL, raftstore.LogStoreBolt} {
		b.Run(fmt.Sprintf("engine=echo/pool=8/manager=%s", store), func(b *testing.B) { benchThroughput(b, "echo", 8, store) })
	}
}

// benchThroughput runs the jobs; store "" keeps the manager in memory.
func benchThroughput(b *testing.B, engine string, pool int, store raftstore.LogStore) {
	ec := entrance.DefaultConfig()
	jc := manager.DefaultJobConfig()
	jc.GroupMaxRunning, jc.QueueCapacity = pool, max(b.N, 1000)
	ec.Jobs = &jc
	capacity := linkis.Resource{Memory: 64 * linkis.GiB, MilliCores: 64_000, Instances: 64}
	plugins := manager.DefaultPlugins()
	if err := plugins.Register(manager.Plugin{Type: "echo", Version: "*", Concurrency: 1,
		Resources: manager.StandardResources{Memory: 64 * linkis.MiB, MilliCores: 100}, Launcher: manager.StandardLauncher{}}); err != nil {
		b.Fatal(err)
	}
	cfg := embedded.Config{Entrance: &ec, Capacity: &capacity, Plugins: plugins}
	if store != "" {
		cfg.DataDir, cfg.Durable, cfg.LogStore = b.TempDir(), true, store
	}
	sys, err := embedded.Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer sys.Close()
	label := map[string]string{"shell": "shell", "echo": "echo-1"}[engine]
	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{User: "alice", Engine: label, Code: "true"})
	if err != nil {
		b.Fatal(err)
	}
	if engine == "echo" {
		req.ExecutionContent.RunType = "log" // the echo engine's log-only mode: no result file
	}
	// A warm pool: engines that do not retire after Linkis's 50 tasks.
	req.Params.Configuration.Startup = orchestrator.Values{"engineconn.max.task.num": "1000000"}
	benchJobs(b, []*embedded.System{sys}, req, 4*pool)
}
