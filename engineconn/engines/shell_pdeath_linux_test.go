package engines

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/engineconn"
)

// TestShellSessionPdeathHelper is the engine of
// TestShellSessionBashDiesWithItsEngine: it opens a shell session, prints
// the pid of its bash and waits to be killed.
func TestShellSessionPdeathHelper(t *testing.T) {
	if os.Getenv("ENGINES_SHELL_PDEATH_HELPER") != "1" {
		t.Skip("run by TestShellSessionBashDiesWithItsEngine")
	}
	dir := t.TempDir()
	s, err := Shell{}.Open(context.Background(), &engineconn.Context{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(s.(*bashSession).idle[0].cmd.Process.Pid)
	time.Sleep(time.Minute)
}

// The session's bash dies when its engine is killed hard (the
// parent-death signal; its request pipe also ends), and not before.
func TestShellSessionBashDiesWithItsEngine(t *testing.T) {
	helper := exec.Command(os.Args[0], "-test.run=^TestShellSessionPdeathHelper$")
	helper.Env = append(os.Environ(), "ENGINES_SHELL_PDEATH_HELPER=1")
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = helper.Process.Kill(); _ = helper.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	bash, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	defer func() { _ = syscall.Kill(bash, syscall.SIGKILL) }()
	time.Sleep(100 * time.Millisecond)
	if !running(bash) {
		t.Fatal("the session's bash died while its engine runs")
	}
	_ = helper.Process.Kill()
	for deadline := time.Now().Add(3 * time.Second); running(bash); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("bash %d outlived its engine", bash)
		}
	}
}
