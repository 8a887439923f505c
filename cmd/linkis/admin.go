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
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// `linkis admin SUBCOMMAND`: the management calls of a server, as an
// operator types them, printing tables.

// adminCommand is one subcommand of linkis admin.
type adminCommand struct {
	name, args, summary string
	run                 func(ctx context.Context, out io.Writer, a adminArgs) error
}

// adminArgs is what a subcommand parses: its flags (the connection's
// registered already) and its arguments.
type adminArgs struct {
	fs   *flag.FlagSet
	cn   *conn
	args []string
}

var adminCommands = []adminCommand{
	{name: "ecms", args: "[--instance S] [--health H] [--label k=v,...]", summary: "list the ECMs: health, engines and their resources (administrators)", run: adminECMs},
	{name: "engines", args: "[--ecm ECM] [--owner U] [--status S] [--type T]", summary: "list live engines: your own, or (administrators) an ECM's or users'", run: adminEngines},
	{name: "history", args: "[--owner U] [--type T] [--since 24h]", summary: "list engines that ended: when, why, exit code, on which ECM", run: adminHistory},
	{name: "resources", args: "[--all [--owner U]] [--reset LABEL|all]", summary: "show resource rows (yours; --all: every user's), or recompute one from its engines", run: adminResources},
	{name: "kill-engine", args: "INSTANCE... | --idle [--ecm ECM] [--owner U]", summary: "kill engines by address or ticket, or the idle ones of an ECM or a user", run: adminKill},
	{name: "drain", args: "ECM [--undo]", summary: "set an ECM UnHealthy: no new engine starts there, the running ones finish (--undo: Healthy again)", run: adminDrain},
	{name: "logs", args: "INSTANCE [--from N] [--size N]", summary: "print an engine's own output, also of one that failed to start", run: adminLogs},
	{name: "config", args: "get|set|unset [--owner U] [--creator C] [--engine T] [KEY=VALUE|KEY]...", summary: "show or change a level of the configuration tree", run: adminConfig},
	{name: "vars", args: "[set NAME=VALUE... | unset NAME...] [--owner U]", summary: "list or change global variables, the ${name} values of every job", run: adminVars},
}

// runAdmin is `linkis admin SUBCOMMAND [flags]`.
func runAdmin(out io.Writer, args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return runAdminCommand(ctx, out, args)
}

func runAdminCommand(ctx context.Context, out io.Writer, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		return adminHelp()
	}
	for _, ac := range adminCommands {
		if ac.name != args[0] {
			continue
		}
		a := adminArgs{fs: flag.NewFlagSet("admin "+ac.name, flag.ContinueOnError), cn: &conn{}, args: args[1:]}
		a.cn.register(a.fs)
		err := ac.run(ctx, out, a)
		var hr *helpRequest
		if errors.As(err, &hr) { // a subcommand's own help
			hr.text = fmt.Sprintf("usage: linkis admin %s %s\n\n%s.\n\nflags:\n%s", ac.name, ac.args, strings.ToUpper(ac.summary[:1])+ac.summary[1:], hr.flags)
		}
		return err
	}
	return fmt.Errorf("admin: unknown subcommand %q (linkis admin --help lists them)", args[0])
}

// parse parses a subcommand's flags (its own registered on a.fs) and
// returns its positional arguments and a client.
func (a adminArgs) parse(usage string) ([]string, *restapi.Client, error) {
	fs, args := a.fs, a.args
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, nil, newHelpRequest(fs)
			}
			return nil, nil, fmt.Errorf("%s: %w (usage: linkis %s %s)", fs.Name(), err, fs.Name(), usage)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	c, err := a.cn.client()
	return pos, c, err
}

// adminHelp is linkis admin's help: the connection flags and the
// subcommands.
func adminHelp() error {
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	var cn conn
	cn.register(fs)
	hr := newHelpRequest(fs)
	var b strings.Builder
	b.WriteString(hr.flags)
	b.WriteString("\nsubcommands (linkis admin SUBCOMMAND --help shows its flags):\n")
	for _, ac := range adminCommands {
		fmt.Fprintf(&b, "  %-12s %s\n               linkis admin %s %s\n", ac.name, ac.summary, ac.name, ac.args)
	}
	return &helpRequest{flags: b.String()}
}

// table prints rows under a header.
func table(out io.Writer, columns []string, rows [][]any) error {
	rs := api.ResultSet{ResultSetHeader: api.ResultSetHeader{Type: "table"}}
	for _, c := range columns {
		rs.Columns = append(rs.Columns, api.ResultColumn{Name: c})
	}
	rs.Rows = rows
	return restapi.WriteTable(out, rs)
}

