package engineconn

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/golinkis/golinkis/linkis"
)

// OpenUserFile opens name, one plain file of root (an engine's log or
// result directory), for reading on behalf of someone other than the
// engine's user - its ECM, which may run as root and serves the file to
// the cluster. The directory is the user's, so nothing in it is trusted:
// name must be a single path element, and the file a regular file with
// one link (no symbolic link, even one staying inside root; no hard link
// to a file elsewhere; no FIFO or device, which could block or act on
// open). A file replaced between the check and the open is refused too.
// So is a sparse file (one with a hole): engines and ECMs only append to
// the files they write, and a file of any apparent size costs its user no
// disk, while a reader that goes through it reads all of it. A name that
// is not there is fs.ErrNotExist; the others are linkis.ErrPermission.
func OpenUserFile(root *os.Root, name string) (*os.File, os.FileInfo, error) {
	deny := func(why string) (*os.File, os.FileInfo, error) {
		return nil, nil, linkis.ValueError(linkis.ErrPermission, "name", name, why)
	}
	if !plainName(name) {
		return deny("not a plain file name")
	}
	before, err := root.Lstat(name)
	if err != nil {
		return nil, nil, err
	}
	if !PlainFile(before) {
		return deny("not a regular file with a single link")
	}
	// O_NONBLOCK: a FIFO swapped in after the check must not block the
	// open (regular files ignore the flag).
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("engineconn: %w", err)
	}
	if !PlainFile(fi) || !os.SameFile(before, fi) {
		f.Close()
		return deny("replaced while it was opened")
	}
	if hole, err := firstHole(f); err != nil || hole < fi.Size() {
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("engineconn: %s: %w", name, err)
		}
		return deny(fmt.Sprintf("a sparse file (a hole at byte %d of %d): not one an engine writes", hole, fi.Size()))
	}
	return f, fi, nil
}

// firstHole returns the offset of f's first hole (its size when it has
// none; a file system that does not know holes says so of every file),
// leaving f's offset at 0.
func firstHole(f *os.File) (int64, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var off int64
	var serr error
	err = rc.Control(func(fd uintptr) {
		off, serr = unix.Seek(int(fd), 0, unix.SEEK_HOLE)
		if serr == unix.ENXIO { // an empty file
			off, serr = 0, nil
		}
		if _, err := unix.Seek(int(fd), 0, io.SeekStart); serr == nil {
			serr = err
		}
	})
	if err == nil {
		err = serr
	}
	return off, err
}

// plainName reports whether name is one path element naming a file: not
// empty, ".", "..", nor holding a slash or a NUL.
func plainName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 {
			return false
		}
	}
	return true
}

// PlainFile reports whether fi (from Lstat) is what OpenUserFile opens: a
// regular file with a single link.
func PlainFile(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return fi.Mode().IsRegular() && ok && st.Nlink == 1
}
