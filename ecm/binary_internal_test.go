package ecm

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A root ECM's engines run a copy of the binary in DATA/bin that only root
// may read; it is made again when the source changes, and a DATA/bin that
// is not root's plain directory is refused.
func TestPrivateBinaryCopyFreshAndUnreadable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (make test runs as root)")
	}
	data, src := t.TempDir(), filepath.Join(t.TempDir(), "linkis")
	write := func(content string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(src, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(src, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	inode := func(p string) uint64 {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	write("#!/bin/sh\necho one\n", t0)
	dst, err := privateBinary(data, src)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(data, "bin", "linkis"); dst != want {
		t.Fatalf("copy at %s, want %s", dst, want)
	}
	for _, p := range []string{dst, filepath.Dir(dst)} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o711 {
			t.Errorf("%s: %v %v, want mode 0711", p, fi.Mode(), err)
		}
	}
	if b, _ := os.ReadFile(dst); string(b) != "#!/bin/sh\necho one\n" {
		t.Errorf("the copy holds %q", b)
	}
	// Unchanged source: the same copy.
	first := inode(dst)
	if _, err := privateBinary(data, src); err != nil || inode(dst) != first {
		t.Errorf("an unchanged source was copied again (%v)", err)
	}
	// A new binary (same size, another time; then another size): copied.
	write("#!/bin/sh\necho two\n", t0.Add(time.Minute))
	if _, err := privateBinary(data, src); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "#!/bin/sh\necho two\n" {
		t.Errorf("a changed source (mtime) was not copied again: %q", b)
	}
	write("#!/bin/sh\necho three!\n", t0.Add(time.Minute))
	if _, err := privateBinary(data, src); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "#!/bin/sh\necho three!\n" {
		t.Errorf("a changed source (size) was not copied again: %q", b)
	}
	// A copy made readable is replaced.
	if err := os.Chmod(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := privateBinary(data, src); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o711 {
		t.Errorf("a readable copy was kept: %v", fi.Mode())
	}
	// DATA/bin another user's, or a link: refused.
	if err := os.Chown(filepath.Dir(dst), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := privateBinary(data, src); err == nil {
		t.Error("a DATA/bin owned by nobody was used")
	}
	other := t.TempDir()
	if err := os.RemoveAll(filepath.Dir(dst)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, filepath.Dir(dst)); err != nil {
		t.Fatal(err)
	}
	if _, err := privateBinary(data, src); err == nil {
		t.Error("a DATA/bin that is a symbolic link was followed")
	}
}