func usedOfMax(used, max restapi.Resource) (string, string, string) {
	return linkis.FormatMemory(used.Memory) + "/" + linkis.FormatMemory(max.Memory),
		strconv.FormatFloat(used.Cores, 'f', -1, 64) + "/" + strconv.FormatFloat(max.Cores, 'f', -1, 64),
		strconv.FormatInt(used.Instance, 10) + "/" + strconv.FormatInt(max.Instance, 10)
}

func plus(a, b restapi.Resource) restapi.Resource {
	return restapi.Resource{Memory: a.Memory + b.Memory, Cores: a.Cores + b.Cores, Instance: a.Instance + b.Instance}
}

func ago(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.Since(time.UnixMilli(ms)).Round(time.Second).String() + " ago"
}

func adminECMs(ctx context.Context, out io.Writer, a adminArgs) error {
	fs := a.fs
	var q restapi.ECMQuery
	fs.StringVar(&q.Instance, "instance", "", "only ECMs whose id or address contains this")
	fs.StringVar(&q.NodeHealthy, "health", "", "only ECMs of this health (Healthy, UnHealthy, WARN, StockAvailable, StockUnavailable)")
	fs.StringVar(&q.Labels, "label", "", "only ECMs carrying these labels, k=v,k2=v2")
	fs.StringVar(&q.Owner, "owner", "", "only ECMs hosting an engine of this user")
	fs.IntVar(&q.PageNow, "page", 1, "the page (from 1)")
	fs.IntVar(&q.PageSize, "size", 100, "ECMs per page")
	if _, c, err := a.parse("ecms"); err != nil {
		return err
	} else if d, err := c.ListECMs(ctx, q); err != nil {
		return err
	} else {
		var rows [][]any
		for _, m := range d.EMs {
			health := m.NodeHealthy
			if m.HealthSet {
				health += " (set)"
			}
			mem, cores, inst := usedOfMax(plus(m.UsedResource, m.LockedResource), m.MaxResource)
			var ls []string
			for _, l := range m.Labels {
				ls = append(ls, l.LabelKey+"="+l.StringValue)
			}
			rows = append(rows, []any{m.ID, m.Instance, m.NodeStatus, health, m.Engines, mem, cores, inst, strings.Join(ls, ","), ago(m.LastSeen)})
		}
		if err := table(out, []string{"id", "address", "status", "health", "engines", "memory", "cores", "instances", "labels", "seen"}, rows); err != nil {
			return err
		}
		fmt.Fprintf(out, "%d of %d ECMs\n", len(d.EMs), d.Total)
	}
	return nil
}

func adminEngines(ctx context.Context, out io.Writer, a adminArgs) error {
	fs := a.fs
	var q restapi.EngineQuery
	ecm := fs.String("ecm", "", "an ECM's engines (its id or address; administrators)")
	user := fs.String("owner", "", "a user's engines (administrators)")
	status := fs.String("status", "", "only engines in this status (Starting, Unlock, Idle, Busy, ShuttingDown, ...)")
	typ := fs.String("type", "", "only engines of this type (shell, python, ...)")
	fs.IntVar(&q.PageNow, "page", 1, "the page (from 1)")
	fs.IntVar(&q.PageSize, "size", 100, "engines per page")
	if _, c, err := a.parse("engines"); err != nil {
		return err
	} else {
		q.ECM = *ecm
		for _, f := range []struct {
			v   string
			dst *[]string
		}{{*user, &q.Users}, {*status, &q.Statuses}, {*typ, &q.EngineTypes}} {
			if f.v != "" {
				*f.dst = []string{f.v}
			}
		}
		d, err := c.ListEngines(ctx, q)
		if err != nil {
			return err
		}
		var rows [][]any
		for _, e := range d.Engines {
			res := e.MaxResource
			rows = append(rows, []any{e.TicketID, e.Instance, e.Owner, e.EngineType, e.NodeStatus, e.EMInstance,
				linkis.FormatMemory(res.Memory), strconv.FormatFloat(res.Cores, 'f', -1, 64), ago(e.StartTime)})
		}
		if err := table(out, []string{"ticket", "instance", "user", "type", "status", "ecm", "memory", "cores", "started"}, rows); err != nil {
			return err
		}
		fmt.Fprintf(out, "%d of %d engines\n", len(d.Engines), max(d.Total, len(d.Engines)))
	}
	return nil
}

