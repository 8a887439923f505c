//go:build linux

package hosts

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

// Proc is a process started on a host.
type Proc struct {
	Host *Host
	cmd  *exec.Cmd
	done chan struct{} // closed once waited for
}

// Start starts cmd (from Host.Command) on the host. The process gets
// SIGKILL from the kernel if the test binary dies first (the parent-death
// signal, set from a thread that stays until the process is waited for);
// the Net's cleanup kills it otherwise.
func (h *Host) Start(cmd *exec.Cmd) (*Proc, error) {
	if h.net.closed.Load() {
		return nil, errors.New("hosts: the network is closed")
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	p := &Proc{Host: h, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal comes when the thread that started the
		// process ends, and a goroutine that ends locked ends its thread:
		// this one stays locked until the process was waited for.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		h.mu.Lock()
		h.procs = append(h.procs, p)
		h.mu.Unlock()
		started <- nil
		_ = cmd.Wait() // how it ended is the test's to read from its output
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Kill sends SIGKILL (kill -9) and waits for the process to end. Killing
// a process that ended is not an error.
func (p *Proc) Kill() error {
	return p.Signal(syscall.SIGKILL)
}

// Signal sends sig and, for SIGKILL, waits for the process to end.
func (p *Proc) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	if sig == syscall.SIGKILL {
		<-p.done
	}
	return nil
}

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }
