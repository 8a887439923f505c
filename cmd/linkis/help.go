package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/engineconn/engines"
)

// command is one subcommand of linkis: what its help says and how it runs.
// run writes its output to out; asked for help (-h, --help) it returns a
// *helpRequest before doing anything.
type command struct {
	name    string
	args    string // the usage line after "linkis NAME"
	summary string // one sentence
	example string
	run     func(out io.Writer, args []string) error
}

// commands are linkis's subcommands, in the order the usage lists them.
var commands = []command{
	{"run", "--engine shell|python|sql (--code CODE | --file F) [flags]",
		"Run one job on a system started for it (manager in memory, one ECM, the entrance) and print its log and result.",
		"linkis run --engine sql --code 'select 6*7 as answer'", runRun},
	{"server", "--data-dir DIR [--http-addr HOST:PORT] [--users FILE] [flags]",
		"Run a manager, an ECM and the entrance in one process for a team, serving Linkis's REST API until SIGINT or SIGTERM.",
		"linkis users passwd users alice < pw.txt; linkis server --data-dir /var/lib/linkis --users users --admins alice --cores 4", runServer},
	{"users", "passwd FILE NAME | token FILE --users NAMES [--hosts H] [--expires DATE] | migrate FILE | logout FILE NAME",
		"Edit a server's users file: set a login's password (from stdin, kept as a bcrypt hash), add a token limited to users and hosts, migrate old 'user token-code' lines, or end a user's sessions (a server reads the file when it starts: a new password or a logout ends the user's sessions then).",
		"read -rs PW && echo \"$PW\" | linkis users passwd users alice; linkis users token users --users alice --hosts 10.0.0.0/8", runUsers},
	{"submit", "--engine shell|python|sql (--code CODE | --file F) [--wait] [flags]",
		"Submit a job to a server and print its exec id; with --wait, follow its log to its end.",
		"linkis submit --engine python --code 'print(42)' --wait", jobCommand("submit")},
	{"status", "EXECID [flags]", "Show a job's state and progress, and why it failed if it did.",
		"linkis status exec_1_0a1b2c3d", jobCommand("status")},
	{"log", "EXECID [--from N] [--follow] [flags]", "Print a job's log, or with --follow keep printing it as it grows until the job ends.",
		"linkis log exec_1_0a1b2c3d --follow", jobCommand("log")},
	{"result", "TASKID|EXECID [--page N] [flags]", "Print a job's result sets as tables, one page of each.",
		"linkis result exec_1_0a1b2c3d --page 2", jobCommand("result")},
	{"kill", "EXECID [flags]", "Cancel a job and print the state it ended in.",
		"linkis kill exec_1_0a1b2c3d", jobCommand("kill")},
	{"list", "[--status S] [--page N] [flags]", "List your jobs on a server, newest first.",
		"linkis list --status Failed", jobCommand("list")},
	{"admin", "ecms|engines|history|resources|kill-engine|drain|logs|config|vars [flags]",
		"Operate a server as Linkis's management console does: ECMs, engines and their logs, resources, configuration and variables.",
		"linkis admin drain ecm-host-7; linkis admin engines --ecm ecm-host-7; linkis admin config set --owner alice --creator IDE --engine shell wds.linkis.rm.instance=1", runAdmin},
	{"demo", "[--asks N]", "Run a small scenario on the manager state machine and print its decisions.",
		"linkis demo --asks 12", runDemo},
	{"sim", "--scenario FILE [flags]", "Simulate a scenario on the real manager under virtual time and print a summary of each policy.",
		"linkis sim --scenario sim/scenarios/small.json --policy all", simCommand},
	{"ecm", "--manager URL[,URL] --data-dir DIR [--http-addr HOST:PORT] [flags]",
		"Run the host agent that launches, watches and kills engines for a manager cluster.",
		"LINKIS_TOKEN=secret linkis ecm --manager http://10.0.0.1:8100 --data-dir /var/lib/linkis/ecm --http-addr 10.0.0.5:9100", runECM},
	{"engineconn", "--ticket ec-N --engine TYPE-VERSION [--param k=v]...",
		"Run one engine; an ECM starts it with its creation context in the environment, never a user.",
		"linkis engineconn --ticket ec-7 --engine shell-1 --param engineconn.max.free.time=30m", runEngineConn},
	{"manager", "--id ID --data-dir DIR --raft-addr HOST:PORT --http-addr HOST:PORT [--bootstrap | --join URL] [flags]",
		"Run one member of a manager cluster until SIGINT or SIGTERM.",
		"LINKIS_TOKEN=secret linkis manager --id m1 --data-dir /var/lib/linkis/m1 --raft-addr 10.0.0.1:7100 --http-addr 10.0.0.1:8100 --bootstrap", runManager},
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// jobCommand runs a job command until it ends or SIGINT/SIGTERM.
func jobCommand(name string) func(io.Writer, []string) error {
	return func(out io.Writer, args []string) error { return runJobs(name, out, args) }
}

// simCommand is `linkis sim`, whose flags sim.go parses: asked for help,
// it gives the flags it printed as a helpRequest.
func simCommand(out io.Writer, args []string) error {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" { // no flag of sim takes a value that starts with '-'
			var flags bytes.Buffer
			if err := runSim(io.Discard, &flags, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
				return fmt.Errorf("sim: help: %v", err)
			}
			// Its own usage line comes first: keep the flags.
			text := flags.String()
			if i := strings.Index(text, "\n  -"); i >= 0 {
				text = text[i+1:]
			}
			return &helpRequest{flags: text}
		}
	}
	return runSim(out, os.Stderr, args)
}

