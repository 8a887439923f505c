package entrance

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// A job's result sets stay where its engine wrote them, on the host of
// the ECM that ran it; the record keeps a reference to each (ecm/EC/NAME,
// or local/PATH for a result imported from an older data directory, which
// lives in that directory on the member that imported it). Users name them
// by a path of the cluster's own that no file system resolves:
// linkis:///results/USER/TASKID/_N.jsonl - the N-th result set of the job.

const resultScheme = "linkis:///results/"

// resultPath is the path users name a job's n-th result set by.
func resultPath(user string, taskID int64, n int) string {
	return resultScheme + url.PathEscape(user) + "/" + strconv.FormatInt(taskID, 10) + "/_" + strconv.Itoa(n) + api.ResultSetExt
}

// ResultLocation is the directory a job's result sets are listed under
// (Linkis's resultLocation).
func ResultLocation(user string, taskID int64) string {
	return resultScheme + url.PathEscape(user) + "/" + strconv.FormatInt(taskID, 10)
}

// parseResultPath reads a result path: whose, which job, which set.
func parseResultPath(p string) (user string, taskID int64, n int, err error) {
	bad := linkis.ValueError(linkis.ErrPermission, "path", p, "not a result set of yours")
	rest, ok := strings.CutPrefix(p, resultScheme)
	if !ok {
		return "", 0, 0, bad
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "_") || !strings.HasSuffix(parts[2], api.ResultSetExt) {
		return "", 0, 0, bad
	}
	if user, err = url.PathUnescape(parts[0]); err != nil {
		return "", 0, 0, bad
	}
	if taskID, err = strconv.ParseInt(parts[1], 10, 64); err != nil || taskID <= 0 {
		return "", 0, 0, bad
	}
	if n, err = strconv.Atoi(strings.TrimSuffix(parts[2][1:], api.ResultSetExt)); err != nil || n < 0 || strconv.Itoa(n) != strings.TrimSuffix(parts[2][1:], api.ResultSetExt) {
		return "", 0, 0, bad
	}
	return user, taskID, n, nil
}

func encodeRef(r api.ResultRef) string {
	return "ecm/" + url.PathEscape(r.ECM) + "/" + url.PathEscape(r.EC) + "/" + url.PathEscape(r.Name)
}

// decodeRef reads a reference: an ECM's (ok) or a local file's (local).
func decodeRef(s string) (r api.ResultRef, local string, err error) {
	if l, ok := strings.CutPrefix(s, "local/"); ok {
		return r, l, nil
	}
	parts := strings.Split(strings.TrimPrefix(s, "ecm/"), "/")
	if !strings.HasPrefix(s, "ecm/") || len(parts) != 3 {
		return r, "", fmt.Errorf("a result reference %q this version cannot read", s)
	}
	for i, p := range []*string{&r.ECM, &r.EC, &r.Name} {
		if *p, err = url.PathUnescape(parts[i]); err != nil {
			return r, "", err
		}
	}
	return r, "", nil
}

// OpenResult opens one of user's result sets by the path the job's record
// gives it: the file's bytes as its ECM serves them. Another user's, an
// unknown job's, a set the job does not have: linkis.ErrPermission (the
// message does not say which). A set whose host is gone, or that its ECM
// no longer keeps: linkis.ErrUnknownNode saying so. The string is a name
// for the file the caller may log.
func (e *Entrance) OpenResult(ctx context.Context, user, path string) (io.ReadCloser, string, error) {
	owner, taskID, n, err := parseResultPath(path)
	if err != nil {
		return nil, "", err
	}
	denied := linkis.ValueError(linkis.ErrPermission, "path", path, "not a result set of yours")
	var v manager.JobView
	var ok bool
	var addr string
	if err := e.read(ctx, func(s *manager.State) {
		if v, ok = s.Job(taskID); ok && n < len(v.Results) {
			if ref, _, err := decodeRef(v.Results[n]); err == nil && ref.ECM != "" {
				if m, found := s.ECM(ref.ECM); found {
					addr = m.Addr
				}
			}
		}
	}); err != nil {
		return nil, "", err
	}
	if !ok || v.User != user || owner != user || n >= len(v.Results) {
		return nil, "", denied
	}
	ref, local, err := decodeRef(v.Results[n])
	if err != nil {
		return nil, "", linkis.Errorf(linkis.ErrMalformed, "result", "%v", err)
	}
	if local != "" {
		return e.openLocal(local)
	}
	if addr == "" {
		return nil, "", linkis.ValueError(linkis.ErrUnknownNode, "ecm", ref.ECM,
			"the result is kept on the host of ECM "+ref.ECM+", which is no longer part of the cluster")
	}
	rc, _, err := e.host.OpenResult(ctx, addr, ref.EC, ref.Name)
	if err != nil {
		return nil, "", err
	}
	return rc, ref.ECM + ":" + ref.EC + "/" + ref.Name, nil
}

// openLocal opens an imported result, kept in DataDir/results of the
// member that imported it.
func (e *Entrance) openLocal(rel string) (io.ReadCloser, string, error) {
	if e.cfg.DataDir == "" {
		return nil, "", linkis.ValueError(linkis.ErrUnknownNode, "result", rel, "an imported result is kept on the member that imported it, not this one")
	}
	root, err := os.OpenRoot(filepath.Join(e.cfg.DataDir, "results"))
	if err != nil {
		return nil, "", linkis.ValueError(linkis.ErrUnknownNode, "result", rel, "an imported result is kept on the member that imported it, not this one")
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(rel))
	if err != nil {
		return nil, "", linkis.ValueError(linkis.ErrUnknownNode, "result", rel, "the imported result is not on this member")
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, "", linkis.ValueError(linkis.ErrPermission, "result", rel, "not a regular file")
	}
	return f, "imported:" + rel, nil
}
