package ecm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// hostData is what the ECM keeps to serve its engines' task logs and
// result files (see api.PathECMEngines).
type hostData struct {
	engines *http.Client // the engines' task APIs, for logs not saved yet
	idx     indexes
}

func newHostData() *hostData {
	return &hostData{engines: &http.Client{Timeout: 30 * time.Second}}
}

// hostedEngine is one engine as the host-data API sees it.
type hostedEngine struct {
	ec            string
	logs, results string
	addr          string // while it serves, if the ECM may call it
	exited        bool
	reason        string // how it ended
}

// hosted returns engine ec, if this ECM has it and its retention has not
// passed; else ErrUnknownNode saying it is gone. Past the retention an
// engine is gone even before the cleaner removed its directory: its data
// lives exactly that long.
func (m *ECM) hosted(ec string) (hostedEngine, error) {
	id, err := manager.ParseECID(ec)
	if err != nil {
		return hostedEngine{}, err
	}
	ticket := id.String()
	m.mu.Lock()
	e := m.engines[ticket]
	m.mu.Unlock()
	if e == nil {
		return hostedEngine{}, linkis.ValueError(linkis.ErrUnknownNode, "ec", ticket, fmt.Sprintf(
			"this ECM (%s) has no such engine: never launched here, or it ended more than the retention of %v ago and its logs and results are gone",
			m.cfg.ID, m.cfg.Retention))
	}
	m.mu.Lock()
	h := hostedEngine{ec: ticket, logs: e.logs, results: e.result, exited: e.isExited(), reason: e.reason}
	if e.state == stateRunning {
		// The engine reported it on a socket only it held (readAddr), or
		// an adopted one's from the ECM's own record of that.
		h.addr = e.addr
	}
	endedAt := e.endedAt
	m.mu.Unlock()
	if h.exited && !time.Now().Before(endedAt.Add(m.cfg.Retention)) {
		return hostedEngine{}, linkis.ValueError(linkis.ErrUnknownNode, "ec", ticket, fmt.Sprintf(
			"ended at %s, more than the retention of %v ago: its logs and results are gone",
			endedAt.UTC().Format(time.RFC3339), m.cfg.Retention))
	}
	return h, nil
}

// TaskLog returns lines [from, from+size) of the log of task id of engine
// ec: while the engine serves, its own answer (from memory, or from what
// it saved); else - it exited, or cannot be reached - what it saved in
// its log directory. A task of which neither has a log is ErrUnknownNode
// (field "task").
func (m *ECM) TaskLog(ctx context.Context, ec, task string, from, size int) (api.TaskLog, error) {
	if !engineconn.IsTaskID(task) {
		return api.TaskLog{}, linkis.ValueError(linkis.ErrInvalidArgument, "task", task, "must be a task id t-N")
	}
	if err := api.CheckPage(from, size, api.MaxLogPageSize); err != nil {
		return api.TaskLog{}, err
	}
	h, err := m.hosted(ec)
	if err != nil {
		return api.TaskLog{}, err
	}
	var live error // why the engine did not answer
	if h.addr != "" {
		lg, err := api.NewEngineClient(h.addr, m.cfg.Token, m.data.engines).Log(ctx, task, from, size)
		if err == nil {
			return lg, nil
		}
		live = err
	}
	if lg, ok, err := engineconn.SavedLogPage(h.logs, task, from, size); ok || err != nil {
		return lg, err
	}
	if live != nil && !errors.Is(live, linkis.ErrUnknownNode) {
		if h, err := m.hosted(ec); err == nil && !h.exited {
			return api.TaskLog{}, linkis.Errorf(linkis.ErrUnavailable, "ec", "%s serves but could not be asked for the log of %s: %v", h.ec, task, live)
		}
	}
	why := "never submitted there"
	if h.exited {
		why = "never submitted there, or the engine ended without saving it (" + firstLine(h.reason) + ")"
	}
	return api.TaskLog{}, linkis.ValueError(linkis.ErrUnknownNode, "task", task, h.ec+" has no log of this task: "+why)
}

// openResult opens result file name of engine h through an os.Root of
// its results directory, as engineconn.OpenUserFile does: a regular file
// of that directory, nothing else.
func (m *ECM) openResult(h hostedEngine, name string) (*os.File, os.FileInfo, error) {
	if err := api.ValidResultName(name); err != nil {
		return nil, nil, err
	}
	gone := linkis.ValueError(linkis.ErrUnknownNode, "result", name, h.ec+" has no such result file")
	root, err := os.OpenRoot(h.results)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, gone
		}
		return nil, nil, fmt.Errorf("ecm: results of %s: %w", h.ec, err)
	}
	defer root.Close()
	f, fi, err := engineconn.OpenUserFile(root, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, gone
	}
	return f, fi, err
}

