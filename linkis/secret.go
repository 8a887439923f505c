package linkis

import "strings"

// IsSecretKey reports whether a configuration or parameter key names a
// secret: its last dot-separated word is password, passwd, pwd or secret
// (any case), as in jdbc.password and wds.linkis.jdbc.password. Such
// values are never persisted, logged, replicated or passed as an engine's
// start-up parameters (which become its command line).
func IsSecretKey(k string) bool {
	if i := strings.LastIndexByte(k, '.'); i >= 0 {
		k = k[i+1:]
	}
	switch strings.ToLower(k) {
	case "password", "passwd", "pwd", "secret":
		return true
	}
	return false
}
