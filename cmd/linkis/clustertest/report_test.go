//go:build linux

package clustertest

import (
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// report keeps what a failed test leaves behind: every process's log and
// JSON documents (the history), copied out of the test's directory before
// it is removed.
type report struct {
	t     testing.TB
	dir   string
	mu    sync.Mutex
	logs  []string
	trees map[string]string // name → a data directory whose engine logs are copied
	docs  map[string]func() any
}

// newReport registers the report's writing with t.Cleanup: register it
// after the directory it copies from, before what must stop first.
func newReport(t testing.TB, dir string) *report {
	r := &report{t: t, dir: dir, trees: map[string]string{}, docs: map[string]func() any{}}
	t.Cleanup(r.write)
	return r
}

func (r *report) addLog(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, path)
}

// addTree adds the engine logs under a node's data directory (files in
// "logs" directories), copied under name.
func (r *report) addTree(name, dir string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.trees[name] = dir
}

// maxTreeBytes bounds the engine logs a report copies.
const maxTreeBytes = 64 << 20

// addDoc adds a document, written as name.json from what doc returns when
// the test has failed.
func (r *report) addDoc(name string, doc func() any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.docs[name] = doc
}

func (r *report) write() {
	if !r.t.Failed() {
		return
	}
	base := os.Getenv("LINKIS_CHAOS_REPORTS")
	if base == "" {
		base = filepath.Join(os.TempDir(), "linkis-chaos-reports")
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(r.t.Name()) + "-" + time.Now().Format("20060102-150405")
	dst := filepath.Join(base, name)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		r.t.Logf("report: %v", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.logs {
		if err := copyFile(l, filepath.Join(dst, filepath.Base(l))); err != nil && !os.IsNotExist(err) {
			r.t.Logf("report: %v", err)
		}
	}
	copied := int64(0)
	for name, dir := range r.trees {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || filepath.Base(filepath.Dir(path)) != "logs" {
				return nil
			}
			info, err := d.Info()
			if err != nil || copied+info.Size() > maxTreeBytes {
				return nil
			}
			rel, _ := filepath.Rel(dir, path)
			to := filepath.Join(dst, name, rel)
			if os.MkdirAll(filepath.Dir(to), 0o755) == nil && copyFile(path, to) == nil {
				copied += info.Size()
			}
			return nil
		})
	}
	for n, doc := range r.docs {
		b, err := json.MarshalIndent(doc(), "", "  ")
		if err == nil {
			err = os.WriteFile(filepath.Join(dst, n+".json"), b, 0o644)
		}
		if err != nil {
			r.t.Logf("report: %s: %v", n, err)
		}
	}
	r.t.Logf("report (history and every process's log): %s", dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
