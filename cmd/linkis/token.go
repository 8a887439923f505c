package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// clusterToken is how a member, a manager or an ECM is given the cluster
// token: --token-file FILE (a file only its owner may read, its first
// line) or $LINKIS_TOKEN - never on the command line, which any user of
// the host reads (ps, /proc). --token still works, with a warning, until
// the scripts that use it have moved.
type clusterToken struct{ file, flag string }

func clusterTokenFlags(fs *flag.FlagSet) *clusterToken {
	t := &clusterToken{}
	fs.StringVar(&t.file, "token-file", "", "a file holding the cluster token (its first line), mode 0600 or stricter (default $LINKIS_TOKEN)")
	fs.StringVar(&t.flag, "token", "", "deprecated: the cluster token on the command line, where any user of the host can read it; use --token-file or $LINKIS_TOKEN")
	return t
}

// tokenFlagNeeded names the ways to give the token, for missing().
const tokenFlagNeeded = "--token-file FILE (or $LINKIS_TOKEN)"

// value returns the token ("" when none is given); warn hears that
// --token is deprecated.
func (t *clusterToken) value(warn io.Writer) (string, error) {
	switch {
	case t.file != "" && t.flag != "":
		return "", errors.New("give the cluster token once: --token-file or --token, not both")
	case t.file != "":
		return readTokenFile(t.file)
	case t.flag != "":
		fmt.Fprintln(warn, "linkis: warning: --token puts the cluster token on the command line, where any user of this host can read it (ps); use --token-file FILE or $LINKIS_TOKEN (--token will be removed)")
		return t.flag, nil
	}
	return os.Getenv("LINKIS_TOKEN"), nil
}

// maxTokenFile bounds a token file.
const maxTokenFile = 4096

// readTokenFile reads a token file: its first line, trimmed, from a file
// no one but its owner may read. Errors never quote the file's content.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("--token-file %s: mode %#o lets other users read the cluster token; chmod 600 it", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	if len(b) > maxTokenFile {
		return "", fmt.Errorf("--token-file %s: larger than %d bytes; it holds the token on its first line", path, maxTokenFile)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return "", fmt.Errorf("--token-file %s: the first line is empty; it holds the token", path)
	}
	return line, nil
}
