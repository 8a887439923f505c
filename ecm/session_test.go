package ecm

import (
	"bufio"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// killSession kills what an ended engine left in its session, and nothing
// while a live process holds the engine's pid (then the pid was reused and
// the session is someone else's).
func TestKillSessionOnlyOfAnEndedLeader(t *testing.T) {
	cmd := exec.Command("bash", "-c", "sleep 60 & echo $!; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(line))
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
	leader := cmd.Process.Pid
	if sid, ok := procSession(child); !ok || sid != leader {
		t.Fatalf("child %d in session %d, want %d", child, sid, leader)
	}
	killSession(leader)
	time.Sleep(50 * time.Millisecond)
	if _, ok := procSession(child); !ok {
		t.Fatal("killSession killed the session of a live leader")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	killSession(leader)
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, ok := procSession(child); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d outlived killSession", child)
		}
	}
}
