package entrance

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/golinkis/golinkis/orchestrator"
)

// A result path from an engine is moved into the user's directory only
// if it is a regular file of its own, outside the entrance's data
// directory: it must not let the entrance move the history, another
// user's results, or a file a link points to, nor write through a link
// planted in the results tree.
func TestKeepResultsConfined(t *testing.T) {
	dir := t.TempDir()
	src := t.TempDir()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	results := map[string][]string{} // code → result paths
	before := map[string]func(spec orchestrator.Spec){}
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		mu.Lock()
		paths, hook := results[spec.Request.ExecutionContent.Code], before[spec.Request.ExecutionContent.Code]
		mu.Unlock()
		if hook != nil {
			hook(spec)
		}
		return orchestrator.Outcome{State: orchestrator.Succeed, Results: paths}
	}}
	e, _ := open(t, dir, r, nil)

	good := filepath.Join(src, "good.csv")
	os.WriteFile(good, []byte("alice's"), 0o600)
	mu.Lock()
	results["alice"] = []string{good}
	mu.Unlock()
	aj := wait(t, e, submit(t, e, "alice", request("alice-IDE", "shell-1", "alice")))
	if aj.State != orchestrator.Succeed || len(aj.Results) != 1 {
		t.Fatalf("alice's job %v %q", aj.State, aj.Reason)
	}
	aliceFile := aj.Results[0]

	os.Symlink(secret, filepath.Join(src, "link.csv"))
	os.Symlink(filepath.Dir(aliceFile), filepath.Join(src, "linkdir"))
	os.Link(secret, filepath.Join(src, "hard.csv"))
	cases := map[string][]string{
		"other-users":   {aliceFile},
		"history":       {filepath.Join(dir, "jobs.db")},
		"symlink":       {filepath.Join(src, "link.csv")},
		"via-linkdir":   {filepath.Join(src, "linkdir", filepath.Base(aliceFile))},
		"hard-link":     {filepath.Join(src, "hard.csv")},
		"relative":      {"good.csv"},
		"results-dir":   {filepath.Join(dir, "results", "alice")},
		"dot-dot-alice": {filepath.Join(src, "..", filepath.Base(dir), "results", "alice", filepath.Base(filepath.Dir(aliceFile)), filepath.Base(aliceFile))},
	}
	mu.Lock()
	for code, paths := range cases {
		results[code] = paths
	}
	// A link planted where the job's result directory will be.
	planted := filepath.Join(src, "planted.csv")
	os.WriteFile(planted, []byte("bob's"), 0o600)
	results["planted"] = []string{planted}
	before["planted"] = func(spec orchestrator.Spec) {
		os.MkdirAll(filepath.Join(dir, "results", "bob"), 0o700)
		os.Symlink(outside, filepath.Join(dir, "results", "bob", strconv.FormatInt(spec.TaskID, 10)))
	}
	mu.Unlock()
	for code := range cases {
		j := wait(t, e, submit(t, e, "bob", request("bob-IDE", "shell-1", code)))
		if j.State != orchestrator.Failed {
			t.Errorf("%s: bob's job %v %q %v, want Failed", code, j.State, j.Reason, j.Results)
		}
	}
	j := wait(t, e, submit(t, e, "bob", request("bob-IDE", "shell-1", "planted")))
	if j.State != orchestrator.Failed {
		t.Errorf("planted: bob's job %v %q %v, want Failed", j.State, j.Reason, j.Results)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("the entrance wrote through a planted link: %v", ents)
	}
	for _, p := range []string{aliceFile, filepath.Join(dir, "jobs.db"), secret} {
		if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s was moved: %v", p, err)
		}
	}
	filepath.Walk(filepath.Join(dir, "results", "bob"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("bob got a result file %s", p)
		}
		return nil
	})
}
