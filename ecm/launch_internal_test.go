package ecm

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// start() gives work, logs and results to the engine's user with
// chownTree. The user owns each directory from its chown on, and may act
// while the walk goes on (another process of theirs: a shell job on the
// same host watching DATA, which is world-readable). A walk by path
// (filepath.WalkDir and os.Lchown, as chownTree was) decides that an entry
// is a directory when it lists the parent, and lists the entry later by
// its path: an entry swapped for a symbolic link in between was listed
// through the link, and os.Lchown(link/name) followed the link - the root
// ECM gave files outside the engine's directory (here a root-owned file
// standing for /etc/shadow) to the user, within 40 tries in every run
// before the fix. Here the tree is one with a directory in it (a plugin's
// materials; the entries before it widen the window) and a racing
// goroutine stands for the user's process. (Found by the data review.)
func TestChownTreeDoesNotFollowASwappedDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root, as an ECM that starts engines as their users")
	}
	base := t.TempDir()
	target := filepath.Join(base, "etc")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(target, 0o755))
	shadow := filepath.Join(target, "shadow")
	must(os.WriteFile(shadow, []byte("root-only"), 0o600))
	work := filepath.Join(base, "work")
	must(os.Mkdir(work, 0o750))
	for i := range 300 { // entries walked before the directory: the window
		must(os.WriteFile(filepath.Join(work, "a"+strconv.Itoa(1000+i)), nil, 0o644))
	}
	sub, aside := filepath.Join(work, "zzz"), filepath.Join(work, "zzz-aside")
	must(os.Mkdir(sub, 0o755))
	must(os.WriteFile(filepath.Join(sub, "shadow"), nil, 0o644))
	const uid = 65534
	for try := 1; try <= 300; try++ {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { // the user's process: flips zzz between its directory and a link
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if os.Rename(sub, aside) == nil {
					os.Symlink(target, sub)
					os.Remove(sub)
					os.Rename(aside, sub)
				}
			}
		}()
		_ = chownTree(work, uid, uid)
		close(stop)
		<-done
		if _, err := os.Lstat(sub); err != nil {
			os.Rename(aside, sub)
		}
		var st syscall.Stat_t
		must(syscall.Stat(shadow, &st))
		if st.Uid == uid {
			t.Fatalf("try %d: chownTree gave %s, outside the tree it was asked to walk, to uid %d", try, shadow, uid)
		}
	}
}

// chownTree changes every entry of the tree - directories, files, a FIFO
// (without opening it), a symbolic link itself - and nothing a link points
// to.
func TestChownTreeChangesTheTreeAndNothingElse(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root, as an ECM that starts engines as their users")
	}
	base := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(base, "outside")
	must(os.Mkdir(outside, 0o755))
	must(os.WriteFile(filepath.Join(outside, "f"), nil, 0o644))
	work := filepath.Join(base, "work")
	must(os.MkdirAll(filepath.Join(work, "a", "b"), 0o750))
	must(os.WriteFile(filepath.Join(work, "a", "b", "f"), nil, 0o644))
	must(syscall.Mkfifo(filepath.Join(work, "a", "fifo"), 0o644))
	must(os.Symlink(outside, filepath.Join(work, "link")))
	must(os.Symlink(filepath.Join(outside, "f"), filepath.Join(work, "a", "flink")))
	const uid = 65534
	must(chownTree(work, uid, uid))
	owner := func(p string) uint32 {
		var st syscall.Stat_t
		must(syscall.Lstat(p, &st))
		return st.Uid
	}
	for _, p := range []string{"", "a", "a/b", "a/b/f", "a/fifo", "link", "a/flink"} {
		if u := owner(filepath.Join(work, p)); u != uid {
			t.Errorf("%s: owner %d, want %d", filepath.Join("work", p), u, uid)
		}
	}
	for _, p := range []string{outside, filepath.Join(outside, "f")} {
		if u := owner(p); u != 0 {
			t.Errorf("%s, outside the tree, was given to %d", p, u)
		}
	}
}
