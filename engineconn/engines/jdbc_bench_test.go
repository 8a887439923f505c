package engines_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/datasource/testdb"
)

// BenchmarkJDBCStreamVsCopy streams a 1,000,000-row, 5-column SELECT from
// a real PostgreSQL into a result set through the jdbc engine's task API,
// and, in the same iteration, the same query through `psql -c "COPY (...)
// TO STDOUT" > /dev/null` (the physical anchor: the server's own fastest
// way out). It reports both rates and their ratio (engine ÷ psql).
//
//	go test -run '^$' -bench JDBCStreamVsCopy -benchtime 5x ./engineconn/engines/
func BenchmarkJDBCStreamVsCopy(b *testing.B) {
	s := testdb.Start(b)
	h := startJDBC(b)
	params := map[string]string{"jdbc.url": s.PG.URL(), "jdbc.username": s.PG.User, "jdbc.password": s.PG.Password}
	const rows = 1_000_000
	query := "SELECT g AS id, g * 2 AS twice, 'name-' || g AS name, g / 7.0 AS ratio, now() AS at FROM generate_series(1, " + strconv.Itoa(rows) + ") g"
	h.ok("SELECT 1", params) // the pool is open
	var engine, copy time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		cmd := exec.Command(filepath.Join(s.PG.Bin, "psql"), "-X", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(s.PG.Port), "-U", s.PG.User, "-d", s.PG.DB,
			"-c", "COPY ("+query+") TO STDOUT")
		cmd.Env = append(os.Environ(), "PGPASSWORD="+s.PG.Password)
		devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = devnull, &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("psql: %v %s", err, stderr.String())
		}
		devnull.Close()
		copy += time.Since(start)

		start = time.Now()
		st := h.ok(query, params)
		engine += time.Since(start)
		if len(st.Results) != 1 {
			b.Fatalf("%+v", st)
		}
		os.Remove(st.Results[0])
	}
	er := float64(rows*b.N) / engine.Seconds()
	cr := float64(rows*b.N) / copy.Seconds()
	b.ReportMetric(er, "engine-rows/s")
	b.ReportMetric(cr, "psql-copy-rows/s")
	b.ReportMetric(er/cr, "ratio")
}

// BenchmarkJDBCWarmTask runs SELECT 1 on a real PostgreSQL through a warm
// jdbc engine's task API (one HTTP call that waits for the task's end; the
// pool open; the one-row result set written) and, alternately, straight
// from a pgx connection; it reports both medians and the engine's overhead
// at p50.
//
//	go test -run '^$' -bench JDBCWarmTask -benchtime 2000x ./engineconn/engines/
func BenchmarkJDBCWarmTask(b *testing.B) {
	s := testdb.Start(b)
	h := startJDBC(b)
	params := map[string]string{"jdbc.url": s.PG.URL(), "jdbc.username": s.PG.User, "jdbc.password": s.PG.Password}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s", s.PG.User, s.PG.Password, s.PG.Port, s.PG.DB))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	task := func() {
		st, err := h.cli.Run(ctx, api.TaskRequest{AskID: shAsk, Token: shToken, Code: "SELECT 1", Params: params})
		if err != nil || st.State != api.TaskSuccess {
			b.Fatalf("%+v %v", st, err)
		}
	}
	direct := func() {
		var one int
		if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			b.Fatal(err)
		}
	}
	for range 20 {
		task()
		direct()
	}
	tasks, pgxs := make([]time.Duration, b.N), make([]time.Duration, b.N)
	for i := 0; i < b.N; i++ {
		start := time.Now()
		task()
		tasks[i] = time.Since(start)
		start = time.Now()
		direct()
		pgxs[i] = time.Since(start)
	}
	p50 := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	t50, d50 := p50(tasks), p50(pgxs)
	b.ReportMetric(float64(t50)/1e6, "task-p50-ms")
	b.ReportMetric(float64(d50)/1e6, "pgx-p50-ms")
	b.ReportMetric(float64(t50-d50)/1e6, "overhead-p50-ms")
}
