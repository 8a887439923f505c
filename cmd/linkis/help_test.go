package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// main's exit status and output for a command line.
func runLinkis(args ...string) (code int, stdout, stderr string) {
	var out, errs bytes.Buffer
	code = runMain(&out, &errs, args)
	return code, out.String(), errs.String()
}

// Every subcommand answers --help, -h and `linkis help NAME` with its usage
// line, a one-sentence description, its flags and an example, on stdout,
// and exits 0. Before, `linkis run --help` printed "flag: help requested"
// and exited 1, and `linkis help` was an unknown command.
func TestHelpForEveryCommand(t *testing.T) {
	// The list: a command added without help fails here.
	want := []string{"run", "server", "submit", "status", "log", "result", "kill", "list", "demo", "sim", "ecm", "engineconn", "manager"}
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("no command %q", w)
		}
	}
	// Secrets in the environment never reach the flags' defaults.
	t.Setenv("LINKIS_TOKEN", "cluster-s3cret")
	t.Setenv("LINKIS_TOKEN_CODE", "user-s3cret")
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runLinkis(c.name, "--help")
			if code != 0 || errs != "" {
				t.Fatalf("exit %d, stderr %q", code, errs)
			}
			if !strings.HasPrefix(out, "usage: linkis "+c.name+" ") {
				t.Errorf("no usage line:\n%s", out)
			}
			sentence := strings.SplitN(out, "\n", 4)[2]
			if sentence != c.summary || !strings.HasSuffix(sentence, ".") || strings.Count(sentence, ". ") > 0 {
				t.Errorf("description %q, want one sentence", sentence)
			}
			if !strings.Contains(out, "\nflags:\n  -") {
				t.Errorf("no flags:\n%s", out)
			}
			if !strings.Contains(out, "\nexample:\n  ") || !strings.Contains(out[strings.Index(out, "example:"):], "linkis "+c.name) {
				t.Errorf("no example of linkis %s:\n%s", c.name, out)
			}
			if strings.Contains(out, "s3cret") {
				t.Errorf("help shows a secret from the environment:\n%s", out)
			}
			for _, args := range [][]string{{c.name, "-h"}, {"help", c.name}, {c.name, "-help"}} {
				if code2, out2, _ := runLinkis(args...); code2 != 0 || out2 != out {
					t.Errorf("linkis %s: exit %d, output differs:\n%s", strings.Join(args, " "), code2, out2)
				}
			}
		})
	}
}

func TestHelpVersionAndUsage(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, out, _ := runLinkis(args...)
		if code != 0 || !strings.HasPrefix(out, "usage: linkis COMMAND") {
			t.Errorf("linkis %v: exit %d\n%s", args, code, out)
		}
		for _, c := range commands {
			if !strings.Contains(out, "\n  "+c.name+" ") {
				t.Errorf("linkis %v does not list %s", args, c.name)
			}
		}
	}
	for _, args := range [][]string{{"--version"}, {"version"}, {"-version"}} {
		if code, out, _ := runLinkis(args...); code != 0 || !strings.HasPrefix(out, "linkis ") || strings.Count(out, "\n") != 1 {
			t.Errorf("linkis %v: exit %d %q", args, code, out)
		}
	}
	if code, out, errs := runLinkis(); code != 2 || out != "" || !strings.Contains(errs, "usage: linkis COMMAND") {
		t.Errorf("no command: exit %d, %q %q", code, out, errs)
	}
	if code, _, errs := runLinkis("frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d %q", code, errs)
	}
	if code, _, errs := runLinkis("help", "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("help of an unknown command: exit %d %q", code, errs)
	}
	// A bad flag says where the flags are.
	if code, _, errs := runLinkis("list", "--colour"); code != 1 || !strings.Contains(errs, "linkis help list") {
		t.Errorf("a bad flag: exit %d %q", code, errs)
	}
}

// A command started without the flags it needs names them all, rather
// than the first field its configuration fails on ("ID: must be 1 to 128
// bytes").
func TestMissingFlagsAreNamed(t *testing.T) {
	t.Setenv("LINKIS_TOKEN", "")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"manager"}, []string{"--id ID", "--data-dir DIR", "--raft-addr HOST:PORT", "--http-addr HOST:PORT", "--token", "--bootstrap", "--join URL"}},
		{[]string{"manager", "--id", "m1", "--data-dir", "d", "--token-file", tokenFile}, []string{"--raft-addr", "--http-addr"}},
		{[]string{"ecm"}, []string{"--manager URL", "--data-dir DIR", "--token"}},
		{[]string{"server"}, []string{"--data-dir DIR"}},
	} {
		code, _, errs := runLinkis(c.args...)
		if code != 1 {
			t.Errorf("%v: exit %d", c.args, code)
		}
		for _, w := range c.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%v: %q does not name %s", c.args, errs, w)
			}
		}
	}
	if _, _, errs := runLinkis("manager", "--id", "m1", "--data-dir", "d", "--token-file", tokenFile); strings.Contains(errs, "--id") {
		t.Errorf("a flag that was given is named missing: %q", errs)
	}
}
