package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/entrance"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// defaultServer is where the job commands find a server when neither
// --server nor $LINKIS_SERVER says.
const defaultServer = "http://127.0.0.1:8088"

// runJobs runs a job command until it ends or SIGINT/SIGTERM.
func runJobs(name string, out io.Writer, args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return runJobCommand(ctx, name, out, os.Stderr, args)
}

// runJobCommand dispatches a job command; diag hears what is not the
// command's output (a server that stops answering, say).
func runJobCommand(ctx context.Context, name string, out, diag io.Writer, args []string) error {
	switch name {
	case "submit":
		return runSubmit(ctx, out, diag, args)
	case "status":
		return runStatus(ctx, out, args)
	case "log":
		return runLog(ctx, out, diag, args)
	case "result":
		return runResult(ctx, out, args)
	case "kill":
		return runKill(ctx, out, args)
	case "list":
		return runList(ctx, out, args)
	}
	return fmt.Errorf("unknown job command %q", name)
}

// conn holds the flags every job command shares.
type conn struct{ server, user, token string }

func (c *conn) register(fs *flag.FlagSet) {
	server := os.Getenv("LINKIS_SERVER")
	if server == "" {
		server = defaultServer
	}
	fs.StringVar(&c.server, "server", server, "the server, http://HOST:PORT or HOST:PORT; a cluster's members comma-separated ($LINKIS_SERVER when set)")
	fs.StringVar(&c.user, "user", os.Getenv("LINKIS_USER"), "your user ($LINKIS_USER when set)")
	// Not the default: help would print it.
	fs.StringVar(&c.token, "token", "", "your token code (default $LINKIS_TOKEN_CODE)")
}

func (c *conn) client() (*restapi.Client, error) {
	if c.token == "" {
		c.token = os.Getenv("LINKIS_TOKEN_CODE")
	}
	if c.user == "" || c.token == "" {
		return nil, errors.New("a user and token code are required: --user and --token, or $LINKIS_USER and $LINKIS_TOKEN_CODE")
	}
	return restapi.NewClient(serverURL(c.server), c.user, c.token, nil)
}

// serverURL accepts a server given as HOST:PORT, as people type it, for
// http://HOST:PORT - each of a comma-separated list of a cluster's members.
func serverURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if p = strings.TrimSpace(p); p != "" && !strings.Contains(p, "://") {
			p = "http://" + p
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

// parseArgs parses flags placed before or after the positional
// arguments, and checks there are exactly want positional ones. Asked for
// help (-h, --help), it returns a *helpRequest.
func parseArgs(fs *flag.FlagSet, args []string, want int, what string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, newHelpRequest(fs)
			}
			return nil, fmt.Errorf("%s: %w (linkis help %s lists its flags)", fs.Name(), err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != want {
		if want == 0 {
			return nil, fmt.Errorf("%s takes no arguments, got %q", fs.Name(), pos)
		}
		return nil, fmt.Errorf("usage: linkis %s %s", fs.Name(), what)
	}
	return pos, nil
}

// kvFlag is a repeatable k=v flag.
type kvFlag map[string]string

func (f kvFlag) String() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k+"="+f[k])
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (f kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	f[k] = v
	return nil
}

// follower prints a job's new log lines and, on a terminal (isTerminal,
// in sim.go), keeps one progress line updated under them. It says on
// diag when the server stops answering and when it answers again.
type follower struct {
	out       io.Writer
	diag      io.Writer
	server    string
	tty       bool
	showLogs  bool
	drawn     bool
	lost      bool
	truncated bool // a line said the log was cut at its cap
}

func (f *follower) clear() {
	if f.tty && f.drawn {
		fmt.Fprint(f.out, "\r\033[K")
		f.drawn = false
	}
}

// connection is the client's OnConnection.
func (f *follower) connection(err error, retryIn time.Duration) {
	f.clear()
	switch {
	case err != nil:
		fmt.Fprintf(f.diag, "linkis: no answer from the server at %s (%v); trying again in %v\n", f.server, err, retryIn.Round(time.Millisecond))
		f.lost = true
	case f.lost:
		fmt.Fprintf(f.diag, "linkis: the server at %s answers again; following on\n", f.server)
		f.lost = false
	}
}

