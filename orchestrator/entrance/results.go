package entrance

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/golinkis/golinkis/linkis"
)

// OpenResult opens a result file of user's: path as recorded in
// Job.Results (absolute, under DataDir/results/<user>/), or relative to
// that directory. Anything else - another user's file, a path with a ".."
// element, an absolute path elsewhere, a symbolic link leading out of the
// user's directory, something not a regular file - is linkis.ErrPermission.
// It returns the open file and its clean name relative to the user's
// directory ("<taskID>/<n><ext>"). The caller closes the file.
func (e *Entrance) OpenResult(user, path string) (*os.File, string, error) {
	deny := func(why string) (*os.File, string, error) {
		return nil, "", linkis.ValueError(linkis.ErrPermission, "path", path, why)
	}
	if !validUser(user) {
		return deny("not a result file of this user's")
	}
	if path == "" || strings.ContainsRune(path, 0) {
		return deny("not a result file of this user's")
	}
	for _, el := range strings.FieldsFunc(filepath.ToSlash(path), func(r rune) bool { return r == '/' }) {
		if el == ".." {
			return deny("'..' is not allowed")
		}
	}
	base := filepath.Join(e.resultsDir, user)
	rel := filepath.Clean(path)
	if filepath.IsAbs(path) {
		var err error
		rel, err = filepath.Rel(base, rel)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return deny("not a result file of this user's")
		}
	}
	if rel == "." || filepath.IsAbs(rel) || !filepath.IsLocal(rel) {
		return deny("not a result file of this user's")
	}
	root, err := os.OpenRoot(base)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", linkis.ValueError(linkis.ErrInvalidArgument, "path", path, "no such result file")
		}
		return deny("not a result file of this user's")
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", linkis.ValueError(linkis.ErrInvalidArgument, "path", path, "no such result file")
		}
		// os.Root refuses links and paths that lead out of the directory.
		return deny("not a result file of this user's")
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return deny("not a regular result file")
	}
	return f, filepath.ToSlash(rel), nil
}
