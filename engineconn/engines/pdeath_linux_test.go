package engines

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPdeathHelper is the engine of TestChildDiesWithItsEngine: it starts
// a child as the engines do, ends some threads (as goroutines that exit
// locked to theirs do), prints the child's pid and waits to be killed.
func TestPdeathHelper(t *testing.T) {
	if os.Getenv("ENGINES_PDEATH_HELPER") != "1" {
		t.Skip("run by TestChildDiesWithItsEngine")
	}
	cmd := exec.Command("sleep", "60")
	if _, err := startPinned(cmd); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	for i := 0; i < 50; i++ {
		go func() {
			runtime.LockOSThread() // exits locked: the runtime ends the thread
			done <- struct{}{}
		}()
	}
	for i := 0; i < 50; i++ {
		<-done
	}
	fmt.Println(cmd.Process.Pid)
	time.Sleep(time.Minute)
}

// A child an engine started (a task's bash, the python interpreter) dies
// when the engine is killed hard, and not before.
func TestChildDiesWithItsEngine(t *testing.T) {
	diesWithHelper(t, "TestPdeathHelper", "ENGINES_PDEATH_HELPER", "the child")
}

// diesWithHelper runs the test helper (a stand-in engine, started with
// env=1), reads the pid of the child it printed, checks that the child
// lives while the helper does and dies when the helper is killed hard.
func diesWithHelper(t *testing.T, helperTest, env, what string) {
	t.Helper()
	helper := exec.Command(os.Args[0], "-test.run=^"+helperTest+"$")
	helper.Env = append(os.Environ(), env+"=1")
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
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	defer func() { _ = syscall.Kill(child, syscall.SIGKILL) }()
	time.Sleep(100 * time.Millisecond)
	if !running(child) {
		t.Fatalf("%s died while its engine runs", what)
	}
	_ = helper.Process.Kill()
	for deadline := time.Now().Add(3 * time.Second); running(child); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (%d) outlived its engine", what, child)
		}
	}
}

func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
