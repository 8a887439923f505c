package ecm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// MaxMaterials bounds the files one launch may carry.
const MaxMaterials = 256

// checkMaterials refuses names that could leave the work directory and
// modes that are not plain permission bits, before anything is written.
func checkMaterials(ms []manager.Material) error {
	if len(ms) > MaxMaterials {
		return linkis.Errorf(linkis.ErrInvalidArgument, "materials", "%d files, at most %d allowed", len(ms), MaxMaterials)
	}
	seen := map[string]bool{}
	for _, m := range ms {
		name := m.Name
		switch {
		case name == "" || len(name) > 255:
			return linkis.ValueError(linkis.ErrInvalidArgument, "materials.name", name, "must be 1-255 bytes")
		case filepath.IsAbs(name) || strings.HasPrefix(name, "/"):
			return linkis.ValueError(linkis.ErrInvalidArgument, "materials.name", name, "must be a relative path, not an absolute one")
		case strings.Contains(name, "\x00") || strings.Contains(name, "\\"):
			return linkis.ValueError(linkis.ErrInvalidArgument, "materials.name", name, "must not hold NUL or backslashes")
		case !filepath.IsLocal(name) || hasDotDot(name):
			return linkis.ValueError(linkis.ErrInvalidArgument, "materials.name", name, "must stay inside the work directory (no '..')")
		case m.Mode&^0o777 != 0:
			return linkis.ValueError(linkis.ErrInvalidArgument, "materials.mode", strconv.FormatUint(uint64(m.Mode), 8), "only permission bits (0-0777) are allowed")
		}
		clean := filepath.Clean(name)
		if clean == "." {
			return linkis.ValueError(linkis.ErrInvalidArgument, "materials.name", name, "must name a file")
		}
		if seen[clean] || clean == engineconn.ExitFile {
			return linkis.ValueError(linkis.ErrInvalidArgument, "materials.name", name, "named twice, or reserved")
		}
		seen[clean] = true
	}
	return nil
}

func hasDotDot(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

// writeMaterials places the files in the work directory; directories are
// created as needed and nothing is written through a symbolic link.
func writeMaterials(work string, ms []manager.Material) error {
	root, err := os.OpenRoot(work)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, m := range ms {
		name := filepath.Clean(m.Name)
		if dir := filepath.Dir(name); dir != "." {
			if err := root.MkdirAll(dir, 0o750); err != nil {
				return fmt.Errorf("material %s: %w", m.Name, err)
			}
		}
		mode := fs.FileMode(m.Mode & 0o777)
		if mode == 0 {
			mode = 0o640
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return fmt.Errorf("material %s: %w", m.Name, err)
		}
		if _, err := f.Write(m.Data); err != nil {
			f.Close()
			return fmt.Errorf("material %s: %w", m.Name, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("material %s: %w", m.Name, err)
		}
		if err := root.Chmod(name, mode); err != nil { // the umask does not decide
			return fmt.Errorf("material %s: %w", m.Name, err)
		}
	}
	return nil
}

// checkEnv refuses environment names that cannot be set.
func checkEnv(env map[string]string) error {
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.Contains(v, "\x00") {
			return linkis.ValueError(linkis.ErrInvalidArgument, "env", k, "names must be non-empty without '=' or NUL; values without NUL")
		}
	}
	return nil
}

// runAs returns the credential to start an engine with: the submitting
// user's when the ECM runs as root and that user exists on the host; nil
// (the ECM's own user) when the ECM is not root. A root ECM refuses a user
// the host does not know (or none), unless allowRoot lets the engine run as
// root.
func runAs(name string, allowRoot bool) (*syscall.Credential, *user.User, error) {
	if os.Geteuid() != 0 {
		return nil, nil, nil
	}
	refuse := func(why string) error {
		return linkis.ValueError(linkis.ErrPermission, "user", name,
			why+"; this ECM runs as root and starts engines only as their submitting user (see --allow-root-engines)")
	}
	if name == "" {
		if allowRoot {
			return nil, nil, nil
		}
		return nil, nil, refuse("no submitting user")
	}
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			if allowRoot {
				return nil, nil, nil
			}
			return nil, nil, refuse("no such user on this host")
		}
		return nil, nil, err
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, nil, fmt.Errorf("user %s has a non-numeric uid or gid", name)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(n))
			}
		}
	}
	return cred, u, nil
}

