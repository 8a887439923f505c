package restapi

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

// The entrance API (Linkis's EntranceRestfulApi).
var entranceRoutes = []route{
	{methods: post, pattern: "/entrance/submit", handle: (*handler).submit},
	{methods: post, pattern: "/entrance/execute", handle: (*handler).execute},
	{methods: get, pattern: "/entrance/{execID}/status", argName: "execID", handle: (*handler).status},
	{methods: get, pattern: "/entrance/{execID}/progress", argName: "execID", handle: (*handler).progress},
	{methods: get, pattern: "/entrance/{execID}/progressWithResource", argName: "execID", handle: (*handler).progressWithResource},
	{methods: get, pattern: "/entrance/{execID}/log", argName: "execID", handle: (*handler).log},
	{methods: getPost, pattern: "/entrance/{execID}/kill", argName: "execID", changes: true, handle: (*handler).kill},
	{methods: post, pattern: "/entrance/{execID}/killJobs", argName: "execID", handle: (*handler).killJobs},
	{methods: get, pattern: "/entrance/{execID}/pause", argName: "execID", handle: (*handler).pause},
}

func (h *handler) submit(c *apiCall) *reply {
	body, rep := h.readBody(c)
	if rep != nil {
		return rep
	}
	req, as, err := submitRequest(body)
	if err != nil {
		return &reply{err: err}
	}
	return h.accept(c, req, as)
}

func (h *handler) execute(c *apiCall) *reply {
	body, rep := h.readBody(c)
	if rep != nil {
		return rep
	}
	req, as, err := executeRequest(body, c.user)
	if err != nil {
		return &reply{err: err}
	}
	return h.accept(c, req, as)
}

// accept submits req as the caller, or as executeUser when it names
// another user - which only an administrator may (Linkis's proxy user).
func (h *handler) accept(c *apiCall, req orchestrator.JobRequest, executeUser string) *reply {
	user := c.user
	if executeUser != "" && executeUser != c.user {
		if !c.admin {
			return &reply{err: linkis.ValueError(linkis.ErrPermission, "executeUser", clip(executeUser),
				"only an administrator may submit as another user; leave executeUser empty or name yourself")}
		}
		user = executeUser
		req.SubmitUser = c.user // kept in the job's record: who ran it as user
	}
	job, err := h.jobs.Submit(c.r.Context(), user, req)
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: SubmitData{ExecID: job.ExecID, TaskID: job.TaskID}}
}

// jobByExec reads the job of the call's exec id: the caller's own, or any
// for an administrator.
func (h *handler) jobByExec(c *apiCall) (orchestrator.Job, error) {
	if c.admin {
		return h.jobs.JobByExecIDAny(readCtx(c.r), c.args[0])
	}
	return h.jobs.JobByExecID(readCtx(c.r), c.user, c.args[0])
}

func (h *handler) status(c *apiCall) *reply {
	job, err := h.jobByExec(c)
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: StatusData{Status: stateName(job.State), ExecID: job.ExecID, TaskID: job.TaskID}}
}

func progressOf(job orchestrator.Job) ProgressData {
	info := ProgressInfo{ID: job.ExecID, TotalTasks: 1, Info: job.ProgressInfo}
	switch job.State {
	case orchestrator.Running:
		info.RunningTasks = 1
	case orchestrator.Succeed:
		info.SucceedTasks = 1
	case orchestrator.Failed, orchestrator.Cancelled, orchestrator.Timeout:
		info.FailedTasks = 1
	}
	return ProgressData{Progress: job.Progress, ProgressInfo: []ProgressInfo{info}, ExecID: job.ExecID}
}

func (h *handler) progress(c *apiCall) *reply {
	job, err := h.jobByExec(c)
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: progressOf(job)}
}

func (h *handler) progressWithResource(c *apiCall) *reply {
	job, err := h.jobByExec(c)
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: ProgressResourceData{ProgressData: progressOf(job)}}
}

// log answers a page of a job's log: [error, warn, info, all] as Linkis
// does, or one string with distinctLevel=false. size -1 asks for the most
// a page holds (10,000 lines), as Linkis reads it.
func (h *handler) log(c *apiCall) *reply {
	from, err := intParam(c.r, "fromLine", 0, 0)
	if err != nil {
		return &reply{err: err}
	}
	size, err := intParam(c.r, "size", DefaultLogSize, -1)
	if err != nil {
		return &reply{err: err}
	}
	switch {
	case size < 0:
		size = MaxLogSize
	case size == 0:
		size = DefaultLogSize
	}
	size = min(size, MaxLogSize)
	distinct, err := boolParam(c.r, "distinctLevel", true)
	if err != nil {
		return &reply{err: err}
	}
	owner, err := h.owner(c)
	if err != nil {
		return &reply{err: err}
	}
	page, err := h.jobs.Log(readCtx(c.r), owner, c.args[0], from, size)
	if err != nil {
		return &reply{err: err}
	}
	if !distinct {
		return &reply{data: PlainLogData{Log: SplitLog(page.Lines)[LogAll], FromLine: page.Next, ExecID: c.args[0]}}
	}
	return &reply{data: LogData{Log: SplitLog(page.Lines), FromLine: page.Next, ExecID: c.args[0], Complete: page.Complete}}
}

