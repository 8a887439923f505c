package ecm_test

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/ecm"
)

// procStartOf is field 22 of /proc/PID/stat, as the ECM records it.
func procStartOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[19]
}

// rootECMOnNobody starts a root ECM whose engines run as nobody, in a data
// directory nobody can reach.
func rootECMOnNobody(t *testing.T, edit func(*ecm.Config)) (*ecm.ECM, *recorder, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the ECM switches users only when it runs as root")
	}
	if _, err := user.Lookup("nobody"); err != nil {
		t.Skip("no user nobody on this host")
	}
	m, rec, dir := directECM(t, edit)
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if d == os.TempDir() {
			break
		}
	}
	return m, rec, dir
}

// A restarted root ECM trusts nothing the engine's user could write: a
// rewritten engine.pid cannot make it watch (and kill) a foreign process,
// a symbolic link as the exit record cannot make it leak a root-only file,
// a FIFO as the address cannot block it, and an adopted engine that never
// reports is stopped after the start timeout.
func TestRestartedECMTrustsNothingTheUserWrote(t *testing.T) {
	// Keep unblocking readers stuck on a FIFO until every ECM stopped, so
	// that an ECM that opens one cannot hang the test's clean-up.
	dirc, stop, stopped := make(chan string, 1), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		var dir string
		for {
			select {
			case dir = <-dirc:
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			for _, ec := range []string{"ec-1", "ec-2"} {
				if dir == "" {
					break
				}
				if f, err := os.OpenFile(filepath.Join(dir, ec, "work", "engineconn.addr"), os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-stopped })
	m1, _, dir := rootECMOnNobody(t, func(c *ecm.Config) { c.StartTimeout = time.Minute })
	dirc <- dir
	foreign := exec.Command("sleep", "60")
	if err := foreign.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = foreign.Process.Kill(); _ = foreign.Wait() })
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("failed TOP-SECRET-ROOT-ONLY"), 0o600); err != nil {
		t.Fatal(err)
	}
	req := bashLaunch("ec-1", `printf '%s 0\n' "$FOREIGN" > ../engine.pid.new && mv -f ../engine.pid.new ../engine.pid
ln -s "$SECRET" engineconn.exit
mkfifo engineconn.addr
touch planted
sleep 3`)
	req.User = "nobody"
	req.Env = map[string]string{"FOREIGN": fmt.Sprintf("%d %s", foreign.Process.Pid, procStartOf(t, foreign.Process.Pid)), "SECRET": secret}
	if _, err := m1.Launch(req); err != nil {
		t.Fatal(err)
	}
	idle := bashLaunch("ec-2", "mkfifo engineconn.addr; exec sleep 60")
	idle.User = "nobody"
	if _, err := m1.Launch(idle); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, e1 := os.Stat(filepath.Join(dir, "ec-1", "work", "planted"))
		_, e2 := os.Stat(filepath.Join(dir, "ec-2", "work", "engineconn.addr"))
		if e1 == nil && e2 == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the engines did not plant their files")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The restarted ECM (a second one on the same data directory stands
	// in for it) adopts them.
	done := make(chan *ecm.ECM, 1)
	var rec2 *recorder
	go func() {
		m2, r, _ := directECM(t, func(c *ecm.Config) {
			c.DataDir = dir
			c.StartTimeout = time.Second
		})
		rec2 = r
		done <- m2
	}()
	var m2 *ecm.ECM
	select {
	case m2 = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the restarted ECM blocked on the engines' files")
	}
	// Before the restarted ECM stops: one that took the foreign process
	// for the engine would wait for it.
	t.Cleanup(func() { _ = foreign.Process.Kill() })
	r := waitExited(t, m2, "ec-1")
	if strings.Contains(r.Reason, "TOP-SECRET") {
		t.Fatalf("the restarted ECM leaked a root-only file: %+v", r)
	}
	if r.PID == foreign.Process.Pid {
		t.Fatalf("the restarted ECM took a foreign process for the engine: %+v", r)
	}
	if err := foreign.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the foreign process was killed: %v", err)
	}
	r = waitExited(t, m2, "ec-2")
	if !r.Failed || !r.Retryable || !strings.Contains(r.Reason, "did not start") {
		t.Fatalf("an adopted engine that never reported: %+v", r)
	}
	// The report to the manager follows the local exit: wait for it.
	e, ok := rec2.endedOf("ec-1")
	for deadline := time.Now().Add(10 * time.Second); !ok && time.Now().Before(deadline); e, ok = rec2.endedOf("ec-1") {
		time.Sleep(10 * time.Millisecond)
	}
	if !ok || strings.Contains(e.Reason, "TOP-SECRET") {
		t.Fatalf("reported: %+v %v", e, ok)
	}
	if _, ok := m1.Engine("ec-1"); !ok {
		t.Fatal("the first ECM forgot ec-1")
	}
}

// A ticket is launched once, across a restart too: a restarted ECM
// answers a late resend of a ticket that ended before it started with
// that end, and neither removes the first run's directory nor runs it
// again.
func TestRestartedECMDoesNotLaunchAnEndedTicketAgain(t *testing.T) {
	m1, _, dir := directECM(t, nil)
	if _, err := m1.Launch(bashLaunch("ec-1", "touch first; exit 3")); err != nil {
		t.Fatal(err)
	}
	if _, err := m1.Launch(bashLaunch("ec-2", "touch first")); err != nil {
		t.Fatal(err)
	}
	first := waitExited(t, m1, "ec-1")
	waitExited(t, m1, "ec-2")
	// An engine that ended without the ECM's end record (the ECM died
	// first): known from its directory all the same.
	// (The record is written just after the engine shows as exited.)
	end := filepath.Join(dir, "ec-2", ecm.EndFile)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(end); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err := os.Remove(end); err != nil {
		t.Fatal(err)
	}
	m2, rec2, _ := directECM(t, func(c *ecm.Config) { c.DataDir = dir })
	for _, ec := range []string{"ec-1", "ec-2"} {
		r, err := m2.Launch(bashLaunch(ec, "touch second"))
		if err != nil || r.State != api.ECExited {
			t.Fatalf("a resend of %s after a restart: %+v %v", ec, r, err)
		}
		if ec == "ec-1" && (r.Failed != first.Failed || r.Reason != first.Reason || r.Retryable != first.Retryable) {
			t.Fatalf("ec-1 answered %+v after the restart, %+v before", r, first)
		}
	}
	time.Sleep(200 * time.Millisecond)
	// The end the first ECM never recorded, it never reported either: the
	// restarted one does, so that the manager stops handing the engine
	// out; the end it recorded, it reported.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, ok := rec2.endedOf("ec-2"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Error("the restarted ECM did not report ec-2's unrecorded end")
			break
		}
	}
	if e, ok := rec2.endedOf("ec-1"); ok {
		t.Errorf("the restarted ECM reported ec-1's end again: %+v", e)
	}
	for _, ec := range []string{"ec-1", "ec-2"} {
		if _, err := os.Stat(filepath.Join(dir, ec, "work", "first")); err != nil {
			t.Errorf("%s: the first run's directory is gone: %v", ec, err)
		}
		if _, err := os.Stat(filepath.Join(dir, ec, "work", "second")); err == nil {
			t.Errorf("%s ran a second time", ec)
		}
	}
}
