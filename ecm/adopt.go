package ecm

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/linkis"
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

func writePIDFile(dir string, pid, uid int) error {
	start, err := procStart(pid)
	if err != nil {
		return err
	}
	return writeOwnFile(dir, PIDFile, fmt.Appendf(nil, "%d %d %d\n", pid, start, uid))
}

// AddrRecord is the file in an engine's directory where the ECM records
// the address the engine reported to it (see readAddr), so that an ECM
// that restarts knows where its adopted engines serve.
const AddrRecord = "engine.addr"

// writeOwnFile writes a record of the ECM's in an engine's directory
// (which is the ECM's: readOwnFile), atomically.
func writeOwnFile(dir, name string, b []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}

// maxUserFile bounds what the ECM reads from a file the engine's user
// controls.
const maxUserFile = 4096

// readUserFile reads a file the engine's user controls (the address, the
// exit record) without trusting it: no symbolic link is followed, a FIFO
// or device cannot block or trigger anything (O_NONBLOCK, and it must be a
// regular file), and at most maxUserFile bytes are read.
func readUserFile(path string) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	return io.ReadAll(io.LimitReader(f, maxUserFile))
}

// readOwnFile reads a record of the ECM's in an engine's directory,
// trusting it only when neither it nor the directory holding it can have
// been written by anyone but this ECM's user: a real directory and a
// regular file, both owned by the ECM's uid, neither writable by group or
// others.
func readOwnFile(dir, name string) ([]byte, error) {
	me := uint32(os.Geteuid())
	owned := func(fi os.FileInfo) bool {
		st, ok := fi.Sys().(*syscall.Stat_t)
		return ok && st.Uid == me && fi.Mode().Perm()&0o022 == 0
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() || !owned(fi) {
		return nil, fmt.Errorf("%s: not a directory only this ECM can write", dir)
	}
	path := filepath.Join(dir, name)
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || !owned(fi) {
		return nil, fmt.Errorf("%s: not a regular file only this ECM can write", path)
	}
	return io.ReadAll(io.LimitReader(f, 2*maxReportedReason+maxUserFile))
}

// readPIDFile reads the ECM's record of an engine's process (readOwnFile).
func readPIDFile(dir string) (pid int, start uint64, uid int, err error) {
	b, err := readOwnFile(dir, PIDFile)
	if err != nil {
		return 0, 0, 0, err
	}
	if _, err := fmt.Sscanf(string(b), "%d %d %d", &pid, &start, &uid); err != nil || pid <= 1 || uid < 0 {
		return 0, 0, 0, fmt.Errorf("%s: malformed", filepath.Join(dir, PIDFile))
	}
	return pid, start, uid, nil
}

// EndFile is the file in an engine's directory where the ECM records how
// the engine ended, so that an ECM that restarts still answers a resend of
// its ticket with that end rather than launching it again.
const EndFile = "engine.end"

// endRecord is the content of EndFile.
type endRecord struct {
	Failed    bool   `json:"failed"`
	Retryable bool   `json:"retryable"`
	Reason    string `json:"reason"`
	EndedAt   int64  `json:"endedAt"` // unix milliseconds
}

// writeEndFile records how an engine ended in its directory (when the
// directory is there: a launch may fail before it is made).
func writeEndFile(dir string, r endRecord) error {
	if _, err := os.Lstat(dir); err != nil {
		return nil
	}
	r.Reason = clipReason(r.Reason)
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return writeOwnFile(dir, EndFile, b)
}

// ended rebuilds the record of an engine that ended before this ECM
// started (or whose process it would not adopt), so that a resend of its
// ticket answers Exited instead of launching it a second time. How it
// ended comes from the ECM's own end record, else from the engine's exit
// record; it counts as ended now for the retention unless the ECM's
// record says when. recorded says the ECM's own end record was there: the
// ECM that wrote it was reporting that end to the manager.
func (m *ECM) ended(ticket, dir, why string) (e *engine, recorded bool) {
	e = &engine{ticket: ticket, dir: dir, work: filepath.Join(dir, "work"), logs: filepath.Join(dir, "logs"),
		result: filepath.Join(dir, "results"), launched: make(chan struct{}), exited: make(chan struct{}),
		state: stateExited, endedAt: time.Now()}
	close(e.launched)
	close(e.exited)
	var r endRecord
	if b, err := readOwnFile(dir, EndFile); err == nil && json.Unmarshal(b, &r) == nil {
		e.failed, e.retryable, e.reason = r.Failed, r.Retryable, r.Reason
		if t := time.UnixMilli(r.EndedAt); r.EndedAt > 0 && t.Before(e.endedAt) {
			e.endedAt = t
		}
		return e, true
	}
	rec, err := readUserFile(filepath.Join(e.work, engineconn.ExitFile))
	switch {
	case err == nil && strings.HasPrefix(string(rec), engineconn.ExitOK):
		e.reason = "exited cleanly (before the ECM restarted)"
	case err == nil:
		e.failed, e.retryable = true, true
		e.reason = strings.TrimSpace(strings.TrimPrefix(string(rec), engineconn.ExitFailed))
	default:
		e.failed, e.retryable = true, true
		e.reason = "ended while the ECM was down, without an exit record (" + why + ")"
	}
	return e, false
}

// readAddrRecord reads the address an engine reported, as the ECM
// recorded it (AddrRecord).
func readAddrRecord(dir string) (string, error) {
	b, err := readOwnFile(dir, AddrRecord)
	if err != nil {
		return "", err
	}
	addr := strings.TrimSpace(string(b))
	if err := linkis.ValidateAddress("addr", addr); err != nil {
		return "", err
	}
	return addr, nil
}

// procUID returns the real uid of a process (from /proc/PID/status).
func procUID(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return strconv.Atoi(f[0])
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no Uid", pid)
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
		// A ticket whose directory is here was launched: one not adopted
		// below is remembered as ended, never launched again. Its end is
		// reported unless the old ECM recorded it (and so was reporting
		// it): an ECM that died with its engines (the host crashed) never
		// told the manager, which would otherwise hand out the dead
		// engines until it declares them lost (ECLostAfter, minutes), every
		// task sent to them failing.
		gone := func(why string) {
			e, recorded := m.ended(ticket, dir, why)
			m.mu.Lock()
			m.engines[ticket] = e
			m.mu.Unlock()
			if !recorded {
				m.wg.Add(1)
				go func() {
					defer m.wg.Done()
					m.report(e)
				}()
			}
		}
		pid, start, uid, err := readPIDFile(dir)
		if err != nil {
			m.log.Warn("not adopting an engine directory", "ec", ticket, "err", err)
			gone("no trusted pid record")
			continue
		}
		if now, err := procStart(pid); err != nil || now != start {
			gone("its process is gone")
			continue
		}
		if puid, err := procUID(pid); err != nil || puid != uid {
			m.log.Warn("not adopting a process that does not run as the engine's user", "ec", ticket, "pid", pid, "uid", puid, "want", uid)
			gone("its process does not run as its user")
			continue
		}
		e := &engine{ticket: ticket, dir: dir, work: filepath.Join(dir, "work"), logs: filepath.Join(dir, "logs"),
			result: filepath.Join(dir, "results"), pid: pid, launched: make(chan struct{}), exited: make(chan struct{})}
		close(e.launched)
		addr, err := readAddrRecord(dir)
		m.mu.Lock()
		m.engines[ticket] = e
		if err == nil {
			e.state, e.addr = stateRunning, addr
		} else {
			m.starting++ // until it ends
		}
		m.mu.Unlock()
		if err != nil {
			// It was starting when the earlier ECM stopped: it reports its
			// address only to the ECM that launched it (readAddr), and
			// fails when that one is gone; it cannot start under this one.
			m.stopUnstarted(e, "stopping an engine that was starting when the ECM restarted", "pid", pid)
		} else {
			m.log.Info("adopted a running engine", "ec", ticket, "pid", pid, "addr", addr)
		}
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
		if now, err := procStart(e.pid); err != nil || now != start {
			break
		}
	}
	_ = syscall.Kill(-e.pid, syscall.SIGKILL) // what is left of its group
	killSession(e.pid)                        // and of its session (tasks in groups of their own)
	m.mu.Lock()
	why, timedOut := e.killWhy, e.timedOut
	m.mu.Unlock()
	failed, retryable, reason := false, false, why
	rec, err := readUserFile(filepath.Join(e.work, engineconn.ExitFile))
	switch {
	case why != "":
		retryable = true // as classify: stopped on purpose, not failed
	case timedOut:
		failed, retryable = true, true
		reason = "did not start: it was starting when the ECM restarted, and an engine reports its address only to the ECM that launched it; stopped"
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
