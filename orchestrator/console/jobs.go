package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// jobOf reads the job a page's {id} names: the visitor's own, or any
// user's for an administrator (the entrance refuses another user's job to
// everyone else).
func (c *Console) jobOf(ctx context.Context, v *visit) (orchestrator.Job, error) {
	s := v.r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return orchestrator.Job{}, linkis.ValueError(linkis.ErrInvalidArgument, "job", clip(s, 32), "not a task id")
	}
	if v.admin {
		return c.cfg.Jobs.JobAny(ctx, id)
	}
	return c.cfg.Jobs.Job(ctx, v.user, id)
}

// The job history's filters, as the form sends them.
type jobFilter struct {
	State, Creator, Engine, From, To, User string
	Page                                   int
}

type jobsData struct {
	Filter jobFilter
	States []string
	Jobs   []orchestrator.Job
	Total  int
	Pager  pager
}

var stateNames = func() []string {
	var out []string
	for s := orchestrator.Inited; s <= orchestrator.Timeout; s++ {
		out = append(out, s.String())
	}
	return out
}()

// query reads the filters into a history query; a bad one is refused
// naming the field.
func (f *jobFilter) query() (orchestrator.ListQuery, error) {
	q := orchestrator.ListQuery{Creator: f.Creator, EngineType: f.Engine, Page: f.Page, PageSize: JobsPerPage}
	for _, s := range []string{f.Creator, f.Engine, f.User} {
		if len(s) > maxShortField {
			return q, linkis.Errorf(linkis.ErrInvalidArgument, "filter", "a filter is longer than %d bytes", maxShortField)
		}
	}
	if f.State != "" {
		st, err := orchestrator.ParseState(f.State)
		if err != nil {
			return q, linkis.ValueError(linkis.ErrInvalidArgument, "state", clip(f.State, 32), "not a job state")
		}
		q.State = st
	}
	for _, d := range []struct {
		name, s string
		t       *time.Time
		add     int
	}{{"from", f.From, &q.Since, 0}, {"to", f.To, &q.Until, 1}} {
		if d.s == "" {
			continue
		}
		t, err := time.Parse("2006-01-02", d.s)
		if err != nil {
			return q, linkis.ValueError(linkis.ErrInvalidArgument, d.name, clip(d.s, 32), "a date is written 2006-01-02")
		}
		*d.t = t.AddDate(0, 0, d.add) // "to" includes its day
	}
	return q, nil
}

func (c *Console) jobsPage(v *visit) error {
	qs := v.r.URL.Query()
	f := jobFilter{State: qs.Get("state"), Creator: qs.Get("creator"), Engine: qs.Get("engine"), From: qs.Get("from"), To: qs.Get("to"), Page: pageParam(qs)}
	if v.admin {
		f.User = qs.Get("user")
	}
	d := jobsData{Filter: f, States: stateNames}
	q, err := f.query()
	if err != nil {
		pv := v.view("Jobs", "jobs", d)
		pv.Error = err.Error()
		c.render(v.w, http.StatusBadRequest, "jobs", pv)
		return nil
	}
	ctx := orchestrator.AllowStale(v.r.Context())
	if v.admin {
		d.Jobs, d.Total, err = c.cfg.Jobs.ListAll(ctx, f.User, q)
	} else {
		d.Jobs, d.Total, err = c.cfg.Jobs.List(ctx, v.user, q)
	}
	if err != nil {
		return err
	}
	d.Pager = newPager(v.r.URL, "page", f.Page, JobsPerPage, d.Total)
	c.render(v.w, http.StatusOK, "jobs", v.view("Jobs", "jobs", d))
	return nil
}

type jobData struct {
	Job       orchestrator.Job
	Progress  int
	Final     bool
	Log       []string
	LogNext   int
	LogPrev   int // the start of the previous page of the log; -1: none
	LogMore   bool
	LogErr    string
	Results   []resultLink
	Labels    []kv
	Variables []kv
}

