package engineconn

import (
	"fmt"
	"os"
	"syscall"
)

// ProtectSecrets keeps the cluster token away from the code the engine
// runs, which runs as the same OS user: the token leaves the environment
// that child processes inherit, and the process becomes non-dumpable, so
// that a process of the same user can neither read /proc/PID/environ nor
// attach to it. Call it once the configuration holds the token. (Before
// it, a root ECM's engine is already non-dumpable: it runs a copy of the
// binary its user cannot read - ecm/binary.go.)
func ProtectSecrets() error {
	for _, k := range []string{EnvToken, EnvTokenFD, EnvAddrFD} {
		if err := os.Unsetenv(k); err != nil {
			return fmt.Errorf("engineconn: %w", err)
		}
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0); errno != 0 {
		return fmt.Errorf("engineconn: prctl(PR_SET_DUMPABLE): %w", errno)
	}
	return nil
}