// runEngineConn is `linkis engineconn --ticket ec-N --engine TYPE-VERSION
// [--param k=v]...`, started by an ECM with the creation context in its
// environment.
func runEngineConn(_ io.Writer, args []string) error {
	err := engines.Main(args)
	if errors.Is(err, flag.ErrHelp) {
		var flags bytes.Buffer
		engineconn.PrintFlags(&flags)
		return &helpRequest{flags: flags.String()}
	}
	return err
}

// helpRequest is what a command returns when asked for help: its flags,
// as flag.PrintDefaults writes them - or, for a subcommand (linkis admin
// ecms --help), a whole help text of its own.
type helpRequest struct{ flags, text string }

func (*helpRequest) Error() string        { return "help requested" }
func (*helpRequest) Is(target error) bool { return target == flag.ErrHelp }

// newHelpRequest returns the help request of a flag set.
func newHelpRequest(fs *flag.FlagSet) *helpRequest {
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return &helpRequest{flags: b.String()}
}

// writeHelp writes a command's help: its usage line, what it does, its
// flags and an example.
func writeHelp(w io.Writer, c command, flags string) {
	fmt.Fprintf(w, "usage: linkis %s %s\n\n%s\n", c.name, c.args, c.summary)
	if flags != "" {
		fmt.Fprintf(w, "\nflags:\n%s", flags)
	}
	fmt.Fprintf(w, "\nexample:\n  %s\n", c.example)
}

// commandHelp writes the help of command name.
func commandHelp(w io.Writer, name string) error {
	c, ok := lookup(name)
	if !ok {
		return fmt.Errorf("unknown command %q (linkis help lists them)", name)
	}
	var hr *helpRequest
	if err := c.run(io.Discard, []string{"--help"}); !errors.As(err, &hr) {
		return fmt.Errorf("help of %s: %v", name, err) // a command that did not parse its flags first
	}
	writeHelp(w, c, hr.flags)
	return nil
}

// usage writes the list of commands.
func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: linkis COMMAND [flags]\n\nlinkis runs and governs jobs on engines, as Apache Linkis does: one binary for\nthe manager, the host agents (ECMs), the engines and the job commands.\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nlinkis help COMMAND (or linkis COMMAND --help) shows a command's flags and an example;\nlinkis --version shows the version.\n\n"+
		"The job commands (submit, status, log, result, kill, list) talk to a server: --server URL\n"+
		"(default $LINKIS_SERVER, else "+defaultServer+"), --user and --token (default $LINKIS_USER\n"+
		"and $LINKIS_TOKEN_CODE).")
}

// version is set at build time (-ldflags "-X main.version=v1.2.3");
// otherwise it comes from the module and VCS information Go embeds.
var version = ""

// versionString describes this binary: its version, commit and Go.
func versionString() string {
	v, extra := version, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = ", modified"
				}
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			extra = " (commit " + rev + modified + ")"
		}
		extra += " " + bi.GoVersion
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	return "linkis " + v + extra
}
