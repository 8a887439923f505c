package engines

import (
	"context"
	"fmt"
	"os"
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
	diesWithHelper(t, "TestShellSessionPdeathHelper", "ENGINES_SHELL_PDEATH_HELPER", "the session's bash")
}
