package console_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// rows counts a list page's rows by the link each row starts with.
func rows(p page, link string) int { return strings.Count(p.body, `<td><a href="`+link) }

// Every page renders over 10,000 jobs and 200 engines, a page at a time:
// 50 jobs or engines, links to the others, the totals right - for the
// administrator (every user's) and for a user (their own).
func TestEveryPageWithTenThousandJobs(t *testing.T) {
	b := newBigSite(t)
	a := newVisitor(t, b.srv.URL)
	a.login("ops")
	p := a.get("/jobs")
	if n := rows(p, "/jobs/"); n != 50 {
		t.Fatalf("/jobs: %d rows", n)
	}
	p.has(t, "10000 jobs of every user", "page 1 of 200", `href="/jobs/10000"`)
	p = a.get("/jobs?page=200")
	if n := rows(p, "/jobs/"); n != 50 {
		t.Fatalf("/jobs?page=200: %d rows", n)
	}
	p.has(t, `href="/jobs/1"`, "page 200 of 200")
	p = a.get("/jobs?state=Failed&user=bob&engine=shell")
	// bob's are i%8 == 1, Failed ones i%6 == 3 (and so shell, i%3 == 0): i ≡ 9 (mod 24)
	if n := rows(p, "/jobs/"); n != 50 {
		t.Fatalf("filtered: %d rows", n)
	}
	p.has(t, fmt.Sprintf("%d jobs", (bigJobs-9)/24+1))
	p.lacks(t, "<td>alice</td>", `class="state s-Succeed"`)
	if p := a.get("/jobs?from=2020-13-01"); p.code != http.StatusBadRequest || !strings.Contains(p.body, "a date is written 2006-01-02") {
		t.Fatalf("a bad date: %d", p.code)
	}
	a.get("/jobs/5000").has(t, "echo job 5000", "Succeed")
	p = a.get("/engines")
	if n := rows(p, "/engines/"); n != 50 {
		t.Fatalf("/engines: %d rows", n)
	}
	p.has(t, "200 engines", "page 1 of 4")
	if n := rows(a.get("/engines?page=4"), "/engines/"); n != 50 {
		t.Fatalf("/engines?page=4: %d rows", n)
	}
	if n := rows(a.get("/engines?ecm=ecm-1"), "/engines/"); n != 50 {
		t.Fatalf("/engines?ecm=ecm-1: %d rows", n)
	}
	p = a.get("/ecms")
	for i := range 4 {
		p.has(t, fmt.Sprintf(`data-ecm="ecm-%d"`, i))
	}
	p = a.get("/resources")
	p.has(t, `id="resource-ecms"`, "alice-IDE", "<polyline", "Memory: used")
	a.get("/settings").has(t, "wds.linkis.rm.instance")
	a.get("/cluster").has(t, "memory")
	a.get("/run").has(t, `id="code-input"`)

	u := newVisitor(t, b.srv.URL)
	u.login("alice")
	p = u.get("/jobs")
	if n := rows(p, "/jobs/"); n != 50 {
		t.Fatalf("alice's /jobs: %d rows", n)
	}
	p.has(t, "1250 jobs", "page 1 of 25")
	p.lacks(t, "of every user", `href="/jobs/9999"`)
	p = u.get("/engines")
	p.has(t, "25 engines of yours")
	if n := rows(p, "/engines/"); n != 25 {
		t.Fatalf("alice's /engines: %d rows", n)
	}
	u.get("/resources").has(t, "alice-IDE")
}

// serverTimes serves each request through the console's handler (no
// network: the figure is the server's) and returns the times, sorted.
func serverTimes(b *testing.B, h http.Handler, session string, target func(i int) string) []time.Duration {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodGet, target(i), nil)
		req.AddCookie(&http.Cookie{Name: restapi.SessionCookie, Value: session})
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, req)
		lat = append(lat, time.Since(start))
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", target(i), w.Code, w.Body.String())
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	return lat
}

func sessionOf(t testing.TB, v *visitor) string {
	u, _ := url.Parse(v.base)
	for _, c := range v.c.Jar.Cookies(u) {
		if c.Name == restapi.SessionCookie {
			return c.Value
		}
	}
	t.Fatal("no session")
	return ""
}

// BenchmarkJobsPage: the jobs page, 50 jobs a page, over a history of
// 10,000 jobs - every page in turn - as the administrator (every user's
// jobs), as a user (their 1,250), and filtered by state; and the engines
// page over 200 engines. Server time: the console's handler, from the
// session check to the last byte of HTML. Issue "A web console": ≤ 20 ms
// p50. rest-jobhistory-list is the same page of the history as JSON from
// the REST API (jobhistory/list, the administrator's view), for scale.
//
//	go test -run '^$' -bench 'JobsPage' -benchtime 400x ./orchestrator/console/
func BenchmarkJobsPage(b *testing.B) {
	site := newBigSite(b)
	ops, alice := newVisitor(b, site.srv.URL), newVisitor(b, site.srv.URL)
	ops.login("ops")
	alice.login("alice")
	report := func(b *testing.B, lat []time.Duration) {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	for _, c := range []struct {
		name    string
		session string
		target  func(i int) string
	}{
		{"admin-every-user", sessionOf(b, ops), func(i int) string { return fmt.Sprintf("/jobs?page=%d", 1+i%200) }},
		{"user-own", sessionOf(b, alice), func(i int) string { return fmt.Sprintf("/jobs?page=%d", 1+i%25) }},
		{"admin-by-state", sessionOf(b, ops), func(i int) string { return fmt.Sprintf("/jobs?state=Failed&page=%d", 1+i%33) }},
		{"engines", sessionOf(b, ops), func(i int) string { return fmt.Sprintf("/engines?page=%d", 1+i%4) }},
	} {
		b.Run(c.name, func(b *testing.B) { report(b, serverTimes(b, site.h, c.session, c.target)) })
	}
	b.Run("rest-jobhistory-list", func(b *testing.B) {
		report(b, serverTimes(b, site.rest, sessionOf(b, ops), func(i int) string {
			return fmt.Sprintf(restapi.Prefix+"/jobhistory/list?isAdminView=true&pageSize=50&pageNow=%d", 1+i%200)
		}))
	})
}
