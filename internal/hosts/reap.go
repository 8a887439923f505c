//go:build linux

package hosts

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// A program started on a host may start others (an ECM its engines) and
// die before them. So that those are not left as zombies on a machine
// whose first process may not reap them, the test binary makes itself
// their subreaper (PR_SET_CHILD_SUBREAPER) and reaps the ones it killed,
// by pid - never with wait(-1), which could take a child from the
// exec.Cmd that waits for it.

var reaperOnce sync.Once

func initReaper() {
	reaperOnce.Do(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) })
}

// reap waits for each of pids that is a child of this process: processes
// of a host, killed, that it did not start itself (their parent died and
// they came to this process). Call it once the processes it started on
// the host have been waited for: their children have come by then.
func reap(pids []int) {
	self := strconv.Itoa(os.Getpid())
	for _, pid := range pids {
		if parent(pid) != self {
			continue
		}
		var ws unix.WaitStatus
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); got == pid || err != nil {
				break
			}
		}
	}
}

// parent returns the parent pid of pid from /proc ("" when it is gone).
func parent(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	if f := strings.Fields(s[i+1:]); len(f) >= 2 {
		return f[1]
	}
	return ""
}
