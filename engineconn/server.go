package engineconn

import (
	"net/http"
	"strconv"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// Handler returns the task API (see api.PathTasks), behind the cluster
// token.
func (e *EngineConn) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathTasks, func(w http.ResponseWriter, r *http.Request) {
		var req api.TaskRequest
		if err := api.DecodeBody(w, r, api.MaxCodeBytes+64<<10, &req); err != nil {
			api.WriteError(w, err)
			return
		}
		wait, err := queryInt(r, "waitMs", 0, int64(api.MaxWait/time.Millisecond))
		if err != nil {
			api.WriteError(w, err)
			return
		}
		logSize, err := queryInt(r, "logSize", 0, api.MaxLogPageSize)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		logLines, err := logLinesParam(r)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		out, err := e.Submit(r.Context(), req)
		if err == nil && wait > 0 {
			st, serr := e.Status(r.Context(), out.ID, time.Duration(wait)*time.Millisecond, logLines)
			if serr == nil {
				out.State, out.Status = st.State, &st
				if logSize > 0 && api.TaskEnded(st.State) {
					if lg, lerr := e.Log(out.ID, 0, int(logSize)); lerr == nil {
						out.Log = &lg
					}
				}
			}
		}
		reply(w, out, err)
	})
	mux.HandleFunc("GET "+api.PathTasks+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		wait, err := queryInt(r, "waitMs", 0, int64(api.MaxWait/time.Millisecond))
		if err != nil {
			api.WriteError(w, err)
			return
		}
		logLines, err := logLinesParam(r)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		out, err := e.Status(r.Context(), r.PathValue("id"), time.Duration(wait)*time.Millisecond, logLines)
		reply(w, out, err)
	})
	mux.HandleFunc("GET "+api.PathTasks+"/{id}/log", func(w http.ResponseWriter, r *http.Request) {
		from, err := queryInt(r, "from", 0, 1<<31-1)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		size, err := queryInt(r, "size", 1000, api.MaxLogPageSize)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		out, err := e.Log(r.PathValue("id"), int(from), int(size))
		reply(w, out, err)
	})
	mux.HandleFunc("POST "+api.PathTasks+"/{id}/kill", func(w http.ResponseWriter, r *http.Request) {
		out, err := e.Kill(r.Context(), r.PathValue("id"))
		reply(w, out, err)
	})
	mux.HandleFunc("POST "+api.PathEngineLock, func(w http.ResponseWriter, r *http.Request) {
		var req api.LockRequest
		if err := api.DecodeBody(w, r, api.MaxBodyBytes, &req); err != nil {
			api.WriteError(w, err)
			return
		}
		out, err := e.Lock(r.Context(), req)
		reply(w, out, err)
	})
	mux.HandleFunc("POST "+api.PathEngineUnlock, func(w http.ResponseWriter, r *http.Request) {
		var req api.LockRequest
		if err := api.DecodeBody(w, r, api.MaxBodyBytes, &req); err != nil {
			api.WriteError(w, err)
			return
		}
		out, err := e.Unlock(r.Context(), req)
		reply(w, out, err)
	})
	mux.HandleFunc("GET "+api.PathEngineInfo, func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, e.Info())
	})
	return api.RequireToken(e.cfg.Token, mux)
}

func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		api.WriteError(w, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, v)
}

// logLinesParam is the logLines a waiting call names (-1 when it names
// none: only the task's end ends the wait).
func logLinesParam(r *http.Request) (int, error) {
	n, err := queryInt(r, "logLines", -1, 1<<31-1)
	return int(n), err
}

func queryInt(r *http.Request, name string, def, max int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > max {
		return 0, linkis.ValueError(linkis.ErrInvalidArgument, name, s, "must be an integer from 0 to "+strconv.FormatInt(max, 10))
	}
	return n, nil
}