func (f *follower) update(u restapi.Update) {
	f.clear()
	if f.showLogs {
		for _, l := range u.Lines {
			fmt.Fprintln(f.out, l)
			f.truncated = f.truncated || l == entrance.LogTruncated || strings.HasPrefix(l, engineconn.LogTruncatedNote)
		}
	}
	if f.tty && !u.Final {
		fmt.Fprint(f.out, restapi.ProgressLine(u.Progress, u.Status.Status, u.Status.ExecID, 10))
		f.drawn = true
	}
}

// follow waits for a job, showing logs and progress on out as it goes,
// and on diag when the server stops answering and answers again. A server
// that does not come back within c.Reconnect is an error saying the job
// may still run.
func follow(ctx context.Context, c *restapi.Client, out, diag io.Writer, server, execID string, from int, showLogs bool) (restapi.StatusData, *follower, error) {
	f := &follower{out: out, diag: diag, server: server, tty: isTerminal(out), showLogs: showLogs}
	c.OnConnection = f.connection
	st, err := c.Follow(ctx, execID, from, f.update)
	f.clear()
	if errors.Is(err, linkis.ErrUnavailable) {
		err = fmt.Errorf("%w; job %s may still run: linkis status %s", err, execID, execID)
	}
	return st, f, err
}

// jobFlags are the flags that describe a job (submit and run).
type jobFlags struct {
	engine, code, file, creator, dataSource *string
	vars, labels, params                    kvFlag
}

func (j *jobFlags) register(fs *flag.FlagSet, creator string) {
	j.engine = fs.String("engine", "", "the engine: "+orchestrator.EngineNames)
	j.code = fs.String("code", "", "the code to run")
	j.file = fs.String("file", "", "a file holding the code to run")
	j.creator = fs.String("creator", creator, "the creator of the userCreator label")
	j.dataSource = fs.String("datasource", "", "a data source of the server's configuration, for --engine jdbc")
	j.vars, j.labels, j.params = kvFlag{}, kvFlag{}, kvFlag{}
	fs.Var(j.vars, "var", "a ${name} substitution, k=v (repeatable)")
	fs.Var(j.labels, "label", "a further label, k=v, e.g. tenant=t1 or jobRetryCount=0 (repeatable)")
	fs.Var(j.params, "param", "an engine startup parameter, k=v, e.g. engineconn.max.free.time=15s (repeatable)")
}

// request builds the job request of user's the flags describe.
func (j *jobFlags) request(cmd, user string) (orchestrator.JobRequest, error) {
	if (*j.code == "") == (*j.file == "") {
		return orchestrator.JobRequest{}, fmt.Errorf("%s: give the code with exactly one of --code and --file", cmd)
	}
	code, src := *j.code, ""
	if *j.file != "" {
		b, err := os.ReadFile(*j.file)
		if err != nil {
			return orchestrator.JobRequest{}, fmt.Errorf("%s: %w", cmd, err)
		}
		code, src = string(b), *j.file
	}
	for k := range j.labels {
		// Linkis's labels are words (engineType, tenant, jobRetryCount);
		// a dotted key is a setting, which a label would carry nowhere.
		if strings.Contains(k, ".") {
			return orchestrator.JobRequest{}, fmt.Errorf("%s: --label %s: not a label (labels are like tenant or jobRetryCount); an engine startup parameter goes with --param %s=%s",
				cmd, k, k, j.labels[k])
		}
	}
	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{Engine: *j.engine, Code: code, User: user, Creator: *j.creator,
		Vars: j.vars, Labels: j.labels, Source: src, DataSource: *j.dataSource})
	if err == nil && len(j.params) > 0 {
		req.Params.Configuration.Startup = orchestrator.Values(maps.Clone(j.params))
	}
	return req, err
}

// runSubmit is `linkis submit --engine E (--code C | --file F) [--creator
// IDE] [--var k=v]... [--label k=v]... [--wait]`.
func runSubmit(ctx context.Context, out, diag io.Writer, args []string) error {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	var cn conn
	cn.register(fs)
	var jf jobFlags
	jf.register(fs, "IDE")
	wait := fs.Bool("wait", false, "wait for the job to end, showing its log and progress")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	req, err := jf.request("submit", cn.user)
	if err != nil {
		return err
	}
	c, err := cn.client()
	if err != nil {
		return err
	}
	sub, err := c.Submit(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "submitted %s (taskID %d)\n", sub.ExecID, sub.TaskID)
	if !*wait {
		return nil
	}
	st, _, err := follow(ctx, c, out, diag, serverURL(cn.server), sub.ExecID, 0, true)
	if err != nil {
		return err
	}
	return ended(ctx, c, out, st)
}

