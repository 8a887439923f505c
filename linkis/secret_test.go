package linkis

import "testing"

func TestIsSecretKey(t *testing.T) {
	for k, want := range map[string]bool{"jdbc.password": true, "wds.linkis.jdbc.password": true, "a.PASSWD": true, "pwd": true,
		"b.secret": true, "jdbc.username": false, "secretive": false, "password.file": false, "": false} {
		if IsSecretKey(k) != want {
			t.Errorf("IsSecretKey(%q) = %v", k, !want)
		}
	}
}
