package ecm_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	return s[min(int(float64(len(s))*p), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkColdStart: an ask that needs a new engine, from the ask to the
// grant, which the manager makes when the new EngineConn process reports
// it started (its Unlock heartbeat follows at once). Each op starts one
// real process through the HTTP manager API, the reconciler and the ECM.
func BenchmarkColdStart(b *testing.B) {
	for _, engine := range []string{"shell-5", "python-3"} {
		b.Run(strings.SplitN(engine, "-", 2)[0], func(b *testing.B) {
			c := newCluster(b, clusterOpts{})
			ls := labels(engine, linkis.LabelReuseExclusion, "*") // a new engine every time
			var ds []time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				g, err := c.ask(ls, nil)
				if err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(start))
				b.StopTimer()
				if err := c.client.KillEngine(context.Background(), api.ECKillRequest{EC: g.EC}); err != nil {
					b.Fatal(err)
				}
				for {
					if r, _ := c.ecm.Engine(g.EC); r.State == api.ECExited {
						break
					}
					time.Sleep(time.Millisecond)
				}
				b.StartTimer()
			}
			b.ReportMetric(ms(percentile(ds, 0.5)), "ms/p50")
			b.ReportMetric(ms(percentile(ds, 0.9)), "ms/p90")
		})
	}
}

// BenchmarkWarmRoundTrip: submit a task to an engine already granted and
// wait for its result over the task API (EngineClient.Run: one HTTP call
// that submits and waits). /echo-log runs no child process and writes no
// file: the runtime's dispatch overhead; /echo adds a result-set file
// (about 1 ms to create one on this machine's disk); /shell adds a bash
// run.
func BenchmarkWarmRoundTrip(b *testing.B) {
	for _, c := range []struct{ name, engine, runType, code string }{
		{"echo-log", "echo-1", "log", "hi"}, // the runtime alone: HTTP, admission, task, log
		{"echo", "echo-1", "", "hi"},        // plus a result-set file
		{"shell", "shell-5", "", "true"},    // plus a bash process (no output: no file)
	} {
		b.Run(c.name, func(b *testing.B) {
			cl := newCluster(b, clusterOpts{})
			g := cl.mustAsk(labels(c.engine), map[string]string{"engineconn.max.task.num": "1000000000"})
			cli := api.NewEngineClient(g.Addr, clusterToken, nil)
			ctx := context.Background()
			run(b, g, c.code) // the grant is verified once, outside the timing
			var ds []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				st, err := cli.Run(ctx, api.TaskRequest{AskID: g.AskID, Token: g.Token, Code: c.code, RunType: c.runType})
				if err != nil || st.State != api.TaskSuccess {
					b.Fatalf("%+v %v", st, err)
				}
				ds = append(ds, time.Since(start))
			}
			b.ReportMetric(ms(percentile(ds, 0.5)), "ms/p50")
			b.ReportMetric(ms(percentile(ds, 0.9)), "ms/p90")
		})
	}
}

// memKiB returns a field of /proc/PID/smaps_rollup in KiB: "Rss" (all
// resident pages, the binary's shared text included) or "Pss" (shared
// pages divided among the processes that map them: what each one costs).
func memKiB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s for %d", field, pid)
}

// BenchmarkIdleECs: one ECM starts 200 shell engines (plus 5 python ones)
// and holds them idle; reports the resident memory of an idle EngineConn
// process (RSS; the python engine's interpreter is a process of its own and
// not counted) and what each one really costs with 200 sharing the binary
// (PSS) and checks that every engine is still alive and known to the
// manager. One op is the whole scenario.
func BenchmarkIdleECs(b *testing.B) {
	const shells, pythons = 200, 5
	for i := 0; i < b.N; i++ {
		c := newCluster(b, clusterOpts{
			manager: func(m *manager.Config) {
				m.DefaultQuota = linkis.Resource{Memory: 1 << 50, MilliCores: 1 << 40, Instances: 1000}
			},
			ecm: func(e *ecm.Config) {
				e.MaxStarting = 64
				capacity := linkis.Resource{Memory: 1 << 50, MilliCores: 1 << 40, Instances: 1000}
				e.Capacity = &capacity
			},
		})
		start := time.Now()
		var mu sync.Mutex
		var grants []api.AskResult
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		errs := make(chan error, shells+pythons)
		for j := 0; j < shells+pythons; j++ {
			engine := "shell-5"
			if j >= shells {
				engine = "python-3"
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				g, err := c.ask(labels(engine, linkis.LabelReuseExclusion, "*"), nil)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				grants = append(grants, g)
				mu.Unlock()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/205-starts")
		time.Sleep(2 * time.Second) // idle
		var shellRSS, pyRSS, shellPSS []int64
		for _, g := range grants {
			r, ok := c.ecm.Engine(g.EC)
			if !ok || r.State != api.ECRunning {
				b.Fatalf("%s is not running: %+v", g.EC, r)
			}
			rss, err := memKiB(r.PID, "Rss")
			if err != nil {
				b.Fatal(err)
			}
			if isPython(c, g.EC) {
				pyRSS = append(pyRSS, rss)
				continue
			}
			pss, err := memKiB(r.PID, "Pss")
			if err != nil {
				b.Fatal(err)
			}
			shellRSS, shellPSS = append(shellRSS, rss), append(shellPSS, pss)
		}
		c.state(func(s *manager.State) {
			if n := len(s.ECs()); n != shells+pythons {
				b.Errorf("the manager knows %d engines, want %d", n, shells+pythons)
			}
		})
		mean, maxv := stats(shellRSS)
		b.ReportMetric(mean/1024, "MiB/shell-EC-RSS-mean")
		b.ReportMetric(maxv/1024, "MiB/shell-EC-RSS-max")
		mean, _ = stats(shellPSS)
		b.ReportMetric(mean/1024, "MiB/shell-EC-PSS-mean")
		mean, maxv = stats(pyRSS)
		b.ReportMetric(mean/1024, "MiB/python-EC-RSS-mean")
		b.ReportMetric(maxv/1024, "MiB/python-EC-RSS-max")
		b.ReportMetric(float64(len(shellRSS)+len(pyRSS)), "idle-ECs")
		c.close()
	}
}

func isPython(c *cluster, ec string) bool {
	id, _ := manager.ParseECID(ec)
	py := false
	_ = c.mem.Read(context.Background(), false, func(s *manager.State) {
		if e, ok := s.EC(id); ok {
			py = e.EngineType.Type == "python"
		}
	})
	return py
}

func stats(v []int64) (mean, maxv float64) {
	if len(v) == 0 {
		return 0, 0
	}
	var sum int64
	for _, x := range v {
		sum += x
		maxv = max(maxv, float64(x))
	}
	return float64(sum) / float64(len(v)), maxv
}
