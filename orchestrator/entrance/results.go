package entrance

import (
	"context"
	"encoding/json"
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
	return ResultRoot(user) + "/" + strconv.FormatInt(taskID, 10)
}

// ResultRoot is the directory every result set of user's is under (the
// user's root path, as Linkis's filesystem/getUserRootPath gives it).
func ResultRoot(user string) string {
	return resultScheme + url.PathEscape(user)
}

// logScheme starts the path users name a job's whole log by (Linkis's
// logPath): linkis:///logs/USER/TASKID.log.
const logScheme = "linkis:///logs/"

// LogLocation is the path of a job's whole log (Linkis's logPath);
// ParseLogLocation reads it back.
func LogLocation(user string, taskID int64) string {
	return logScheme + url.PathEscape(user) + "/" + strconv.FormatInt(taskID, 10) + ".log"
}

// ParseLogLocation reads a LogLocation: whose job and which. Anything
// else - another form, an encoding of it that is not the one LogLocation
// writes - is linkis.ErrPermission.
func ParseLogLocation(p string) (user string, taskID int64, err error) {
	bad := linkis.ValueError(linkis.ErrPermission, "path", p, "not the log of a job of yours")
	rest, ok := strings.CutPrefix(p, logScheme)
	if !ok {
		return "", 0, bad
	}
	u, file, ok := strings.Cut(rest, "/")
	id, ok2 := strings.CutSuffix(file, ".log")
	if !ok || !ok2 {
		return "", 0, bad
	}
	if user, err = url.PathUnescape(u); err != nil || user == "" {
		return "", 0, bad
	}
	if taskID, err = strconv.ParseInt(id, 10, 64); err != nil || taskID <= 0 {
		return "", 0, bad
	}
	if LogLocation(user, taskID) != p {
		return "", 0, bad
	}
	return user, taskID, nil
}

// ParseResultLocation reads a ResultLocation (taskID > 0) or a ResultRoot
// (taskID 0). Anything else - another form, an encoding of it that is not
// the one they write, a trailing "/" - is linkis.ErrPermission.
func ParseResultLocation(p string) (user string, taskID int64, err error) {
	bad := linkis.ValueError(linkis.ErrPermission, "path", p, "not a result directory of yours")
	rest, ok := strings.CutPrefix(p, resultScheme)
	if !ok {
		return "", 0, bad
	}
	u, id, hasID := strings.Cut(rest, "/")
	if user, err = url.PathUnescape(u); err != nil || user == "" {
		return "", 0, bad
	}
	if !hasID {
		if ResultRoot(user) != p {
			return "", 0, bad
		}
		return user, 0, nil
	}
	if taskID, err = strconv.ParseInt(id, 10, 64); err != nil || taskID <= 0 || ResultLocation(user, taskID) != p {
		return "", 0, bad
	}
	return user, taskID, nil
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
	if resultPath(user, taskID, n) != p {
		return "", 0, 0, bad // one path per set: no other encoding of it
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
	ref, local, addr, err := e.resultRef(ctx, user, path)
	if err != nil {
		return nil, "", err
	}
	if local != "" {
		return e.openLocal(local)
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

// ResultPage reads rows [from, from+size) of one of user's result sets
// (access as OpenResult), from the ECM's row index where the set is kept:
// a page costs about its own size, wherever it falls in the file. It
// returns the set's header, the rows as the file holds them (JSON arrays)
// and the set's row count. A page may hold fewer rows than asked when they
// are large (api.MaxResultPageBytes per ECM call, and maxBytes in all:
// the page stops after the row that reaches it).
func (e *Entrance) ResultPage(ctx context.Context, user, path string, from, size, maxBytes int) (api.ResultPage, error) {
	if from < 0 || size < 1 {
		return api.ResultPage{}, linkis.Errorf(linkis.ErrInvalidArgument, "page", "from must be ≥ 0 and size ≥ 1")
	}
	ref, local, addr, err := e.resultRef(ctx, user, path)
	if err != nil {
		return api.ResultPage{}, err
	}
	if local != "" {
		return api.ResultPage{}, linkis.ValueError(linkis.ErrUnknownNode, "result", local, "an imported result is read whole (OpenResult), not by pages")
	}
	out := api.ResultPage{EC: ref.EC, Name: ref.Name, From: from, Next: from, Rows: []json.RawMessage{}}
	bytes := 0
	for first := true; ; first = false {
		p, err := e.host.ResultPage(ctx, addr, ref.EC, ref.Name, out.Next, min(size-len(out.Rows), api.MaxResultPageRows))
		if err != nil {
			return api.ResultPage{}, err
		}
		if first {
			out.Header = p.Header
		}
		out.Total = p.Total
		for _, r := range p.Rows {
			out.Rows = append(out.Rows, r)
			bytes += len(r)
		}
		out.Next = p.Next
		if len(p.Rows) == 0 || len(out.Rows) >= size || out.Next >= out.Total || bytes >= maxBytes {
			return out, nil
		}
	}
}

// resultRef resolves one of user's result paths to where the set is
// kept: an ECM's file (ref, and the ECM's address) or an imported local
// file (local). Errors as OpenResult.
func (e *Entrance) resultRef(ctx context.Context, user, path string) (ref api.ResultRef, local, addr string, err error) {
	owner, taskID, n, err := parseResultPath(path)
	if err != nil {
		return ref, "", "", err
	}
	var v manager.JobView
	var ok bool
	if err := e.read(ctx, func(s *manager.State) {
		if v, ok = s.Job(taskID); ok && n < len(v.Results) {
			if r, _, err := decodeRef(v.Results[n]); err == nil && r.ECM != "" {
				if m, found := s.ECM(r.ECM); found {
					addr = m.Addr
				}
			}
		}
	}); err != nil {
		return ref, "", "", err
	}
	if !ok || v.User != user || owner != user || n >= len(v.Results) {
		return ref, "", "", linkis.ValueError(linkis.ErrPermission, "path", path, "not a result set of yours")
	}
	if ref, local, err = decodeRef(v.Results[n]); err != nil {
		return ref, "", "", linkis.Errorf(linkis.ErrMalformed, "result", "%v", err)
	}
	if local == "" && addr == "" {
		return ref, "", "", linkis.ValueError(linkis.ErrUnknownNode, "ecm", ref.ECM,
			"the result is kept on the host of ECM "+ref.ECM+", which is no longer part of the cluster")
	}
	return ref, local, addr, nil
}

// Locations, as methods (restapi.Locations): see the functions of the
// same names.

// LogLocation is LogLocation.
func (*Entrance) LogLocation(user string, taskID int64) string { return LogLocation(user, taskID) }

// ParseLogLocation is ParseLogLocation.
func (*Entrance) ParseLogLocation(p string) (string, int64, error) { return ParseLogLocation(p) }

// ResultLocation is ResultLocation.
func (*Entrance) ResultLocation(user string, taskID int64) string {
	return ResultLocation(user, taskID)
}

// ResultRoot is ResultRoot.
func (*Entrance) ResultRoot(user string) string { return ResultRoot(user) }

// ParseResultLocation is ParseResultLocation.
func (*Entrance) ParseResultLocation(p string) (string, int64, error) { return ParseResultLocation(p) }