// ResultFiles lists the result files of engine ec: the files of its
// results directory that ResultPage and OpenResult serve (regular, one
// link, a result name), by name.
func (m *ECM) ResultFiles(ec string) (api.ResultFiles, error) {
	h, err := m.hosted(ec)
	if err != nil {
		return api.ResultFiles{}, err
	}
	out := api.ResultFiles{EC: h.ec, Files: []api.ResultFile{}}
	root, err := os.OpenRoot(h.results)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("ecm: results of %s: %w", h.ec, err)
	}
	defer root.Close()
	dir, err := root.Open(".")
	if err != nil {
		return out, fmt.Errorf("ecm: results of %s: %w", h.ec, err)
	}
	defer dir.Close()
	for {
		ents, err := dir.ReadDir(1024)
		for _, d := range ents {
			if !d.Type().IsRegular() || api.ValidResultName(d.Name()) != nil {
				continue
			}
			if len(out.Files) == api.MaxResultFiles {
				out.Truncated = true
				break
			}
			fi, err := d.Info()
			if err != nil || !engineconn.PlainFile(fi) {
				continue // removed meanwhile, or not served
			}
			f := api.ResultFile{Name: d.Name(), Size: fi.Size(), Modified: fi.ModTime().UnixMilli()}
			if x, ok := m.data.idx.cached(filepath.Join(h.results, d.Name()), fi); ok {
				f.Rows = &x.rows
			}
			out.Files = append(out.Files, f)
		}
		if err != nil || out.Truncated {
			break
		}
	}
	sort.Slice(out.Files, func(i, j int) bool { return out.Files[i].Name < out.Files[j].Name })
	return out, nil
}

// ResultPage returns rows [from, from+size) of result file name of
// engine ec (see api.ResultPage), through the file's row index.
func (m *ECM) ResultPage(ec, name string, from, size int) (api.ResultPage, error) {
	if err := api.CheckPage(from, size, api.MaxResultPageRows); err != nil {
		return api.ResultPage{}, err
	}
	h, err := m.hosted(ec)
	if err != nil {
		return api.ResultPage{}, err
	}
	f, fi, err := m.openResult(h, name)
	if err != nil {
		return api.ResultPage{}, err
	}
	defer f.Close()
	x, err := m.data.idx.get(filepath.Join(h.results, name), f, fi)
	if err != nil {
		return api.ResultPage{}, err
	}
	hdr, rows, next, err := x.page(f, from, size)
	if err != nil {
		return api.ResultPage{}, err
	}
	return api.ResultPage{EC: h.ec, Name: name, Header: hdr, From: from, Rows: rows, Next: next, Total: x.rows}, nil
}

// OpenResult opens result file name of engine ec for streaming whole;
// the caller closes it.
func (m *ECM) OpenResult(ec, name string) (*os.File, os.FileInfo, error) {
	h, err := m.hosted(ec)
	if err != nil {
		return nil, nil, err
	}
	return m.openResult(h, name)
}

// hostDataRoutes adds the host-data API to mux.
func (m *ECM) hostDataRoutes(mux *http.ServeMux) {
	base := "GET " + api.PathECMEngines + "/{ec}"
	mux.HandleFunc(base+"/tasks/{task}/log", func(w http.ResponseWriter, r *http.Request) {
		from, size, err := pageQuery(r, api.MaxLogPageSize)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		lg, err := m.TaskLog(r.Context(), r.PathValue("ec"), r.PathValue("task"), from, size)
		reply(w, lg, err)
	})
	mux.HandleFunc(base+"/results", func(w http.ResponseWriter, r *http.Request) {
		out, err := m.ResultFiles(r.PathValue("ec"))
		reply(w, out, err)
	})
	mux.HandleFunc(base+"/results/{name}", func(w http.ResponseWriter, r *http.Request) {
		from, size, err := pageQuery(r, api.MaxResultPageRows)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		out, err := m.ResultPage(r.PathValue("ec"), r.PathValue("name"), from, size)
		reply(w, out, err)
	})
	mux.HandleFunc(base+"/results/{name}/raw", func(w http.ResponseWriter, r *http.Request) {
		f, fi, err := m.OpenResult(r.PathValue("ec"), r.PathValue("name"))
		if err != nil {
			api.WriteError(w, err)
			return
		}
		defer f.Close()
		ct := "application/octet-stream"
		if filepath.Ext(fi.Name()) == api.ResultSetExt {
			ct = "application/x-ndjson"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fi.Name()}))
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", fi.ModTime(), f)
	})
}

// pageQuery reads ?from=N&size=S (size: default 1000, at most max).
func pageQuery(r *http.Request, max int) (from, size int, err error) {
	q := r.URL.Query()
	get := func(name string, def, max int) (int, error) {
		s := q.Get(name)
		if s == "" {
			return def, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > max {
			return 0, linkis.ValueError(linkis.ErrInvalidArgument, name, s, "must be an integer from 0 to "+strconv.Itoa(max))
		}
		return n, nil
	}
	if from, err = get("from", 0, 1<<31-1); err != nil {
		return 0, 0, err
	}
	size, err = get("size", 1000, max)
	return from, size, err
}

// reply writes v, or err as the error envelope. Results travel as the
// file's own bytes: no HTML escaping.
func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		api.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
