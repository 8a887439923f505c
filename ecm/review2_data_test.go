package ecm_test

// Second review of the data path (branch rev2-data).

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/ecm"
)

// The cluster token (fd 3) and the address report (fd 4) travel on
// sockets because open(2) of /proc/PID/fd/N cannot open a socket. But
// pidfd_getfd(2) copies any descriptor of a process the caller may ptrace,
// and a process of the engine's user may ptrace a dumpable process of
// that user (no Yama on this host). The engine's own ProtectSecrets
// (prctl PR_SET_DUMPABLE 0) comes after the Go runtime's start and
// ParseArgs - and SIGSTOP, which a process of the same user may send,
// holds the engine in that window at will. So a root ECM runs a copy of
// the binary the user cannot read (privateBinary), which the kernel makes
// non-dumpable from the exec on. Here a process of nobody's (the engine's
// user) stops each new process of nobody's as soon as it appears, tries
// pidfd_getfd on its fd 3 and, once the process is the engine (its command
// line says engineconn), says whether it read the token or was refused.
// Found by the second review: the attacker read the token.
func TestEngineNonDumpableFromExecTokenSocketNotCopied(t *testing.T) {
	var data string
	m, _, _ := directECM(t, func(c *ecm.Config) {
		data = filepath.Join(t.TempDir(), "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{data} { // not linkisBin's: engines run the ECM's copy
			for ; d != "/"; d = filepath.Dir(d) {
				if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 != 0o005 {
					os.Chmod(d, fi.Mode().Perm()|0o005)
				}
			}
		}
		c.DataDir = data
	})
	attacker := `
import ctypes, os, signal, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
me = os.getpid()
old = set(os.listdir('/proc'))
sys.stdout.write('ready\n'); sys.stdout.flush()
def cmd(p):
    try:
        with open('/proc/%d/cmdline' % p, 'rb') as f: return f.read()
    except OSError: return b''
deadline = time.time() + 20
while time.time() < deadline:
    for name in os.listdir('/proc'):
        if not name.isdigit() or name in old or int(name) == me: continue
        p = int(name)
        try: os.kill(p, signal.SIGSTOP)
        except OSError: continue           # not nobody's (yet)
        while time.time() < deadline:
            pidfd = libc.syscall(434, p, 0)  # pidfd_open
            fd = libc.syscall(438, pidfd, 3, 0) if pidfd >= 0 else -1  # pidfd_getfd
            if pidfd >= 0: os.close(pidfd)
            err = ctypes.get_errno()
            if fd < 0 and b'engineconn' in cmd(p):
                os.kill(p, signal.SIGCONT)
                sys.stdout.write('refused:%d\n' % err); sys.stdout.flush()
                sys.exit(0)
            if fd >= 0 and b'engineconn' in cmd(p):
                s = socket.socket(fileno=fd)
                tok = s.recv(4096, socket.MSG_PEEK)
                os.kill(p, signal.SIGCONT)
                sys.stdout.write('token:' + tok.decode(errors='replace') + '\n'); sys.stdout.flush()
                sys.exit(0)
            if fd >= 0: os.close(fd)
            os.kill(p, signal.SIGCONT)       # not exec'd yet, or not the engine: let it go on,
            try: os.kill(p, signal.SIGSTOP)  # and stop it again
            except OSError: break
        old.add(name)
`
	py := exec.Command("/usr/bin/python3", "-c", attacker)
	py.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out bytes.Buffer
	stdout, err := py.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	py.Stderr = os.Stderr
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { py.Process.Kill(); py.Wait() }()
	ready := make([]byte, 6)
	if _, err := stdout.Read(ready); err != nil {
		t.Fatal(err)
	}
	r, err := m.Launch(api.LaunchRequest{Ticket: "ec-1", EngineType: "shell-1", User: "nobody", Command: "linkis",
		Args: []string{"engineconn", "--ticket", "ec-1", "--engine", "shell-1"}, Resource: api.Resource{Memory: 1 << 20, MilliCores: 100, Instances: 1}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); out.ReadFrom(stdout) }()
	select {
	case <-done:
	case <-time.After(25 * time.Second):
	}
	py.Process.Kill()
	<-done
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if r, _ = m.Engine("ec-1"); r.State != api.ECStarting || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("the engine: %s; the attacker said %q", r.State, out.String())
	if strings.Contains(out.String(), "token:"+clusterToken) {
		t.Errorf("a process of the engine's user (nobody) copied the engine's token socket with pidfd_getfd and read the cluster token %q", clusterToken)
	}
	if !strings.Contains(out.String(), "refused:1\n") { // EPERM
		t.Errorf("the attacker never tried the engine itself (or failed otherwise): %q", out.String())
	}
	if r.State != api.ECRunning {
		t.Errorf("the engine did not start (%s): the test proves nothing", r.State)
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(r.PID) + "/exe")
	if want := filepath.Join(data, "bin", "linkis"); err != nil || exe != want {
		t.Errorf("the engine runs %q (%v), not the ECM's unreadable copy %s", exe, err, want)
	}
}