type resultLink struct {
	N               int
	Name, Page, CSV string
}

type kv struct{ Key, Value string }

func sortedKV(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	slices.SortFunc(out, func(a, b kv) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// exportURL is the REST API's download of a result set (the session
// cookie authenticates it).
func exportURL(p, kind string) string {
	return restapi.Prefix + "/filesystem/resultsetToExcel?" + url.Values{"path": {p}, "outputFileType": {kind}}.Encode()
}

func (c *Console) jobPage(v *visit) error {
	ctx := v.r.Context()
	job, err := c.jobOf(ctx, v)
	if err != nil {
		return err
	}
	from := 0
	if s := v.r.URL.Query().Get("log"); s != "" {
		if from, err = strconv.Atoi(s); err != nil || from < 0 {
			return linkis.ValueError(linkis.ErrInvalidArgument, "log", clip(s, 32), "not a line number")
		}
	}
	d := jobData{Job: job, Progress: int(job.Progress * 100), Final: job.State.Final(), LogPrev: -1,
		Labels: sortedKV(job.Request.Labels), Variables: sortedKV(job.Request.Params.Variable)}
	if from > 0 {
		d.LogPrev = max(0, from-LogPageLines)
	}
	page, err := c.cfg.Jobs.Log(ctx, job.User, job.ExecID, from, LogPageLines)
	if err != nil {
		// The record is still worth showing (its ECM may be gone).
		_, d.LogErr = c.explain(v.r, err)
	} else {
		d.Log, d.LogNext = page.Lines, page.Next
		d.LogMore = len(page.Lines) == LogPageLines
	}
	for i, p := range job.Results {
		d.Results = append(d.Results, resultLink{N: i + 1, Name: p[strings.LastIndexByte(p, '/')+1:],
			Page: fmt.Sprintf("/jobs/%d/results/%d", job.TaskID, i+1), CSV: exportURL(p, "csv")})
	}
	pv := v.view(fmt.Sprintf("Job %d", job.TaskID), "jobs", d)
	pv.Refresh = !d.Final
	c.render(v.w, http.StatusOK, "job", pv)
	return nil
}

// followData is what the job page's script polls: where the job stands
// and the log lines after From.
type followData struct {
	State        string   `json:"state"`
	Final        bool     `json:"final"`
	Progress     int      `json:"progress"`
	ProgressInfo string   `json:"progressInfo"`
	Lines        []string `json:"lines"`
	Next         int      `json:"next"`
	Error        string   `json:"error,omitempty"`
	Login        string   `json:"login,omitempty"`
}

// follow answers the job page's script: JSON, read as the page reads.
// Without a session it says where to log in (401).
func (c *Console) follow(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	answer := func(code int, d followData) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(d)
	}
	v, ok, err := c.authenticate(w, r)
	if err != nil {
		code, msg := c.explain(r, err)
		answer(code, followData{Error: msg})
		return
	}
	if !ok {
		answer(http.StatusUnauthorized, followData{Error: "not logged in", Login: "/login?" + url.Values{"next": {"/jobs/" + r.PathValue("id")}, "expired": {"1"}}.Encode()})
		return
	}
	from, err := strconv.Atoi(r.URL.Query().Get("from"))
	if err != nil || from < 0 {
		answer(http.StatusBadRequest, followData{Error: "from: not a line number"})
		return
	}
	job, err := c.jobOf(r.Context(), v)
	if err != nil {
		code, msg := c.explain(r, err)
		answer(code, followData{Error: msg})
		return
	}
	d := followData{State: job.State.String(), Final: job.State.Final(), Progress: int(job.Progress * 100), ProgressInfo: job.ProgressInfo, Lines: []string{}, Next: from}
	page, err := c.cfg.Jobs.Log(r.Context(), job.User, job.ExecID, from, LogPageLines)
	if err != nil {
		_, d.Error = c.explain(r, err)
	} else {
		d.Lines, d.Next = page.Lines, page.Next
		if !page.Complete && d.Final {
			d.Final = false // lines the engine wrote before the end are still to come
		}
	}
	answer(http.StatusOK, d)
}

type resultData struct {
	Job     orchestrator.Job
	N       int
	Name    string
	Columns []string
	Rows    [][]string
	Total   int
	Pager   pager
	CSV, X  string // X: "" for a text result set
}

func (c *Console) resultPage(v *visit) error {
	ctx := v.r.Context()
	job, err := c.jobOf(ctx, v)
	if err != nil {
		return err
	}
	ns := v.r.PathValue("n")
	n, err := strconv.Atoi(ns)
	if err != nil || n < 1 || n > len(job.Results) {
		return linkis.ValueError(linkis.ErrUnknownJob, "result", clip(ns, 32), fmt.Sprintf("job %d has %d result sets", job.TaskID, len(job.Results)))
	}
	p := job.Results[n-1]
	pg := pageParam(v.r.URL.Query())
	page, err := c.cfg.Jobs.ResultPage(ctx, job.User, p, (pg-1)*ResultPageRows, ResultPageRows, maxResultPageBytes)
	if err != nil {
		return err
	}
	rows, err := page.Values()
	if err != nil {
		return err
	}
	d := resultData{Job: job, N: n, Name: p[strings.LastIndexByte(p, '/')+1:], Total: page.Total, CSV: exportURL(p, "csv")}
	if page.Header.Type != "text" {
		d.X = exportURL(p, "xlsx") // the export writes text results as CSV only, as Linkis does
	}
	for _, col := range page.Header.Columns {
		d.Columns = append(d.Columns, col.Name)
	}
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, x := range row {
			if x == nil {
				cells[i] = "NULL"
			} else {
				cells[i] = fmt.Sprint(x)
			}
		}
		d.Rows = append(d.Rows, cells)
	}
	d.Pager = newPager(v.r.URL, "page", pg, ResultPageRows, page.Total)
	c.render(v.w, http.StatusOK, "result", v.view(fmt.Sprintf("Job %d: result %d", job.TaskID, n), "jobs", d))
	return nil
}

