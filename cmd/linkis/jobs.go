package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// defaultServer is where the job commands find a server when neither
// --server nor $LINKIS_SERVER says.
const defaultServer = "http://127.0.0.1:8088"

// jobsUsage lists the job commands for the main usage text.
const jobsUsage = "\n  submit       submit a job to a server: --engine shell|python|sql (--code CODE | --file F) [--creator IDE] [--var k=v]... [--label k=v]... [--wait]" +
	"\n  status       show a job's state and progress (linkis status EXECID)" +
	"\n  log          print a job's log (linkis log EXECID [--from N] [--follow])" +
	"\n  result       print a job's result sets (linkis result TASKID|EXECID [--page N])" +
	"\n  kill         cancel a job (linkis kill EXECID)" +
	"\n  list         list your jobs, newest first (linkis list [--status S] [--page N])" +
	"\n               the job commands take --server URL (default $LINKIS_SERVER, else " + defaultServer + ")," +
	"\n               --user and --token (default $LINKIS_USER and $LINKIS_TOKEN_CODE)"

// runJobs runs a job command until it ends or SIGINT/SIGTERM.
func runJobs(name string, out io.Writer, args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return runJobCommand(ctx, name, out, args)
}

// runJobCommand dispatches a job command.
func runJobCommand(ctx context.Context, name string, out io.Writer, args []string) error {
	switch name {
	case "submit":
		return runSubmit(ctx, out, args)
	case "status":
		return runStatus(ctx, out, args)
	case "log":
		return runLog(ctx, out, args)
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
	fs.StringVar(&c.server, "server", server, "the server's URL (default $LINKIS_SERVER, else "+defaultServer+")")
	fs.StringVar(&c.user, "user", os.Getenv("LINKIS_USER"), "your user (default $LINKIS_USER)")
	fs.StringVar(&c.token, "token", os.Getenv("LINKIS_TOKEN_CODE"), "your token code (default $LINKIS_TOKEN_CODE)")
}

func (c *conn) client() (*restapi.Client, error) {
	if c.user == "" || c.token == "" {
		return nil, errors.New("a user and token code are required: --user and --token, or $LINKIS_USER and $LINKIS_TOKEN_CODE")
	}
	return restapi.NewClient(c.server, c.user, c.token, nil)
}

// parseArgs parses flags placed before or after the positional
// arguments, and checks there are exactly want positional ones.
func parseArgs(fs *flag.FlagSet, args []string, want int, what string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%s: %w", fs.Name(), err)
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
// in sim.go), keeps one progress line updated under them.
type follower struct {
	out      io.Writer
	tty      bool
	showLogs bool
	drawn    bool
}

func (f *follower) update(u restapi.Update) {
	if f.tty && f.drawn {
		fmt.Fprint(f.out, "\r\033[K")
		f.drawn = false
	}
	if f.showLogs {
		for _, l := range u.Lines {
			fmt.Fprintln(f.out, l)
		}
	}
	if f.tty && !u.Final {
		fmt.Fprint(f.out, restapi.ProgressLine(u.Progress, u.Status.Status, u.Status.ExecID, 10))
		f.drawn = true
	}
}

// follow waits for a job, showing logs and progress as it goes.
func follow(ctx context.Context, c *restapi.Client, out io.Writer, execID string, from int, showLogs bool) (restapi.StatusData, error) {
	f := &follower{out: out, tty: isTerminal(out), showLogs: showLogs}
	st, err := c.Follow(ctx, execID, from, f.update)
	if f.drawn {
		fmt.Fprint(out, "\r\033[K")
	}
	return st, err
}

// jobFlags are the flags that describe a job (submit and run).
type jobFlags struct {
	engine, code, file, creator, dataSource *string
	vars, labels                            kvFlag
}

func (j *jobFlags) register(fs *flag.FlagSet, creator string) {
	j.engine = fs.String("engine", "", "the engine: "+orchestrator.EngineNames)
	j.code = fs.String("code", "", "the code to run")
	j.file = fs.String("file", "", "a file holding the code to run")
	j.creator = fs.String("creator", creator, "the creator of the userCreator label")
	j.dataSource = fs.String("datasource", "", "a data source of the server's configuration, for --engine jdbc")
	j.vars, j.labels = kvFlag{}, kvFlag{}
	fs.Var(j.vars, "var", "a ${name} substitution, k=v (repeatable)")
	fs.Var(j.labels, "label", "a further label, k=v (repeatable)")
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
	return orchestrator.NewRequest(orchestrator.RequestSpec{Engine: *j.engine, Code: code, User: user, Creator: *j.creator,
		Vars: j.vars, Labels: j.labels, Source: src, DataSource: *j.dataSource})
}

// runSubmit is `linkis submit --engine E (--code C | --file F) [--creator
// IDE] [--var k=v]... [--label k=v]... [--wait]`.
func runSubmit(ctx context.Context, out io.Writer, args []string) error {
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
	st, err := follow(ctx, c, out, sub.ExecID, 0, true)
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
	reason := ""
	if t, err := c.Job(ctx, st.TaskID); err == nil && t.ErrDesc != "" {
		reason = ": " + t.ErrDesc
	}
	return fmt.Errorf("job %s ended %s%s", st.ExecID, st.Status, reason)
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

// runLog is `linkis log EXECID [--from N] [--follow]`.
func runLog(ctx context.Context, out io.Writer, args []string) error {
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
		_, err := follow(ctx, c, out, pos[0], *from, true)
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
	return printResults(ctx, c, out, taskID, *page, *pageSize)
}

// printResults prints a job's result sets as tables, one page of each.
func printResults(ctx context.Context, c *restapi.Client, out io.Writer, taskID int64, page, pageSize int) error {
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
	for i, p := range task.ResultLocations {
		if len(task.ResultLocations) > 1 {
			if i > 0 {
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "== result %d of %d ==\n", i+1, len(task.ResultLocations))
		}
		fd, err := c.OpenFile(ctx, p, page, pageSize)
		if err != nil {
			return err
		}
		if err := restapi.WriteTable(out, fd.ResultSet()); err != nil {
			return err
		}
		if fd.TotalPage > 1 {
			fmt.Fprintf(out, "(page %d of %d, %d rows in all; --page N for another)\n", fd.Page, fd.TotalPage, fd.TotalLine)
		}
	}
	return nil
}

// runKill is `linkis kill EXECID`.
func runKill(ctx context.Context, out io.Writer, args []string) error {
	c, execID, err := execCommand("kill", args)
	if err != nil {
		return err
	}
	st, err := c.Kill(ctx, execID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s %s\n", st.ExecID, st.Status)
	return nil
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
		errDesc := t.ErrDesc
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
