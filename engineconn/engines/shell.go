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
// exit makes the task ERROR. Tasks are isolated from each other: what one
// changes (its directory, variables, options, functions) the next one does
// not see. A concurrent engine runs tasks side by side.
//
// In session mode (the default) each task runs as a subshell of a bash
// that lives as long as the engine (see bashSession): a fork instead of a
// new bash process, about half the CPU. In process mode each task is a
// bash process of its own. Code over 64 KiB runs as a process of its own,
// from a script file, in both modes.
type Shell struct {
	// Bash is the interpreter; empty means "bash" on PATH.
	Bash string
	// Mode is ShellSession or ShellProcess; empty means ShellSession. The
	// engine parameter shell.mode (ParamShellMode), when set, wins.
	Mode string
}

// The shell engine's modes, and the engine parameter that picks one.
const (
	ShellSession   = "session" // tasks are subshells of one long-lived bash per concurrent task
	ShellProcess   = "process" // each task is a bash process of its own
	ParamShellMode = "shell.mode"
)

// Open implements engineconn.Engine. In session mode it starts the first
// bash and waits until it is ready.
func (s Shell) Open(ctx context.Context, c *engineconn.Context) (engineconn.Session, error) {
	bash := s.Bash
	if bash == "" {
		bash = "bash"
	}
	mode := s.Mode
	if m, ok := c.Params[ParamShellMode]; ok {
		mode = m
	}
	switch mode {
	case "", ShellSession, ShellProcess:
	default:
		return nil, fmt.Errorf("shell engine: %s=%q: want %q or %q", ParamShellMode, mode, ShellSession, ShellProcess)
	}
	path, err := exec.LookPath(bash)
	if err != nil {
		return nil, fmt.Errorf("shell engine: %w", err)
	}
	dir := filepath.Join(c.WorkDir, "tasks")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("shell engine: %w", err)
	}
	proc := &shellSession{bash: path, work: c.WorkDir, scripts: dir}
	if mode == ShellProcess {
		return proc, nil
	}
	return openBashSession(ctx, proc)
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