// owner is whose job the call's exec id names: the caller, or for an
// administrator whoever's it is.
func (h *handler) owner(c *apiCall) (string, error) {
	if !c.admin {
		return c.user, nil
	}
	job, err := h.jobs.JobByExecIDAny(readCtx(c.r), c.args[0])
	if err != nil {
		return "", err
	}
	return job.User, nil
}

// SplitLog sorts log lines into Linkis's four strings [error, warn, info,
// all]: a line goes to error if it contains "ERROR", to warn if "WARN",
// to info if "INFO", and always to all. Each line ends with "\n".
func SplitLog(lines []string) [4]string {
	var b [4]strings.Builder
	for _, l := range lines {
		l = strings.ReplaceAll(l, "\n", " ")
		for i, word := range [3]string{"ERROR", "WARN", "INFO"} {
			if strings.Contains(l, word) {
				b[i].WriteString(l)
				b[i].WriteByte('\n')
			}
		}
		b[LogAll].WriteString(l)
		b[LogAll].WriteByte('\n')
	}
	return [4]string{b[0].String(), b[1].String(), b[2].String(), b[3].String()}
}

// killOne kills the job of execID as the caller may: their own, or any
// for an administrator.
func (h *handler) killOne(c *apiCall, execID string) (orchestrator.Job, error) {
	if c.admin {
		return h.jobs.KillBy(c.r.Context(), c.user, execID)
	}
	return h.jobs.Kill(c.r.Context(), c.user, execID)
}

func (h *handler) kill(c *apiCall) *reply {
	job, err := h.killOne(c, c.args[0])
	if err != nil {
		return &reply{err: err}
	}
	return &reply{msg: "Successfully killed the job(成功kill了job)",
		data: StatusData{Status: stateName(job.State), ExecID: job.ExecID, TaskID: job.TaskID}}
}

// maxKillJobs bounds the jobs one killJobs names.
const maxKillJobs = 1000

// killJobs kills the jobs idList names (taskIDList pairs with it, as
// Linkis's console sends both): each answered by its own envelope, in
// order - the caller's own jobs are killed, other users' refused one by
// one (an administrator's kill any). The answer is status 0 with the
// envelopes, as Linkis answers.
func (h *handler) killJobs(c *apiCall) *reply {
	body, rep := h.readBody(c)
	if rep != nil {
		return rep
	}
	var b KillJobsBody
	if err := api.Decode(body, &b); err != nil {
		return &reply{err: err}
	}
	switch {
	case len(b.IDList) != len(b.TaskIDList):
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "taskIDList", "has %d ids for %d in idList; they go in pairs", len(b.TaskIDList), len(b.IDList))}
	case len(b.IDList) > maxKillJobs:
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "idList", "at most %d jobs at once, got %d", maxKillJobs, len(b.IDList))}
	}
	d := KillJobsData{Messages: make([]Envelope, 0, len(b.IDList))}
	for i, id := range b.IDList {
		env := Envelope{Method: Prefix + "/entrance/" + id + "/kill", Status: StatusOK, Message: "Successfully killed the job(成功kill了job)"}
		if err := checkID("idList", id); err != nil {
			env.Status, env.Message = StatusValidation, err.Error()
		} else if job, err := h.killOne(c, id); err != nil {
			env.Status, _, env.Message, _, _ = classify(err)
			if errors.Is(err, linkis.ErrPermission) {
				env.Message = "not your job: " + clip(id)
			}
		} else if job.TaskID != b.TaskIDList[i] {
			env.Message += "; note: its task id is " + formatID(job.TaskID) + ", not " + formatID(b.TaskIDList[i])
		}
		env.Data = mustJSON(ExecIDData{ExecID: id})
		d.Messages = append(d.Messages, env)
	}
	return &reply{msg: "success", data: d}
}

// pause answers as Linkis's entrance does - status 0 with the exec id -
// for a job the caller may see, and says what is true: jobs are not paused
// (Linkis does not pause them either).
func (h *handler) pause(c *apiCall) *reply {
	job, err := h.jobByExec(c)
	if err != nil {
		return &reply{err: err}
	}
	return &reply{msg: "pause is not supported: the job goes on (Linkis's entrance does not pause jobs either)",
		data: ExecIDData{ExecID: job.ExecID}}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