func adminHistory(ctx context.Context, out io.Writer, a adminArgs) error {
	fs := a.fs
	var q restapi.HistoryQuery
	fs.StringVar(&q.Creator, "owner", "", "a user's engines (administrators; default: every user's for them, your own otherwise)")
	fs.StringVar(&q.EngineType, "type", "", "only engines of this type")
	fs.StringVar(&q.Instance, "instance", "", "only engines whose address, ticket or ECM contains this")
	since := fs.Duration("since", 24*time.Hour, "how far back")
	fs.IntVar(&q.PageNow, "page", 1, "the page (from 1)")
	fs.IntVar(&q.PageSize, "size", 50, "engines per page")
	if _, c, err := a.parse("history"); err != nil {
		return err
	} else {
		q.StartDate = strconv.FormatInt(time.Now().Add(-*since).UnixMilli(), 10)
		d, err := c.EngineHistory(ctx, q)
		if err != nil {
			return err
		}
		var rows [][]any
		for _, e := range d.EngineList {
			code := "-"
			if e.ExitCode != nil {
				code = strconv.Itoa(*e.ExitCode)
			}
			reason := strings.ReplaceAll(e.Reason, "\n", " ")
			if len(reason) > 80 {
				reason = reason[:77] + "..."
			}
			rows = append(rows, []any{e.TicketID, e.CreateUser, e.EngineType, e.Status, code, e.ECMInstance, time.UnixMilli(e.ReleaseTime).Format(time.DateTime), reason})
		}
		if err := table(out, []string{"ticket", "user", "type", "status", "exit", "ecm", "ended", "why"}, rows); err != nil {
			return err
		}
		fmt.Fprintf(out, "%d of %d ended engines\n", len(d.EngineList), d.TotalPage)
	}
	return nil
}

func adminResources(ctx context.Context, out io.Writer, a adminArgs) error {
	fs := a.fs
	all := fs.Bool("all", false, "every user's rows (administrators)")
	var q restapi.ResourceQuery
	fs.StringVar(&q.Username, "owner", "", "with --all: one user's rows")
	reset := fs.String("reset", "", "recompute a row (its label user-creator,type-version, or all) from the engines that really hold it (administrators)")
	fs.IntVar(&q.Page, "page", 1, "with --all: the page (from 1)")
	fs.IntVar(&q.Size, "size", 100, "with --all: rows per page")
	_, c, err := a.parse("resources")
	if err != nil {
		return err
	}
	if *reset != "" {
		label := *reset
		if label == "all" {
			label = ""
		}
		d, err := c.ResetResource(ctx, label)
		if err != nil {
			return err
		}
		var rows [][]any
		for _, r := range d.Reset {
			rows = append(rows, []any{r.Label, linkis.FormatMemory(r.Before.Memory) + " " + strconv.FormatInt(r.Before.Instance, 10),
				linkis.FormatMemory(r.After.Memory) + " " + strconv.FormatInt(r.After.Instance, 10), strings.Join(r.Ended, ","), strings.Join(r.Unverified, ",")})
		}
		return table(out, []string{"label", "held before", "held after", "ended (gone from their ECM)", "unverified"}, rows)
	}
	var rows [][]any
	if *all {
		d, err := c.AllUserResources(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range d.Resources {
			mem, cores, inst := usedOfMax(plus(r.UsedResource, r.LockedResource), r.MaxResource)
			rows = append(rows, []any{r.Label, r.ID, mem, cores, inst, r.Engines, r.Waiting})
		}
		if err := table(out, []string{"label", "id", "memory", "cores", "instances", "engines", "waiting"}, rows); err != nil {
			return err
		}
		fmt.Fprintf(out, "%d of %d rows\n", len(d.Resources), d.Total)
		return nil
	}
	d, err := c.UserResources(ctx)
	if err != nil {
		return err
	}
	for _, uc := range d.UserResources {
		for _, et := range uc.EngineTypes {
			mem, cores, inst := usedOfMax(plus(et.UsedResource, et.LockedResource), et.MaxResource)
			rows = append(rows, []any{uc.UserCreator + "," + et.EngineType, mem, cores, inst, et.Percent})
		}
	}
	return table(out, []string{"label", "memory", "cores", "instances", "full"}, rows)
}

func adminKill(ctx context.Context, out io.Writer, a adminArgs) error {
	fs := a.fs
	idle := fs.Bool("idle", false, "kill the idle (Unlock) engines of --ecm and/or --user instead of named ones")
	ecm := fs.String("ecm", "", "with --idle: this ECM's (its id or address; administrators)")
	user := fs.String("owner", "", "with --idle: this user's (default: yours)")
	pos, c, err := a.parse("kill-engine")
	if err != nil {
		return err
	}
	var r restapi.KillResult
	switch {
	case *idle && len(pos) > 0:
		return errors.New("admin kill-engine: name engines or give --idle, not both")
	case *idle:
		r, err = c.KillIdle(ctx, *ecm, *user)
	case len(pos) == 0:
		return errors.New("usage: linkis admin kill-engine INSTANCE... | --idle [--ecm ECM] [--owner U]")
	default:
		r, err = c.KillEngines(ctx, pos...)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "killed %d engines: %s\n", r.KillEngineNum, strings.Join(r.Engines, " "))
	return nil
}

func adminDrain(ctx context.Context, out io.Writer, a adminArgs) error {
	fs := a.fs
	undo := fs.Bool("undo", false, "set the ECM Healthy again: it takes new engines")
	pos, c, err := a.parse("drain")
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: linkis admin drain ECM [--undo]")
	}
	health := "UnHealthy"
	if *undo {
		health = "Healthy"
	}
	if err := c.ModifyECM(ctx, pos[0], health, nil); err != nil {
		return err
	}
	if *undo {
		fmt.Fprintf(out, "%s is Healthy again: new engines may start there\n", pos[0])
	} else {
		fmt.Fprintf(out, "%s is UnHealthy: no new engine starts there; its running engines finish (linkis admin engines --ecm %s)\n", pos[0], pos[0])
	}
	return nil
}

