package embedded_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/golinkis/golinkis/datasource"
	"github.com/golinkis/golinkis/datasource/testdb"
	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/orchestrator"
)

// BenchmarkJDBCWarmJobOverhead runs a trivial query (SELECT 1) on a real
// PostgreSQL b.N times through the full job path - entrance (persisted,
// queued), orchestrator (the data source resolved), a warm jdbc engine
// process (its connection pool open) over HTTP, the result
// set written, the end persisted, Wait returning - and, alternately, the
// same query straight from a pgx connection in this process. It reports
// both medians and the job path's overhead over pgx at p50 and p90.
// history=fsync is what `linkis server` runs (the job records in a
// single-node Raft log, fsynced at submission and at the job's end);
// history=nosync keeps the state in memory (what `linkis run` runs), to
// show what the fsyncs cost.
//
//	go test -run '^$' -bench JDBCWarmJobOverhead -benchtime 2000x ./linkis/embedded/
func BenchmarkJDBCWarmJobOverhead(b *testing.B) {
	dbs := testdb.Start(b)
	for _, nosync := range []bool{false, true} {
		name := map[bool]string{false: "history=fsync", true: "history=nosync"}[nosync]
		b.Run(name, func(b *testing.B) { benchWarmJob(b, dbs, nosync) })
	}
}

func benchWarmJob(b *testing.B, dbs *testdb.Servers, nosync bool) {
	sources, err := datasource.NewSet([]datasource.DataSource{{Name: "pg", URL: dbs.PG.URL(), Username: dbs.PG.User, Password: dbs.PG.Password, Users: []string{"alice"}}})
	if err != nil {
		b.Fatal(err)
	}
	cfg := embedded.Config{DataSources: sources}
	if !nosync {
		cfg.DataDir, cfg.Durable = b.TempDir(), true
	}
	sys, err := embedded.Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer sys.Close()
	ctx := context.Background()
	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{User: "alice", Engine: "jdbc", Code: "SELECT 1", DataSource: "pg"})
	if err != nil {
		b.Fatal(err)
	}
	req.Params.Configuration.Startup = orchestrator.Values{"engineconn.max.task.num": "1000000"}
	job := func() {
		j, err := sys.Submit(ctx, "alice", req)
		if err == nil {
			j, err = sys.Wait(ctx, "alice", j.ExecID)
		}
		if err != nil || j.State != orchestrator.Succeed {
			b.Fatalf("%+v %v", j, err)
		}
	}
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s", dbs.PG.User, dbs.PG.Password, dbs.PG.Port, dbs.PG.DB))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	direct := func() {
		var one int
		if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			b.Fatal(err)
		}
	}
	for range 20 { // warm: the engine started, its pool open, pgx's statement cached
		job()
		direct()
	}
	jobs, pgxs := make([]time.Duration, b.N), make([]time.Duration, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		job()
		jobs[i] = time.Since(start)
		start = time.Now()
		direct()
		pgxs[i] = time.Since(start)
	}
	b.StopTimer()
	q := func(d []time.Duration, p float64) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[int(p*float64(len(d)-1))]
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	j50, p50, j90, p90 := q(jobs, 0.5), q(pgxs, 0.5), q(jobs, 0.9), q(pgxs, 0.9)
	b.ReportMetric(ms(j50), "job-p50-ms")
	b.ReportMetric(ms(p50), "pgx-p50-ms")
	b.ReportMetric(ms(j50-p50), "overhead-p50-ms")
	b.ReportMetric(ms(j90-p90), "overhead-p90-ms")
}