// chownTree gives an engine's directories to the user it runs as. The
// user owns each directory from its chown on and may act during the walk
// (another process of theirs on the host), so the walk goes by
// descriptors, never by path: a directory is opened relative to the one
// it was listed in with O_NOFOLLOW|O_DIRECTORY and changed through its
// descriptor, anything else is changed with fchownat(AT_SYMLINK_NOFOLLOW)
// relative to its directory. An entry swapped for a symbolic link between
// the listing and the change is changed itself (a link), never followed:
// a walk by path (filepath.WalkDir and os.Lchown) went through it, and a
// root ECM gave files outside the tree away. Each directory is given
// away after its entries (the ECM made the tree, so the user can change
// no entry the walk has yet to reach). An entry that vanished is skipped.
func chownTree(dir string, uid, gid int) error {
	fd, err := unix.Open(dir, openDirFlags, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return chownDir(fd, dir, uid, gid, 0)
}

const openDirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC

// maxChownDepth bounds chownTree's descent (a material's name is at most
// 255 bytes, so at most 128 levels).
const maxChownDepth = 256

// chownDir changes directory fd (named path, for errors) and everything
// under it; it closes fd.
func chownDir(fd int, path string, uid, gid, depth int) error {
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if depth > maxChownDepth {
		return fmt.Errorf("%s: deeper than %d directories", path, maxChownDepth)
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		p := filepath.Join(path, name)
		sub, err := unix.Openat(fd, name, openDirFlags, 0)
		switch {
		case err == nil:
			if err := chownDir(sub, p, uid, gid, depth+1); err != nil {
				return err
			}
			continue
		case err == unix.ENOENT:
			continue
		case err != unix.ENOTDIR && err != unix.ELOOP:
			return &os.PathError{Op: "openat", Path: p, Err: err}
		}
		// Not a directory, or a symbolic link: the entry itself.
		if err := unix.Fchownat(fd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil && err != unix.ENOENT {
			return &os.PathError{Op: "fchownat", Path: p, Err: err}
		}
	}
	// The directory itself last: until then the user cannot change its
	// entries at all.
	if err := unix.Fchown(fd, uid, gid); err != nil {
		return &os.PathError{Op: "fchown", Path: path, Err: err}
	}
	return nil
}

// resolveCommand finds the program of a launch: "linkis" is the ECM's own
// binary; a command of Config.Commands is looked up on PATH; anything else
// is refused.
func (m *ECM) resolveCommand(cmd string, args []string) (string, error) {
	if cmd == manager.EngineConnCommand {
		if len(args) == 0 || args[0] != "engineconn" {
			return "", linkis.Errorf(linkis.ErrPermission, "args", "the linkis binary is launched only as `linkis engineconn ...`")
		}
		return m.binary, nil
	}
	if !slices.Contains(m.cfg.Commands, cmd) {
		return "", linkis.ValueError(linkis.ErrPermission, "command", cmd,
			"this ECM runs only linkis and the commands it was configured with (--allow-command)")
	}
	p, err := exec.LookPath(cmd)
	if err != nil {
		return "", fmt.Errorf("command %q: %w", cmd, err)
	}
	return p, nil
}

// baseEnv is what an engine inherits of the ECM's environment: enough to
// find programs and speak a locale, nothing secret.
func baseEnv(u *user.User) []string {
	var env []string
	for _, k := range []string{"PATH", "LANG", "LC_ALL", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if u != nil {
		env = append(env, "HOME="+u.HomeDir, "USER="+u.Username, "LOGNAME="+u.Username)
	} else if h, err := os.UserHomeDir(); err == nil {
		env = append(env, "HOME="+h)
	}
	return env
}
