package engines

import (
	"os/exec"
	"runtime"
	"syscall"
)

// startPinned starts cmd in a process group of its own, with the
// parent-death signal set, and returns a channel that receives cmd.Wait's
// result. The kernel sends the parent-death signal when the thread that
// started the child ends, not the process, and the Go runtime ends a
// thread when a goroutine locked to it exits: so the child is started
// from a goroutine that keeps its thread locked until the child was
// waited for, and the signal comes only when the engine itself dies.
// (The ECM also kills the engine's whole session once it ended; this
// covers an engine killed while no ECM watches it. Grandchildren are the
// ECM's to kill.)
func startPinned(cmd *exec.Cmd) (<-chan error, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setPdeathsig(cmd.SysProcAttr)
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			runtime.UnlockOSThread()
			started <- err
			return
		}
		started <- nil
		done <- cmd.Wait()
		runtime.UnlockOSThread()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return done, nil
}
