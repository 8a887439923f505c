package engines

import "syscall"

// setPdeathsig makes the kernel SIGKILL the child when the thread that
// started it ends (see startPinned): a task's process, or the python
// interpreter, does not outlive an engine that was killed hard.
func setPdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
