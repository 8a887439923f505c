//go:build !linux

package engineconn

import (
	"fmt"
	"os"
)

// ProtectSecrets keeps the cluster token out of the environment that child
// processes inherit (on Linux it also makes the process non-dumpable).
func ProtectSecrets() error {
	for _, k := range []string{EnvToken, EnvTokenFD, EnvAddrFD} {
		if err := os.Unsetenv(k); err != nil {
			return fmt.Errorf("engineconn: %w", err)
		}
	}
	return nil
}
