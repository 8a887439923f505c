package engines

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/golinkis/golinkis/engineconn"
)

// Shell runs each task's code with bash, in the engine's work directory
// and in a process group of its own. Standard output becomes the task's
// log and a text result set; standard error goes to the log. A non-zero
// exit makes the task ERROR. Tasks are independent processes, so a
// concurrent engine runs them side by side.
type Shell struct {
	// Bash is the interpreter; empty means "bash" on PATH.
	Bash string
}

// Open implements engineconn.Engine.
func (s Shell) Open(_ context.Context, c *engineconn.Context) (engineconn.Session, error) {
	bash := s.Bash
	if bash == "" {
		bash = "bash"
	}
	path, err := exec.LookPath(bash)
	if err != nil {
		return nil, fmt.Errorf("shell engine: %w", err)
	}
	dir := filepath.Join(c.WorkDir, "tasks")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("shell engine: %w", err)
	}
	return &shellSession{bash: path, work: c.WorkDir, scripts: dir}, nil
}

const maxInlineScript = 64 << 10

type shellSession struct {
	bash, work, scripts string
}

func (s *shellSession) Run(ctx context.Context, t *engineconn.Task) error {
	// Short code rides on the command line (no file to create: about 1 ms
	// on a slow disk); long code goes through a script file, as the kernel
	// bounds one argument at 128 KiB.
	args := []string{"--noprofile", "--norc", "-c", t.Code, "bash"}
	if len(t.Code) > maxInlineScript {
		script := filepath.Join(s.scripts, t.ID+".sh")
		if err := os.WriteFile(script, []byte(t.Code), 0o640); err != nil {
			return err
		}
		defer os.Remove(script)
		args = []string{"--noprofile", "--norc", script}
	}
	out := newTextResult(t)
	cmd := exec.Command(s.bash, args...)
	cmd.Dir = s.work
	cmd.Env = append(os.Environ(), "LINKIS_TASK_ID="+t.ID)
	cmd.Stdout = out.Stream()
	cmd.Stderr = t.Stderr()
	cmd.WaitDelay = 500 * time.Millisecond // a background child holding the pipes does not hold the task
	waited, err := startPinned(cmd)
	if err != nil {
		return err
	}
	err = waitGroupKill(ctx, cmd, waited, 2*time.Second)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("bash: %v", ee.ProcessState)
	}
	return err
}

func (s *shellSession) Close() error { return nil }

// waitGroupKill waits for cmd (done receives its Wait's result); when
// ctx is cancelled first it sends SIGTERM to cmd's process group, then
// SIGKILL after grace. Either way the group is killed once the leader
// exits, so no child outlives the task, and the output pipes are closed at
// most grace after that.
func waitGroupKill(ctx context.Context, cmd *exec.Cmd, done <-chan error, grace time.Duration) error {
	pgid := cmd.Process.Pid
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case err = <-done:
		case <-time.After(grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			err = <-done
		}
		if err == nil {
			err = ctx.Err()
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // stragglers of the group
	return err
}