func (c *Console) killJob(v *visit) error {
	ctx := v.r.Context()
	job, err := c.jobOf(ctx, v)
	if err != nil {
		return err
	}
	if v.admin {
		_, err = c.cfg.Jobs.KillBy(ctx, v.user, job.ExecID)
	} else {
		_, err = c.cfg.Jobs.Kill(ctx, v.user, job.ExecID)
	}
	if err != nil {
		return err
	}
	http.Redirect(v.w, v.r, fmt.Sprintf("/jobs/%d?done=killed", job.TaskID), http.StatusSeeOther)
	return nil
}

// rerun submits a job's request again, as its user (an administrator may
// submit as another user, as the REST API's executeUser). The new job's
// record says who re-ran it: the visitor, as its SubmitUser when that is
// not the job's user - not whoever submitted the first one.
func (c *Console) rerun(v *visit) error {
	ctx := v.r.Context()
	job, err := c.jobOf(ctx, v)
	if err != nil {
		return err
	}
	req := job.Request
	req.SubmitUser = ""
	if v.user != job.User {
		req.SubmitUser = v.user
	}
	nj, err := c.cfg.Jobs.Submit(ctx, job.User, req)
	if err != nil {
		return err
	}
	http.Redirect(v.w, v.r, fmt.Sprintf("/jobs/%d?done=rerun", nj.TaskID), http.StatusSeeOther)
	return nil
}

type runData struct {
	Engines                                  []string
	Engine, Creator, Code, Variables, Labels string
}

func (c *Console) engineNames(ctx context.Context) []string {
	names := []string{"shell", "python", "sql", "jdbc"}
	if c.cfg.Operations != nil {
		if ts, err := c.cfg.Operations.EngineTypes(ctx); err == nil && len(ts) > 0 {
			names = ts
		}
	}
	return names
}

