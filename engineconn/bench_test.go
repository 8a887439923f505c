package engineconn_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/engineconn/engines"
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

// BenchmarkShellTask: one trivial shell task through the task API with the
// engine in this process, in each of the shell engine's modes: the
// latency (p50, p90) and the CPU it costs, all of it (this process: the
// HTTP client and server, the runtime and the engine; plus bash) and
// bash's alone. In session mode bash is a live child whose subshells it
// reaped; in process mode each task's bash is a child this process
// reaped. /echo-engine is the same harness on the echo engine with output
// to the log only: the part that is not the shell engine's. Tasks are
// kept in memory (KeepTasks), so that no task's log is saved to a file
// during the run (one file per task past KeepTasks, which costs more CPU
// than a subshell on a slow disk).
func BenchmarkShellTask(b *testing.B) {
	type bench struct{ name, engine, mode, code, runType string }
	cases := []bench{{"echo-engine", "echo", "", "hi", "log"}}
	for _, mode := range []string{engines.ShellSession, engines.ShellProcess} {
		for _, c := range []struct{ name, code string }{{"true", "true"}, {"echo", "echo hi"}} {
			cases = append(cases, bench{mode + "/" + c.name, "shell", mode, c.code, ""})
		}
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cfg := testConfig(b, c.engine)
			cfg.MaxTasks = 1 << 30
			cfg.KeepTasks = 1 << 20
			cfg.Params = map[string]string{engines.ParamShellMode: c.mode}
			h := start(b, cfg)
			ctx := context.Background()
			req := api.TaskRequest{AskID: "ask-1", Token: token, Code: c.code, RunType: c.runType}
			if st, err := h.cli.Run(ctx, req); err != nil || st.State != api.TaskSuccess { // the grant is verified once
				b.Fatalf("%+v %v", st, err)
			}
			ds := make([]time.Duration, 0, b.N)
			self0, kids0 := cpuTime(syscall.RUSAGE_SELF), cpuTime(syscall.RUSAGE_CHILDREN)+liveChildrenCPU(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				st, err := h.cli.Run(ctx, req)
				if err != nil || st.State != api.TaskSuccess {
					b.Fatalf("%+v %v", st, err)
				}
				ds = append(ds, time.Since(t0))
			}
			b.StopTimer()
			self, kids := cpuTime(syscall.RUSAGE_SELF)-self0, cpuTime(syscall.RUSAGE_CHILDREN)+liveChildrenCPU(b)-kids0
			slices.Sort(ds)
			perOp := func(d time.Duration) float64 { return float64(d) / float64(b.N) / 1e6 }
			b.ReportMetric(float64(ds[len(ds)/2])/1e6, "ms/p50")
			b.ReportMetric(float64(ds[len(ds)*9/10])/1e6, "ms/p90")
			b.ReportMetric(perOp(self+kids), "cpu-ms/op")
			b.ReportMetric(perOp(kids), "bash-cpu-ms/op")
		})
	}
}

// cpuTime is the user and system CPU time of this process or of its
// waited-for children.
func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// liveChildrenCPU is the CPU time of this process's live children and of
// the children they waited for, from /proc (in clock ticks of 10 ms).
func liveChildrenCPU(b *testing.B) time.Duration {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		b.Skip("no /proc")
	}
	var total time.Duration
	me := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(raw)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		// f[1] is the parent; f[11..14] utime, stime, cutime, cstime.
		if len(f) < 15 || f[1] != strconv.Itoa(me) || pid == me {
			continue
		}
		for _, v := range f[11:15] {
			n, _ := strconv.ParseInt(v, 10, 64)
			total += time.Duration(n) * 10 * time.Millisecond
		}
	}
	return total
}
