package ecm

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// killSession kills every process left in the session sid. An engine is
// started as the leader of a session of its own, and its engines put each
// task (and the python interpreter) in a process group of its own, so
// killing the engine's group alone leaves those running once the engine
// itself dies hard (SIGKILL after the grace, the OOM killer, a start
// timeout). Everything it started stays in its session, though, unless it
// called setsid itself. The kernel does not reuse a pid still in use as a
// session id, so while one process is left in the session no unrelated
// process can match; once none is, the pid may be reused by the leader of
// another session, which is why a live process with pid sid stops it.
// sid must be the pid of an engine that has ended. A few rounds catch
// processes forked while the first ones were being killed.
func killSession(sid int) {
	if sid <= 1 {
		return
	}
	if _, ok := procSession(sid); ok {
		// A live process has the engine's pid: the engine is gone (the
		// callers saw it end) and its pid was reused, so any session
		// sid is that process's, not the engine's.
		return
	}
	for round := 0; round < 5; round++ {
		ents, err := os.ReadDir("/proc")
		if err != nil {
			return
		}
		found := false
		for _, d := range ents {
			pid, err := strconv.Atoi(d.Name())
			if err != nil || pid == sid {
				continue
			}
			if s, ok := procSession(pid); ok && s == sid {
				found = true
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if !found {
			return
		}
	}
}

// procSession reads the session id of a live (not zombie) process.
func procSession(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 4 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	sid, err := strconv.Atoi(f[3])
	return sid, err == nil
}