func adminLogs(ctx context.Context, out io.Writer, a adminArgs) error {
	fs := a.fs
	from := fs.Int("from", 1, "the first line (from 1)")
	size := fs.Int("size", 1000, "lines to print")
	pos, c, err := a.parse("logs")
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: linkis admin logs INSTANCE (its address or ticket ec-N) [--from N] [--size N]")
	}
	r, err := c.EngineLog(ctx, pos[0], *from, *size)
	if err != nil {
		return err
	}
	for _, l := range r.Logs {
		fmt.Fprintln(out, l)
	}
	if r.More {
		fmt.Fprintf(os.Stderr, "(more: linkis admin logs %s --from %d)\n", pos[0], r.EndLine+1)
	}
	return nil
}

func adminConfig(ctx context.Context, out io.Writer, a adminArgs) error {
	fs := a.fs
	var l restapi.ConfLevel
	fs.StringVar(&l.User, "owner", "", "the level's user: yours by default; another's or * (every user) for administrators")
	fs.StringVar(&l.Creator, "creator", "*", "the level's creator (IDE, ...; * for every creator)")
	fs.StringVar(&l.EngineType, "engine", "*", "the level's engine type: type or type-version (* for every engine)")
	pos, c, err := a.parse("config get|set|unset")
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return errors.New("usage: linkis admin config get|set KEY=VALUE...|unset KEY... [--owner U] [--creator C] [--engine T]")
	}
	switch pos[0] {
	case "get":
		d, err := c.ConfigTree(ctx, l)
		if err != nil {
			return err
		}
		var rows [][]any
		for _, t := range d.FullTree {
			for _, s := range t.Settings {
				rows = append(rows, []any{s.Key, s.ConfigValue, s.ValueInForce, s.ValueFrom, s.Description})
			}
		}
		return table(out, []string{"key", "value", "in force", "from", "range"}, rows)
	case "set":
		if len(pos) == 1 {
			return errors.New("admin config set: give KEY=VALUE")
		}
		for _, kv := range pos[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("admin config set: want KEY=VALUE, got %q", kv)
			}
			if err := c.SetConfigValue(ctx, l, k, v); err != nil {
				return err
			}
			fmt.Fprintf(out, "%s = %s\n", k, v)
		}
		return nil
	case "unset":
		for _, k := range pos[1:] {
			if err := c.DeleteConfigValue(ctx, l, k); err != nil {
				return err
			}
			fmt.Fprintf(out, "%s removed\n", k)
		}
		return nil
	}
	return fmt.Errorf("admin config: %q is not get, set or unset", pos[0])
}

func adminVars(ctx context.Context, out io.Writer, a adminArgs) error {
	fs := a.fs
	user := fs.String("owner", "", "whose variables: yours by default (another's for administrators)")
	pos, c, err := a.parse("vars")
	if err != nil {
		return err
	}
	vars, err := c.Variables(ctx, *user)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		switch pos[0] {
		case "set":
			for _, kv := range pos[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("admin vars set: want NAME=VALUE, got %q", kv)
				}
				vars[k] = v
			}
		case "unset":
			for _, k := range pos[1:] {
				delete(vars, k)
			}
		default:
			return fmt.Errorf("admin vars: %q is not set or unset", pos[0])
		}
		if err := c.SetVariables(ctx, *user, vars); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	rows := make([][]any, len(names))
	for i, k := range names {
		rows[i] = []any{k, vars[k]}
	}
	return table(out, []string{"name", "value"}, rows)
}
