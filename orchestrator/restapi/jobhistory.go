package restapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

// The job history API (Linkis's QueryRestfulApi).
var historyRoutes = []route{
	{methods: get, pattern: "/jobhistory/list", handle: (*handler).list},
	{methods: get, pattern: "/jobhistory/listundone", handle: (*handler).listUndone},
	{methods: get, pattern: "/jobhistory/governanceStationAdmin", handle: (*handler).governanceStationAdmin},
	{methods: get, pattern: "/jobhistory/{taskID}/get", argName: "taskID", handle: (*handler).history},
}

// taskOf is a job's history record.
func (h *handler) taskOf(j orchestrator.Job, now time.Time) Task {
	dir := ""
	if j.State == orchestrator.Succeed || len(j.Results) > 0 {
		dir = h.jobs.ResultLocation(j.User, j.TaskID)
	}
	return TaskOf(j, h.cfg.Instance, now, h.jobs.LogLocation(j.User, j.TaskID), dir)
}

func (h *handler) history(c *apiCall) *reply {
	id, err := strconv.ParseInt(c.args[0], 10, 64)
	if err != nil || id <= 0 {
		return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "taskID", clip(c.args[0]), "must be a positive integer")}
	}
	var job orchestrator.Job
	if c.admin {
		job, err = h.jobs.JobAny(readCtx(c.r), id)
	} else {
		job, err = h.jobs.Job(readCtx(c.r), c.user, id)
	}
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: TaskData{Task: h.taskOf(job, h.now())}}
}

// parseTime reads a date bound: Unix milliseconds (as Linkis clients
// send), RFC 3339 or YYYY-MM-DD (UTC).
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 || ms > 1<<53 {
			return time.Time{}, linkis.ValueError(linkis.ErrInvalidArgument, name, clip(s), "out of range")
		}
		return time.UnixMilli(ms), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, linkis.ValueError(linkis.ErrInvalidArgument, name, clip(s), "must be Unix milliseconds, RFC 3339 or YYYY-MM-DD")
}

// parseStates reads status: one state or several, comma-separated
// (status=Succeed,Failed, as the SDK's JobListAction sends them).
func parseStates(s string) ([]orchestrator.State, error) {
	var out []orchestrator.State
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		st, err := orchestrator.ParseState(p)
		if err != nil {
			return nil, linkis.ValueError(linkis.ErrInvalidArgument, "status", clip(p), "not a job state (Inited, WaitForRetry, Scheduled, Running, Succeed, Failed, Cancelled, Timeout)")
		}
		out = append(out, st)
	}
	return out, nil
}

// listQuery reads the filters list and listundone share.
func listQuery(r *http.Request) (orchestrator.ListQuery, error) {
	q := r.URL.Query()
	var lq orchestrator.ListQuery
	var err error
	if lq.States, err = parseStates(q.Get("status")); err != nil {
		return lq, err
	}
	lq.Creator = q.Get("creator")
	lq.EngineType = q.Get("engineType")
	if lq.EngineType == "" {
		// Linkis's own clients (the console, the SDK) name the engine
		// type filter executeApplicationName.
		lq.EngineType = q.Get("executeApplicationName")
	}
	if len(lq.Creator) > maxIDBytes || len(lq.EngineType) > maxIDBytes {
		return lq, linkis.Errorf(linkis.ErrInvalidArgument, "creator", "creator and engineType must be at most %d bytes", maxIDBytes)
	}
	if s := q.Get("taskID"); s != "" {
		if lq.TaskID, err = strconv.ParseInt(s, 10, 64); err != nil || lq.TaskID <= 0 {
			return lq, linkis.ValueError(linkis.ErrInvalidArgument, "taskID", clip(s), "must be a positive integer")
		}
	}
	if lq.Since, err = parseTime("startDate", q.Get("startDate")); err != nil {
		return lq, err
	}
	if lq.Until, err = parseTime("endDate", q.Get("endDate")); err != nil {
		return lq, err
	}
	if !lq.Since.IsZero() && lq.Since.Equal(lq.Until) {
		lq.Until = lq.Until.AddDate(0, 0, 1) // as Linkis: one instant means that day
	}
	if lq.Page, err = intParam(r, "pageNow", 1, 1); err != nil {
		return lq, err
	}
	if lq.PageSize, err = intParam(r, "pageSize", DefaultListPageSize, 1); err != nil {
		return lq, err
	}
	if lq.PageSize > MaxListPageSize {
		return lq, linkis.Errorf(linkis.ErrInvalidArgument, "pageSize", "at most %d, got %d", MaxListPageSize, lq.PageSize)
	}
	return lq, nil
}

// list answers a page of the caller's jobs; with isAdminView=true an
// administrator's covers every user's (or proxyUser's) jobs, as Linkis's
// history admins see them.
func (h *handler) list(c *apiCall) *reply {
	lq, err := listQuery(c.r)
	if err != nil {
		return &reply{err: err}
	}
	adminView, err := boolParam(c.r, "isAdminView", false)
	if err != nil {
		return &reply{err: err}
	}
	if inst := c.r.URL.Query().Get("instance"); inst != "" && inst != h.cfg.Instance {
		return &reply{data: ListData{Tasks: []Task{}}}
	}
	var jobs []orchestrator.Job
	var total int
	if adminView && c.admin {
		jobs, total, err = h.jobs.ListAll(readCtx(c.r), c.r.URL.Query().Get("proxyUser"), lq)
	} else {
		jobs, total, err = h.jobs.List(readCtx(c.r), c.user, lq)
	}
	if err != nil {
		return &reply{err: err}
	}
	now := h.now()
	d := ListData{Tasks: make([]Task, 0, len(jobs)), TotalPage: total}
	for _, j := range jobs {
		d.Tasks = append(d.Tasks, h.taskOf(j, now))
	}
	return &reply{data: d}
}

// listUndone counts the caller's jobs that have not ended, created within
// [startDate, endDate) (default: the day before now), as Linkis does.
func (h *handler) listUndone(c *apiCall) *reply {
	lq, err := listQuery(c.r)
	if err != nil {
		return &reply{err: err}
	}
	if lq.Until.IsZero() {
		lq.Until = h.now()
	}
	if lq.Since.IsZero() {
		lq.Since = lq.Until.AddDate(0, 0, -1)
	}
	if len(lq.States) == 0 {
		lq.States = []orchestrator.State{orchestrator.Inited, orchestrator.WaitForRetry, orchestrator.Scheduled, orchestrator.Running}
	}
	lq.Page, lq.PageSize = 1, 1
	_, total, err := h.jobs.List(readCtx(c.r), c.user, lq)
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: UndoneData{TotalPage: total}}
}

// governanceStationAdmin tells the console whether the caller is an
// administrator (it then offers the view of every user's jobs).
func (h *handler) governanceStationAdmin(c *apiCall) *reply {
	return &reply{data: AdminData{Admin: c.admin, HistoryAdmin: c.admin}}
}
