package restapi_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkSessionVsToken measures what a login session adds to the
// token path, in one run: each iteration runs the same job cycle - submit
// a one-row SQL job, poll its status to the end, read its result page -
// once with Token-User/Token-Code and once with the session cookie of a
// login, alternating so that both see the same machine. It reports the
// median cycle of each and their difference (session - token), and the
// median of one authenticated call (jobhistory get) each way; the login
// itself (a bcrypt comparison, by design tens of milliseconds) is
// reported apart.
//
//	go test -run '^$' -bench 'SessionVsToken' -benchtime 200x ./orchestrator/restapi/
func BenchmarkSessionVsToken(b *testing.B) {
	s := conformanceServer(b)
	tok := s.newClient(b, map[string]string{"Token-User": "alice", "Token-Code": cliTestToken})
	ses := s.newClient(b, nil)
	var logins []time.Duration
	for range 5 {
		start := time.Now()
		ses.login("alice", alicePassword).ok(b)
		logins = append(logins, time.Since(start))
	}
	cycle := func(c *client) time.Duration {
		start := time.Now()
		a := c.do("POST", "/entrance/submit", nil, `{"executionContent":{"code":"select 1 as x"},"labels":{"engineType":"sql-1","userCreator":"alice-IDE"}}`)
		a.ok(b)
		execID := str(b, a.Data, "execID")
		for {
			st := c.do("GET", "/entrance/"+execID+"/status", nil, "")
			st.ok(b)
			if s := str(b, st.Data, "status"); s == "Succeed" {
				break
			} else if s == "Failed" || s == "Cancelled" {
				b.Fatalf("job %s", s)
			}
			time.Sleep(time.Millisecond)
		}
		task := obj(b, c.do("GET", "/jobhistory/"+idOf(b, a.Data, "taskID")+"/get", nil, "").Data, "task")
		p := list(b, task, "resultLocations")[0].(string)
		c.do("GET", "/filesystem/openFile", url.Values{"path": {p}}, "").ok(b)
		return time.Since(start)
	}
	call := func(c *client, taskID string) time.Duration {
		start := time.Now()
		c.do("GET", "/jobhistory/"+taskID+"/get", nil, "").ok(b)
		return time.Since(start)
	}
	cycle(tok) // warm the engine
	a := tok.do("POST", "/entrance/submit", nil, `{"executionContent":{"code":"select 1"},"labels":{"engineType":"sql-1","userCreator":"alice-IDE"}}`)
	taskID := idOf(b, a.Data, "taskID")
	var ct, cs, rt, rs []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			ct, cs = append(ct, cycle(tok)), append(cs, cycle(ses))
		} else {
			cs, ct = append(cs, cycle(ses)), append(ct, cycle(tok))
		}
		for range 10 {
			rt, rs = append(rt, call(tok, taskID)), append(rs, call(ses, taskID))
		}
	}
	b.StopTimer()
	b.ReportMetric(ms(median(ct)), "token-cycle-p50-ms")
	b.ReportMetric(ms(median(cs)), "session-cycle-p50-ms")
	b.ReportMetric(ms(median(cs)-median(ct)), "added-cycle-p50-ms")
	b.ReportMetric(ms(median(rt)), "token-call-p50-ms")
	b.ReportMetric(ms(median(rs)), "session-call-p50-ms")
	b.ReportMetric(ms(median(logins)), "login-p50-ms")
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkExport downloads one result set of 1,000,000 rows (three
// columns, made by the sql engine) as CSV and as XLSX through the REST
// API, in one run: the rows stream from the ECM that keeps the file
// through the API to the client. It reports rows per second of each and
// the server process's peak RSS during each download (VmHWM, reset before
// it), beside the peak during a download of the first 100,000 rows only -
// the same peak is flat memory.
//
//	go test -run '^$' -bench 'Export' -benchtime 1x ./orchestrator/restapi/
func BenchmarkExport(b *testing.B) {
	s := conformanceServer(b)
	c := s.newClient(b, map[string]string{"Token-User": "alice", "Token-Code": cliTestToken})
	c.hc.Timeout = 30 * time.Minute
	const rows = 1_000_000
	a := c.do("POST", "/entrance/submit", nil, `{"executionContent":{"code":"with recursive c(x) as (select 1 union all select x+1 from c where x < `+
		strconv.Itoa(rows)+`) select x as id, 'name-' || x as name, x * 1.5 as score from c"},"labels":{"engineType":"sql-1","userCreator":"alice-IDE"}}`)
	a.ok(b)
	task := c.waitEnded(idOf(b, a.Data, "taskID"))
	if str(b, task, "status") != "Succeed" {
		b.Fatalf("the job: %v", task)
	}
	p := list(b, task, "resultLocations")[0].(string)
	download := func(q url.Values) (int, time.Duration, int64) {
		q.Set("path", p)
		runtime.GC()
		resetPeakRSS(b)
		start := time.Now()
		req, _ := http.NewRequest("GET", c.base+"/api/rest_j/v1/filesystem/resultsetToExcel?"+q.Encode(), nil)
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			body, _ := io.ReadAll(resp.Body)
			b.Fatalf("HTTP %d: %s", resp.StatusCode, body)
		}
		var lines int
		if q.Get("outputFileType") == "xlsx" {
			n, _ := io.Copy(io.Discard, resp.Body)
			lines = int(n)
		} else {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				lines++
			}
		}
		return lines, time.Since(start), peakRSS(b)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _, small := download(url.Values{"outputFileType": {"csv"}, "limit": {"100000"}})
		n, d, csvPeak := download(url.Values{"outputFileType": {"csv"}})
		if n != rows+1 {
			b.Fatalf("csv: %d lines, want %d", n, rows+1)
		}
		_, dx, xlsxPeak := download(url.Values{"outputFileType": {"xlsx"}})
		b.ReportMetric(float64(rows)/d.Seconds(), "csv-rows/s")
		b.ReportMetric(float64(rows)/dx.Seconds(), "xlsx-rows/s")
		b.ReportMetric(float64(small)/(1<<20), "peak-rss-100k-csv-MiB")
		b.ReportMetric(float64(csvPeak)/(1<<20), "peak-rss-1M-csv-MiB")
		b.ReportMetric(float64(xlsxPeak)/(1<<20), "peak-rss-1M-xlsx-MiB")
	}
}

// resetPeakRSS resets this process's VmHWM (Linux: clear_refs 5).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset the peak RSS: %v", err)
	}
}

// peakRSS is this process's VmHWM in bytes.
func peakRSS(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range bytes.Split(data, []byte("\n")) {
		if v, ok := strings.CutPrefix(string(l), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmHWM")
	return 0
}
