package ecm_test

// Second review of the data path (branch rev2-data).

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/ecm"
)

// The cluster token (fd 3) and the address report (fd 4) travel on
// sockets because open(2) of /proc/PID/fd/N cannot open a socket. But
// pidfd_getfd(2) can copy any descriptor of a process the caller may
// ptrace - and a process of the engine's user may ptrace the engine
// (same uid, no Yama on this host) from its exec until ProtectSecrets
// makes it non-dumpable. That window is the Go runtime's start and
// ParseArgs - short, but the user widens it at will: SIGSTOP, which a
// process of the same user may send, freezes the engine in it. Here a
// process of nobody's (the engine's user) stops the new engine, copies
// its fd 3 with pidfd_getfd and reads the token with MSG_PEEK (the engine
// then starts as usual, none the wiser). With a copy of fd 4 it could as
// well report an address of its own before the engine does - the finding
// the socket was to fix.
func TestReview2TokenSocketCopiedWithPidfdGetfd(t *testing.T) {
	var data string
	m, _, _ := directECM(t, func(c *ecm.Config) {
		data = filepath.Join(t.TempDir(), "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{data, filepath.Dir(linkisBin)} {
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
	r, _ = m.Engine("ec-1")
	t.Logf("the engine: %s; the attacker said %q", r.State, out.String())
	if strings.Contains(out.String(), "token:"+clusterToken) {
		t.Errorf("a process of the engine's user (nobody) copied the engine's token socket with pidfd_getfd and read the cluster token %q", clusterToken)
	}
}
