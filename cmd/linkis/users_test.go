package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// linkis users writes a users file a server reads: a password kept as a
// hash, a token shown once and kept as a hash, old lines migrated.
func TestUsersCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	os.WriteFile(file, []byte("# old form\nbob code-b\n"), 0o600)
	var out bytes.Buffer
	if err := runUsersIn(&out, strings.NewReader("al1ce-pw\n"), []string{"passwd", file, "alice"}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runUsersIn(&out, nil, []string{"token", file, "--users", "alice,bob", "--hosts", "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	code := strings.TrimSpace(out.String())
	if len(code) != 48 {
		t.Fatalf("token code %q", code)
	}
	if err := runUsersIn(&out, nil, []string{"migrate", file}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	for _, secret := range []string{"al1ce-pw", code, "code-b"} {
		if strings.Contains(string(b), secret) {
			t.Fatalf("the users file holds a secret:\n%s", b)
		}
	}
	if !strings.HasPrefix(string(b), "# old form\n") || !strings.Contains(string(b), "user alice password=$2a$") {
		t.Fatalf("users file:\n%s", b)
	}
	d, err := loadUsers(file, "", false)
	if err != nil {
		t.Fatal(err)
	}
	checkCodes(t, d, map[string]string{"bob": "code-b"})
	if err := runUsersIn(&out, strings.NewReader("x\n"), []string{"passwd", file}); err == nil {
		t.Error("passwd without a name: no error")
	}
	// logout raises a user's sessions= count, keeping the password; an
	// LDAP user (no line yet) gets a line without one.
	for _, name := range []string{"alice", "carol", "carol"} {
		if err := runUsersIn(&out, nil, []string{"logout", file, name}); err != nil {
			t.Fatal(err)
		}
	}
	if d, err = loadUsers(file, "", false); err != nil {
		t.Fatal(err)
	}
	a, _ := d.User("alice")
	c, _ := d.User("carol")
	if a == nil || a.Sessions != 1 || !strings.HasPrefix(a.Hash, "$2a$") || c == nil || c.Sessions != 2 || c.Hash != "" {
		b, _ := os.ReadFile(file)
		t.Fatalf("after logout alice, carol, carol:\n%s", b)
	}
}
