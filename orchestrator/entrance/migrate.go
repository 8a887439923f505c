package entrance

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
)

// MigratedSuffix is appended to the name of a history Migrate imported.
const MigratedSuffix = ".imported"

// Migrate imports the job history of a data directory written by the
// version before the job queues joined the replicated state -
// dir/jobs.db (bbolt) and the result files in dir/results - into the
// state, then renames jobs.db to jobs.db.imported so that it is imported
// once. Ended jobs keep their ids, records, logs and results (served from
// dir/results by this member); queued ones are queued again; jobs the old
// server left Scheduled or Running end Failed, their outcome unknown (as
// that version settled them at a restart). A history that cannot be read
// is refused with the reason and nothing is imported; one whose ids the
// state already uses (jobs were accepted before the import) is refused
// too. An import cut short resumes where it stopped.
func Migrate(ctx context.Context, store Store, dir string, log *slog.Logger) error {
	path := filepath.Join(dir, "jobs.db")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return linkis.Errorf(linkis.ErrMalformed, "history", "%s cannot be opened (%v): it is not a job history this version can import; move it away to start with an empty history", path, err)
	}
	jobs, err := readOldHistory(db, dir)
	db.Close()
	if err != nil {
		return linkis.Errorf(linkis.ErrMalformed, "history", "%s cannot be imported: %v; nothing was imported - move it away to start with an empty history", path, err)
	}
	imported := 0
	for _, v := range jobs {
		var have bool
		if err := store.Read(ctx, true, func(s *manager.State) { _, have = s.JobByExecID(v.ExecID) }); err != nil {
			return err
		}
		if have {
			continue // imported by an earlier, interrupted run
		}
		if _, err := store.Apply(ctx, manager.ImportJob{Time: time.Now().UnixNano(), Job: v}); err != nil {
			return fmt.Errorf("entrance: importing job %d of %s: %w", v.TaskID, path, err)
		}
		imported++
	}
	if err := os.Rename(path, path+MigratedSuffix); err != nil {
		return fmt.Errorf("entrance: the history was imported but cannot be set aside: %w", err)
	}
	log.Info("entrance: imported the job history of an earlier version", "jobs", imported, "from", path)
	return nil
}

// readOldHistory reads every job of a version-1 history in task id order.
func readOldHistory(db *bolt.DB, dir string) ([]manager.JobView, error) {
	var out []manager.JobView
	err := db.View(func(tx *bolt.Tx) error {
		jobs, reqs, logs := tx.Bucket([]byte("jobs")), tx.Bucket([]byte("reqs")), tx.Bucket([]byte("logs"))
		if jobs == nil || reqs == nil {
			return errors.New("its buckets are missing")
		}
		return jobs.ForEach(func(k, b []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("a job key of %d bytes", len(k))
			}
			var j orchestrator.Job
			if err := json.Unmarshal(b, &j); err != nil {
				return fmt.Errorf("job %x: %v", k, err)
			}
			if r := reqs.Get(k); r != nil {
				if err := json.Unmarshal(r, &j.Request); err != nil {
					return fmt.Errorf("job %d's request: %v", j.TaskID, err)
				}
			}
			if j.TaskID != int64(binary.BigEndian.Uint64(k)) || j.ExecID == "" || !j.State.Valid() {
				return fmt.Errorf("job %x has an inconsistent record", k)
			}
			var lines []string
			if logs != nil {
				c := logs.Cursor()
				for lk, lv := c.Seek(k); lk != nil && bytes.HasPrefix(lk, k); lk, lv = c.Next() {
					lines = append(lines, string(lv))
				}
			}
			v, err := oldJob(j, lines, dir)
			if err != nil {
				return err
			}
			out = append(out, v)
			return nil
		})
	})
	return out, err
}

// oldJob turns a version-1 record into an import.
func oldJob(j orchestrator.Job, lines []string, dir string) (manager.JobView, error) {
	req, err := json.Marshal(&j.Request)
	if err != nil {
		return manager.JobView{}, err
	}
	v := manager.JobView{
		TaskID: j.TaskID, ExecID: j.ExecID, User: j.User, Creator: j.Creator, EngineType: j.EngineType,
		Request: req, State: j.State, Progress: j.Progress, ProgressInfo: j.ProgressInfo, Attempts: j.Attempts,
		EC: j.EC, Reason: j.Reason, Created: unixNano(j.Created), Started: unixNano(j.Started), Ended: unixNano(j.Ended),
	}
	switch j.State {
	case orchestrator.Inited, orchestrator.WaitForRetry:
		v.State = orchestrator.Inited
	case orchestrator.Scheduled, orchestrator.Running:
		v.State, v.Ended = orchestrator.Failed, time.Now().UnixNano()
		v.Reason = "the server was upgraded while the job " + strings.ToLower(j.State.String()) + "; its outcome is unknown"
		lines = append(lines, stamp("WARN", v.Reason))
	}
	if len(lines) > 0 {
		v.Log = []manager.JobLogPart{{Lines: lines}}
	}
	results := filepath.Join(dir, "results")
	for i, p := range j.Results {
		rel, err := filepath.Rel(results, p)
		if err != nil || !filepath.IsLocal(rel) {
			// Written under another path: find it by its place.
			parts := strings.Split(filepath.ToSlash(p), "/")
			if len(parts) < 3 {
				return v, fmt.Errorf("job %d's result %d has path %q, not under results/", j.TaskID, i, p)
			}
			rel = filepath.Join(parts[len(parts)-3:]...)
		}
		v.Results = append(v.Results, "local/"+filepath.ToSlash(rel))
	}
	return v, nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