// ended prints a job's final state; a job that did not succeed is an
// error carrying the reason.
func ended(ctx context.Context, c *restapi.Client, out io.Writer, st restapi.StatusData) error {
	fmt.Fprintf(out, "%s %s\n", st.ExecID, st.Status)
	if st.Status == orchestrator.Succeed.String() {
		return nil
	}
	return fmt.Errorf("job %s ended %s%s", st.ExecID, st.Status, endReason(ctx, c, st))
}

// execCommand parses a job command that takes the server flags and one
// EXECID, and returns the server's client and the id.
func execCommand(name string, args []string) (*restapi.Client, string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var cn conn
	cn.register(fs)
	pos, err := parseArgs(fs, args, 1, "EXECID")
	if err != nil {
		return nil, "", err
	}
	c, err := cn.client()
	return c, pos[0], err
}

// runStatus is `linkis status EXECID`.
func runStatus(ctx context.Context, out io.Writer, args []string) error {
	c, execID, err := execCommand("status", args)
	if err != nil {
		return err
	}
	st, err := c.Status(ctx, execID)
	if err != nil {
		return err
	}
	if state, _ := orchestrator.ParseState(st.Status); state.Final() {
		// The progress of an ended job may still carry what it said
		// while it ran ("retrying in 30s"): say how it ended instead.
		fmt.Fprintf(out, "%s taskID %d: %s%s\n", st.ExecID, st.TaskID, st.Status, endReason(ctx, c, st))
		return nil
	}
	pr, err := c.Progress(ctx, execID)
	if err != nil {
		return err
	}
	info := ""
	if len(pr.ProgressInfo) > 0 && pr.ProgressInfo[0].Info != "" {
		info = " (" + pr.ProgressInfo[0].Info + ")"
	}
	fmt.Fprintf(out, "%s taskID %d: %s %d%%%s\n", st.ExecID, st.TaskID, st.Status, int(pr.Progress*100), info)
	return nil
}

// endReason is ": why" for a job that ended other than Succeed, from its
// history record ("" when it succeeded or the record says nothing).
func endReason(ctx context.Context, c *restapi.Client, st restapi.StatusData) string {
	if st.Status == orchestrator.Succeed.String() {
		return ""
	}
	if t, err := c.Job(ctx, st.TaskID); err == nil && t.ErrorText() != "" {
		return ": " + t.ErrorText()
	}
	return ""
}

// runLog is `linkis log EXECID [--from N] [--follow]`.
func runLog(ctx context.Context, out, diag io.Writer, args []string) error {
	fs := flag.NewFlagSet("log", flag.ContinueOnError)
	var cn conn
	cn.register(fs)
	from := fs.Int("from", 0, "the first line to print (0 is the first)")
	follows := fs.Bool("follow", false, "keep printing new lines until the job ends")
	pos, err := parseArgs(fs, args, 1, "EXECID [--from N] [--follow]")
	if err != nil {
		return err
	}
	if *from < 0 {
		return fmt.Errorf("log: --from must not be negative, got %d", *from)
	}
	c, err := cn.client()
	if err != nil {
		return err
	}
	if *follows {
		_, _, err := follow(ctx, c, out, diag, serverURL(cn.server), pos[0], *from, true)
		return err
	}
	for at := *from; ; {
		page, err := c.Log(ctx, pos[0], at, 0)
		if err != nil {
			return err
		}
		for _, l := range page.Lines {
			fmt.Fprintln(out, l)
		}
		if page.Complete || page.Next <= at {
			return nil
		}
		at = page.Next
	}
}

// runResult is `linkis result TASKID|EXECID [--page N] [--page-size N]`.
func runResult(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("result", flag.ContinueOnError)
	var cn conn
	cn.register(fs)
	page := fs.Int("page", 1, "the page of each result set to print (from 1)")
	pageSize := fs.Int("page-size", restapi.DefaultFilePageSize, "rows per page")
	pos, err := parseArgs(fs, args, 1, "TASKID|EXECID [--page N]")
	if err != nil {
		return err
	}
	if *page < 1 || *pageSize < 1 {
		return fmt.Errorf("result: --page and --page-size must be at least 1")
	}
	c, err := cn.client()
	if err != nil {
		return err
	}
	taskID, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		st, err := c.Status(ctx, pos[0])
		if err != nil {
			return err
		}
		taskID = st.TaskID
	}
	return printResults(ctx, c, out, taskID, *page, *pageSize, false)
}

