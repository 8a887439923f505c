package ecm

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/manager"
)

// PIDFile is the file in an engine's directory where the ECM records the
// engine's process (pid and start time), so that an ECM that restarts can
// find the engines it had and keep watching them.
const PIDFile = "engine.pid"

// procStart returns a process's start time in clock ticks since boot
// (field 22 of /proc/PID/stat), which tells a process from a later one
// that reuses its pid.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, fmt.Errorf("process %d is a zombie", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

func writePIDFile(dir string, pid int) error {
	start, err := procStart(pid)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, PIDFile+".tmp")
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", pid, start), 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, PIDFile))
}

// adopt takes over the engines an earlier run of this ECM left running in
// the data directory: their processes survived it (each is its own
// process group and outlives a broken output pipe). The ECM watches them
// by polling, kills them on request and reports their ends; their output
// after the restart is lost with the old ECM's pipe.
func (m *ECM) adopt() {
	ents, err := os.ReadDir(m.cfg.DataDir)
	if err != nil {
		return
	}
	for _, d := range ents {
		id, err := manager.ParseECID(d.Name())
		if err != nil || !d.IsDir() {
			continue
		}
		ticket := id.String()
		dir := filepath.Join(m.cfg.DataDir, ticket)
		b, err := os.ReadFile(filepath.Join(dir, PIDFile))
		if err != nil {
			continue
		}
		var pid int
		var start uint64
		if _, err := fmt.Sscanf(string(b), "%d %d", &pid, &start); err != nil || pid <= 1 {
			continue
		}
		if now, err := procStart(pid); err != nil || now != start {
			continue // gone (its end was reported by the old ECM, or it will be by the manager's sweep)
		}
		e := &engine{ticket: ticket, dir: dir, work: filepath.Join(dir, "work"), logs: filepath.Join(dir, "logs"),
			result: filepath.Join(dir, "results"), pid: pid, launched: make(chan struct{}), exited: make(chan struct{})}
		close(e.launched)
		m.mu.Lock()
		m.engines[ticket] = e
		m.starting++ // until checkRunning sees its address
		m.mu.Unlock()
		m.checkRunning(e)
		m.log.Info("adopted a running engine", "ec", ticket, "pid", pid)
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.watchAdopted(e, start)
		}()
	}
}

// watchAdopted polls an adopted engine until its process is gone, then
// records and reports its end from the exit record it left.
func (m *ECM) watchAdopted(e *engine, start uint64) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		m.checkRunning(e)
		if now, err := procStart(e.pid); err != nil || now != start {
			break
		}
	}
	_ = syscall.Kill(-e.pid, syscall.SIGKILL) // what is left of its group
	killSession(e.pid)                        // and of its session (tasks in groups of their own)
	m.mu.Lock()
	why := e.killWhy
	m.mu.Unlock()
	failed, retryable, reason := false, false, why
	rec, err := os.ReadFile(filepath.Join(e.work, engineconn.ExitFile))
	switch {
	case why != "":
		retryable = true // as classify: stopped on purpose, not failed
	case err == nil && strings.HasPrefix(string(rec), engineconn.ExitOK):
		reason = "exited cleanly (watched after an ECM restart)"
	case err == nil:
		failed, retryable = true, true
		reason = strings.TrimSpace(strings.TrimPrefix(string(rec), engineconn.ExitFailed))
	default:
		failed, retryable = true, true
		reason = "died without an exit record (killed?) while watched after an ECM restart"
	}
	m.end(e, failed, reason, retryable)
	m.log.Info("adopted engine exited", "ec", e.ticket, "failed", failed, "reason", reason)
	m.report(e)
}