func (c *Console) runPage(v *visit) error {
	d := runData{Engines: c.engineNames(v.r.Context()), Engine: "shell", Creator: "IDE"}
	c.render(v.w, http.StatusOK, "run", v.view("Run", "run", d))
	return nil
}

// run submits the form's job as the visitor and shows its page; a job the
// entrance refuses is shown again with the reason.
func (c *Console) run(v *visit) error {
	f := v.r.PostForm
	d := runData{Engines: c.engineNames(v.r.Context()), Engine: f.Get("engine"), Creator: f.Get("creator"), Code: f.Get("code"),
		Variables: f.Get("variables"), Labels: f.Get("labels")}
	job, err := c.submit(v, d)
	if err != nil {
		code, msg := c.explain(v.r, err)
		pv := v.view("Run", "run", d)
		pv.Error = msg
		c.render(v.w, code, "run", pv)
		return nil
	}
	http.Redirect(v.w, v.r, fmt.Sprintf("/jobs/%d?done=submitted", job.TaskID), http.StatusSeeOther)
	return nil
}

func (c *Console) submit(v *visit, d runData) (orchestrator.Job, error) {
	if len(d.Engine) > maxShortField || len(d.Creator) > maxShortField {
		return orchestrator.Job{}, linkis.Errorf(linkis.ErrInvalidArgument, "engine", "the engine type and the creator are at most %d bytes", maxShortField)
	}
	vars, err := parsePairs("variables", d.Variables)
	if err != nil {
		return orchestrator.Job{}, err
	}
	labels, err := parsePairs("labels", d.Labels)
	if err != nil {
		return orchestrator.Job{}, err
	}
	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{Engine: d.Engine, Code: d.Code, User: v.user, Creator: d.Creator, Vars: vars, Labels: labels})
	if err != nil {
		return orchestrator.Job{}, err
	}
	return c.cfg.Jobs.Submit(v.r.Context(), v.user, req)
}

// maxPairs bounds the lines of a variables or labels box.
const maxPairs = 200

// parsePairs reads "name=value" lines (blank lines skipped).
func parsePairs(field, s string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok || k == "":
			return nil, linkis.ValueError(linkis.ErrInvalidArgument, field, clip(line, 64), fmt.Sprintf("line %d: write name=value", i+1))
		case len(k) > maxShortField || len(val) > maxValueField:
			return nil, linkis.Errorf(linkis.ErrInvalidArgument, field, "line %d: a name is at most %d bytes and a value %d", i+1, maxShortField, maxValueField)
		case len(out) >= maxPairs:
			return nil, linkis.Errorf(linkis.ErrInvalidArgument, field, "at most %d lines", maxPairs)
		}
		out[k] = strings.TrimSpace(val)
	}
	return out, nil
}

// pageParam reads ?page= (from 1; anything else is page 1).
func pageParam(q url.Values) int {
	p, err := strconv.Atoi(q.Get("page"))
	if err != nil || p < 1 || p > 1<<20 {
		return 1
	}
	return p
}

// pager is a list's page links, keeping the other parameters.
type pager struct {
	Page, Pages int
	First, Prev string
	Next, Last  string
}

// newPager links the pages of a list of total items, per on a page, by
// the query parameter param.
func newPager(u *url.URL, param string, page, per, total int) pager {
	p := pager{Page: page, Pages: max(1, (total+per-1)/per)}
	link := func(n int) string {
		q := u.Query()
		q.Set(param, strconv.Itoa(n))
		q.Del("done")
		return u.Path + "?" + q.Encode()
	}
	if page > 1 {
		p.First, p.Prev = link(1), link(min(page-1, p.Pages))
	}
	if page < p.Pages {
		p.Next, p.Last = link(page+1), link(p.Pages)
	}
	return p
}