// printResults prints a job's result sets as tables, one page of each;
// with skipText, only those that are not text (output lines the log
// showed already).
func printResults(ctx context.Context, c *restapi.Client, out io.Writer, taskID int64, page, pageSize int, skipText bool) error {
	task, err := c.Job(ctx, taskID)
	if err != nil {
		return err
	}
	if len(task.ResultLocations) == 0 {
		if state, _ := orchestrator.ParseState(task.Status); !state.Final() {
			return linkis.Errorf(linkis.ErrInvalidArgument, "job", "%s is %s: no result yet", task.ExecID, task.Status)
		}
		fmt.Fprintf(out, "%s %s: no result\n", task.ExecID, task.Status)
		return nil
	}
	printed := 0
	for i, p := range task.ResultLocations {
		fd, err := c.OpenFile(ctx, p, page, pageSize)
		if err != nil {
			return err
		}
		if skipText && fd.Type == restapi.FileTypeText {
			continue
		}
		if len(task.ResultLocations) > 1 {
			if printed > 0 {
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "== result %d of %d ==\n", i+1, len(task.ResultLocations))
		}
		printed++
		if err := restapi.WriteTable(out, fd.ResultSet()); err != nil {
			return err
		}
		if fd.TotalPage > 1 {
			fmt.Fprintf(out, "(page %d of %d, %d rows in all; --page N for another)\n", fd.Page, fd.TotalPage, fd.TotalLine)
		}
	}
	return nil
}

// killWait is how long `linkis kill` waits for the job to end: a running
// job's task is stopped (SIGTERM, then SIGKILL after a grace) before the
// job is Cancelled.
const killWait = 10 * time.Second

// runKill is `linkis kill EXECID`: it prints the state the job ended in,
// or says the kill was requested when the job has not ended within
// killWait.
func runKill(ctx context.Context, out io.Writer, args []string) error {
	c, execID, err := execCommand("kill", args)
	if err != nil {
		return err
	}
	st, err := c.Kill(ctx, execID)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, killWait)
	defer cancel()
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		if state, _ := orchestrator.ParseState(st.Status); state.Final() {
			fmt.Fprintf(out, "%s %s\n", st.ExecID, st.Status)
			return nil
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(out, "%s: kill requested; the job is still %s after %v (linkis status %s says when it ends)\n",
				st.ExecID, st.Status, killWait, st.ExecID)
			return nil
		case <-time.After(delay):
		}
		if next, err := c.Status(wctx, execID); err == nil {
			st = next
		}
	}
}

// runList is `linkis list [--status S] [--page N] [--page-size N]`.
func runList(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	var cn conn
	cn.register(fs)
	status := fs.String("status", "", "only jobs in this state (Inited, Running, Succeed, Failed, Cancelled, ...)")
	page := fs.Int("page", 1, "the page to print (from 1)")
	pageSize := fs.Int("page-size", restapi.DefaultListPageSize, "jobs per page (at most 500)")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if *page < 1 || *pageSize < 1 {
		return fmt.Errorf("list: --page and --page-size must be at least 1")
	}
	q := orchestrator.ListQuery{Page: *page, PageSize: *pageSize}
	if *status != "" {
		s, err := orchestrator.ParseState(*status)
		if err != nil {
			return err
		}
		q.State = s
	}
	c, err := cn.client()
	if err != nil {
		return err
	}
	tasks, total, err := c.List(ctx, q)
	if err != nil {
		return err
	}
	rs := api.ResultSet{ResultSetHeader: api.ResultSetHeader{Type: "table", Columns: []api.ResultColumn{
		{Name: "taskID"}, {Name: "execID"}, {Name: "status"}, {Name: "engineType"}, {Name: "creator"}, {Name: "created"}, {Name: "cost"}, {Name: "error"},
	}}}
	for _, t := range tasks {
		created := time.UnixMilli(t.CreatedTime).Format(time.DateTime)
		cost := (time.Duration(t.CostTime) * time.Millisecond).Round(time.Millisecond).String()
		errDesc := t.ErrorText()
		if len(errDesc) > 60 {
			errDesc = errDesc[:57] + "..."
		}
		rs.Rows = append(rs.Rows, []any{t.TaskID, t.ExecID, t.Status, t.EngineType, t.RequestApplicationName, created, cost, errDesc})
	}
	if err := restapi.WriteTable(out, rs); err != nil {
		return err
	}
	pages := max(1, (total+q.PageSize-1)/max(q.PageSize, 1))
	fmt.Fprintf(out, "page %d of %d (%d jobs)\n", q.Page, pages, total)
	return nil
}
