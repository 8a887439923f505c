package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The cluster token comes from --token-file (a file only its owner
// reads) or $LINKIS_TOKEN; --token still works but warns, as a command
// line is readable by every user of the host (a regression test of the
// security review: `linkis server --token` was the documented way).
func TestClusterTokenFromAFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	get := func(args ...string) (string, string, error) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		tok := clusterTokenFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		var warn bytes.Buffer
		v, err := tok.value(&warn)
		return v, warn.String(), err
	}
	t.Setenv("LINKIS_TOKEN", "from-env-0123456789")
	if v, warn, err := get("--token-file", write("good", "s3cret-token-0123456789\nignored\n", 0o600)); v != "s3cret-token-0123456789" || warn != "" || err != nil {
		t.Errorf("a good file: %q, warning %q, %v", v, warn, err)
	}
	if v, warn, err := get(); v != "from-env-0123456789" || warn != "" || err != nil {
		t.Errorf("no flag: %q, warning %q, %v; want $LINKIS_TOKEN", v, warn, err)
	}
	if v, warn, err := get("--token", "on-the-command-line"); v != "on-the-command-line" || !strings.Contains(warn, "--token-file") || err != nil {
		t.Errorf("--token: %q, warning %q, %v; want it, with a warning", v, warn, err)
	}
	for name, args := range map[string][]string{
		"readable by others": {"--token-file", write("open", "s3cret-open\n", 0o644)},
		"empty first line":   {"--token-file", write("empty", "\ns3cret-second\n", 0o600)},
		"missing":            {"--token-file", filepath.Join(dir, "none")},
		"both":               {"--token-file", filepath.Join(dir, "good"), "--token", "x"},
	} {
		v, _, err := get(args...)
		if err == nil || v != "" {
			t.Errorf("%s: %q, %v; want refused", name, v, err)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error quotes the file: %v", name, err)
		}
	}
}
