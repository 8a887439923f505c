//go:build linux

package clustertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// linkisBin is the linkis binary the tests run on their hosts, built once
// per test binary.
var linkisBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "linkis-clustertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	linkisBin = filepath.Join(dir, "linkis")
	args := []string{"build", "-o", linkisBin}
	if raceEnabled {
		// Servers, ECMs and engines with the race detector too (go test
		// -race): what it finds is in their logs, which verify reads.
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "github.com/golinkis/golinkis/cmd/linkis")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "clustertest: building linkis: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
