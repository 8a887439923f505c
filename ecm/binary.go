package ecm

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// privateBinaryDir is where a root ECM keeps the copy of the linkis binary
// its engines run (DATA/bin: not an ec-N directory, so neither the cleaner
// nor adoption looks at it).
const privateBinaryDir = "bin"

// privateBinary returns the program a root ECM runs for "linkis": a copy
// of src in DATA/bin, owned by root, mode 0711 (the directory too) - an
// engine's user may execute it but not read it. The kernel makes a
// process that executes a program its credentials cannot read
// non-dumpable from the exec on (fs/exec.c would_dump), so no process of
// the engine's user can attach to the engine, read its memory or copy its
// descriptors (pidfd_getfd: the token socket on 3, the address socket on
// 4) in the window before the engine's own ProtectSecrets - a window the
// user could hold open at will with SIGSTOP. The copy is made again when
// the source's size or modification time differs from it (a new binary
// installed before the ECM restarts); engines still running keep the old
// one (the copy replaces it by rename).
func privateBinary(dataDir, src string) (string, error) {
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("ecm: the engines' copy of %s: %w", src, err)
	}
	sfi, err := os.Stat(src)
	if err != nil {
		return fail(err)
	}
	dir := filepath.Join(dataDir, privateBinaryDir)
	if err := os.Mkdir(dir, 0o711); err != nil && !errors.Is(err, fs.ErrExist) {
		return fail(err)
	}
	if fi, err := os.Lstat(dir); err == nil && fi.IsDir() {
		if err := os.Chmod(dir, 0o711); err != nil { // whatever the umask left
			return fail(err)
		}
	}
	if err := rootOnly(dir, true); err != nil {
		return fail(err)
	}
	dst := filepath.Join(dir, "linkis")
	if dfi, err := os.Lstat(dst); err == nil && rootOnly(dst, false) == nil &&
		dfi.Size() == sfi.Size() && dfi.ModTime().Equal(sfi.ModTime()) {
		return dst, nil
	}
	in, err := os.Open(src)
	if err != nil {
		return fail(err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, ".linkis-*")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename
	_, err = io.Copy(tmp, in)
	if err == nil {
		err = tmp.Chmod(0o711)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(tmp.Name(), sfi.ModTime(), sfi.ModTime())
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		return fail(err)
	}
	dfi, err := os.Lstat(dst)
	if err != nil {
		return fail(err)
	}
	if err := rootOnly(dst, false); err != nil {
		return fail(err)
	}
	if dfi.Size() != sfi.Size() {
		return fail(fmt.Errorf("copied %d bytes of %d", dfi.Size(), sfi.Size()))
	}
	return dst, nil
}

// rootOnly checks that path is a directory (dir) or a regular file, not a
// link, owned by root, mode 0711: executable (or traversable) by anyone,
// readable and writable by root alone.
func rootOnly(path string, dir bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case dir && !fi.IsDir(), !dir && !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a plain %s", path, map[bool]string{true: "directory", false: "file"}[dir])
	case !ok || st.Uid != 0:
		return fmt.Errorf("%s is not root's", path)
	case fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0o711:
		return fmt.Errorf("%s has mode %v, not 0711", path, fi.Mode().Perm())
	}
	return nil
}
