package ecm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/linkis"
)

// hostCluster is a cluster whose ECM data directory the test knows.
func hostCluster(t *testing.T, edit func(*ecm.Config)) (*cluster, string) {
	var dir string
	c := newCluster(t, clusterOpts{ecm: func(cfg *ecm.Config) {
		if edit != nil {
			edit(cfg)
		}
		dir = cfg.DataDir
	}})
	return c, dir
}

// A shell task's log comes from the ECM while the task runs (the engine
// answers: nothing is on disk yet) and after the engine exited (from what
// it saved); its result files are listed and paged there too. The caller
// asks the ECM the same way in both cases.
func TestECMServesTaskLogWhileRunningAndAfterExit(t *testing.T) {
	c, dataDir := hostCluster(t, nil)
	g := c.mustAsk(labels("shell-5"), nil)
	code, release := gate(t)
	ctx := context.Background()
	eng := api.NewEngineClient(g.Addr, clusterToken, nil)
	sub, err := eng.Submit(ctx, api.TaskRequest{AskID: g.AskID, Token: g.Token, Code: "for i in $(seq 1 50); do echo line-$i; done\n" + code + "\necho after"})
	if err != nil {
		t.Fatal(err)
	}
	cli := api.NewECMClient(clusterToken, nil)
	addr := c.ecm.Addr()
	// (The shell engine holds back the last bytes of output that could
	// start its end mark: the last few lines come with the end.)
	var lg api.TaskLog
	deadline := time.Now().Add(30 * time.Second)
	for len(lg.Lines) < 40 {
		if time.Now().After(deadline) {
			t.Fatalf("the ECM never served the running task's first 40 lines: %+v %v", lg, err)
		}
		time.Sleep(10 * time.Millisecond)
		lg, err = cli.TaskLog(ctx, addr, g.EC, sub.ID, 0, 1000)
	}
	if err != nil || lg.Complete || lg.Lines[0] != "line-1" || lg.Lines[39] != "line-40" {
		t.Fatalf("log while running: %+v %v", lg, err)
	}
	logs := filepath.Join(dataDir, g.EC, "logs")
	if _, ok := engineconn.ReadSavedLog(logs, sub.ID); ok {
		t.Fatal("the log was on disk while the task ran: the engine did not answer")
	}
	release()
	if st, err := eng.Wait(ctx, sub.ID); err != nil || st.State != api.TaskSuccess || len(st.Results) != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	// The engine goes: what it saved serves from now on.
	if _, err := c.client.Release(ctx, g.AskID); err != nil {
		t.Fatal(err)
	}
	if r, err := c.ecm.Kill(ctx, api.KillRequest{EC: g.EC}); err != nil || r.State != api.ECExited {
		t.Fatalf("kill: %+v %v", r, err)
	}
	if _, ok := engineconn.ReadSavedLog(logs, sub.ID); !ok {
		t.Fatal("the engine exited without saving the task's log")
	}
	lg, err = cli.TaskLog(ctx, addr, g.EC, sub.ID, 0, 1000)
	if err != nil || !lg.Complete || len(lg.Lines) != 51 || lg.Lines[50] != "after" || lg.Next != 51 {
		t.Fatalf("log after the engine exited: %+v %v", lg, err)
	}
	lg, err = cli.TaskLog(ctx, addr, g.EC, sub.ID, 10, 5)
	if err != nil || strings.Join(lg.Lines, ",") != "line-11,line-12,line-13,line-14,line-15" || lg.Next != 15 || lg.Complete {
		t.Fatalf("page 10+5: %+v %v", lg, err)
	}
	// Its result file, listed and paged, with the same name the engine's
	// reported path gives.
	files, err := cli.ResultFiles(ctx, addr, g.EC)
	if err != nil || len(files.Files) != 1 {
		t.Fatalf("result files: %+v %v", files, err)
	}
	page, err := cli.ResultPage(ctx, addr, g.EC, files.Files[0].Name, 49, 10)
	if err != nil || page.Total != 51 || page.Next != 51 || len(page.Rows) != 2 || page.Header.Type != "text" {
		t.Fatalf("result page: %+v %v", page, err)
	}
	if vals, err := page.Values(); err != nil || fmt.Sprint(vals) != "[[line-50] [after]]" {
		t.Fatalf("rows %v %v", vals, err)
	}
	// What is not there says so.
	for _, c := range []struct {
		ec, task string
		kind     error
		field    string
	}{
		{g.EC, "t-99", linkis.ErrUnknownNode, "task"},
		{"ec-999", sub.ID, linkis.ErrUnknownNode, "ec"},
		{g.EC, "x-1", linkis.ErrInvalidArgument, "task"},
		{"ec-0", sub.ID, linkis.ErrInvalidArgument, "ec"},
	} {
		_, err := cli.TaskLog(ctx, addr, c.ec, c.task, 0, 10)
		var le *linkis.Error
		if !errors.Is(err, c.kind) || !errors.As(err, &le) || le.Field != c.field {
			t.Errorf("log of %s %s: %v, want %v on %s", c.ec, c.task, err, c.kind, c.field)
		}
	}
	if _, err := cli.ResultPage(ctx, addr, g.EC, "t-99-1.jsonl", 0, 10); !errors.Is(err, linkis.ErrUnknownNode) {
		t.Errorf("a result file that is not there: %v", err)
	}
	if _, err := api.NewECMClient("wrong", nil).TaskLog(ctx, addr, g.EC, sub.ID, 0, 10); !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("a wrong cluster token: %v", err)
	}
}

// The engine reports absolute paths under its results directory; a
// member turns one into (ECM, engine, name) and fetches the file from the
// ECM, whole (export) or by pages.
func TestResultRefOfAnEngineReportedPath(t *testing.T) {
	c, _ := hostCluster(t, nil)
	g := c.mustAsk(labels("sql-3"), nil)
	st := run(t, g, "SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, 'y'")
	if st.State != api.TaskSuccess || len(st.Results) != 1 {
		t.Fatalf("%+v", st)
	}
	ref, err := api.ResultRefOf("ecm-test", g.EC, st.Results[0])
	if err != nil || ref.EC != g.EC || ref.Name != filepath.Base(st.Results[0]) {
		t.Fatalf("ref of %s: %+v %v", st.Results[0], ref, err)
	}
	cli := api.NewECMClient(clusterToken, nil)
	body, size, err := cli.OpenResult(context.Background(), c.ecm.Addr(), ref.EC, ref.Name)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(body)
	body.Close()
	want, _ := os.ReadFile(st.Results[0])
	if err != nil || !bytes.Equal(got, want) || size != int64(len(want)) {
		t.Fatalf("export: %d bytes (size %d) %v, want the file's %d bytes", len(got), size, err, len(want))
	}
	// Another engine's path is not this engine's result.
	other := strings.Replace(st.Results[0], "/"+g.EC+"/", "/ec-999/", 1)
	if _, err := api.ResultRefOf("ecm-test", g.EC, other); !errors.Is(err, linkis.ErrInvalidArgument) {
		t.Fatalf("another engine's path: %v", err)
	}
}

// A 100,000-row result file is paged through its index: any page costs
// about its own size, not the file's.
func TestECMResultPagesOfALargeFileInBoundedMemory(t *testing.T) {
	c, _ := hostCluster(t, nil)
	g := c.mustAsk(labels("sql-3"), nil)
	pad := strings.Repeat("p", 150)
	st := run(t, g, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 100000) SELECT x, 'row-' || x || '-"+pad+"' AS pad FROM c")
	if st.State != api.TaskSuccess || len(st.Results) != 1 {
		t.Fatalf("%+v", st)
	}
	name := filepath.Base(st.Results[0])
	fi, err := os.Stat(st.Results[0])
	if err != nil {
		t.Fatal(err)
	}
	alloc := func(f func()) uint64 {
		var a, b runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&a)
		f()
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	var page api.ResultPage
	cold := alloc(func() { page, err = c.ecm.ResultPage(g.EC, name, 90_000, 100) })
	if err != nil || page.Total != 100_000 || page.Next != 90_100 || len(page.Rows) != 100 {
		t.Fatalf("page at 90,000: from %d next %d total %d rows %d: %v", page.From, page.Next, page.Total, len(page.Rows), err)
	}
	vals, err := page.Values()
	if err != nil || fmt.Sprint(vals[0][0]) != "90001" || vals[99][1] != "row-90100-"+pad || page.Header.Columns[0].Name != "x" {
		t.Fatalf("rows %v... %v", vals[0], err)
	}
	warm := alloc(func() { page, err = c.ecm.ResultPage(g.EC, name, 99_950, 100) })
	if err != nil || len(page.Rows) != 50 || page.Next != 100_000 {
		t.Fatalf("last page: %d rows next %d: %v", len(page.Rows), page.Next, err)
	}
	// The file is ~17 MB. Reading it into memory would cost that much;
	// the index's pass streams it through fixed buffers, and a page then
	// reads less than a mark's distance beyond its rows.
	t.Logf("file %d bytes; first page (indexing) allocated %d bytes, a warm page %d", fi.Size(), cold, warm)
	if cold > uint64(fi.Size())/4 || warm > uint64(fi.Size())/16 {
		t.Fatalf("a page of a %d-byte file allocated %d bytes (first) and %d (warm): not bounded", fi.Size(), cold, warm)
	}
	// The listing knows the rows now that the file is indexed.
	files, err := c.ecm.ResultFiles(g.EC)
	if err != nil || len(files.Files) != 1 || files.Files[0].Rows == nil || *files.Files[0].Rows != 100_000 {
		t.Fatalf("listing %+v %v", files, err)
	}
	// The largest page, and past the end an empty one.
	page, err = c.ecm.ResultPage(g.EC, name, 0, api.MaxResultPageRows)
	if err != nil || page.Next != api.MaxResultPageRows || len(page.Rows) != api.MaxResultPageRows {
		t.Fatalf("a page of %d rows of ~170 bytes: next %d: %v", api.MaxResultPageRows, page.Next, err)
	}
	page, err = c.ecm.ResultPage(g.EC, name, 200_000, 10)
	if err != nil || len(page.Rows) != 0 || page.Next != 100_000 {
		t.Fatalf("past the end: %+v %v", page.Next, err)
	}
	for _, bad := range [][2]int{{-1, 10}, {0, 0}, {0, api.MaxResultPageRows + 1}} {
		if _, err := c.ecm.ResultPage(g.EC, name, bad[0], bad[1]); !errors.Is(err, linkis.ErrInvalidArgument) {
			t.Errorf("from %d size %d: %v", bad[0], bad[1], err)
		}
	}
}

// get sends a raw GET to the ECM (paths a client would never build).
func get(t *testing.T, addr, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	api.SetToken(req, clusterToken)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// The engine's user controls its results directory: links, FIFOs and
// directories planted there, names that climb out, absolute paths, NULs
// and another engine's files are all refused, and nothing but the
// engine's own regular result files is ever read.
func TestECMResultConfinement(t *testing.T) {
	c, dataDir := hostCluster(t, nil)
	secret := "SECRET-" + fmt.Sprint(time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(dataDir, "ecm-secret.jsonl"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Another engine, with a result file of its own (t-3-1.jsonl: the
	// first two tasks write none, and the engine under attack has only
	// t-1-1.jsonl).
	other := c.mustAsk(labels("shell-6"), nil)
	for _, code := range []string{"true", "true", "echo " + secret} {
		if st := run(t, other, code); st.State != api.TaskSuccess {
			t.Fatalf("%+v", st)
		}
	}
	otherFile := readDirNames(t, filepath.Join(dataDir, other.EC, "results"))[0]
	if otherFile != "t-3-1.jsonl" {
		t.Fatalf("the other engine's result is %s", otherFile)
	}
	// The user's code plants its traps.
	g := c.mustAsk(labels("shell-5"), nil)
	plant := strings.Join([]string{
		"cd $LINKIS_RESULT_DIR",
		"echo ok",
		"ln -s /etc/passwd abs.jsonl",
		"ln -s ../../ecm-secret.jsonl up.jsonl",
		"ln -s ../../" + other.EC + "/results/" + otherFile + " other.jsonl",
		"ln -s " + filepath.Join(dataDir, other.EC, "results") + " dir.jsonl",
		"mkfifo fifo.jsonl",
		"mkdir sub.jsonl",
	}, "\n")
	if st := run(t, g, plant); st.State != api.TaskSuccess {
		t.Fatalf("planting: %+v", st)
	}
	own := readDirNames(t, filepath.Join(dataDir, g.EC, "results"))
	t.Logf("results of %s: %v", g.EC, own)
	addr := c.ecm.Addr()
	base := api.PathECMEngines + "/" + g.EC + "/results/"
	for _, p := range []string{
		"abs.jsonl", "up.jsonl", "other.jsonl", "dir.jsonl", "fifo.jsonl", "sub.jsonl",
		"..", "%2e%2e", "..%2Fecm-secret.jsonl", "%2E%2E%2F%2E%2E%2Fecm-secret.jsonl",
		"%2Fetc%2Fpasswd", "a%00b.jsonl", otherFile, ".hidden", "%20",
	} {
		for _, suffix := range []string{"", "/raw", "?from=0&size=10"} {
			code, body := get(t, addr, base+p+suffix)
			if code == http.StatusOK || bytes.Contains(body, []byte(secret)) || bytes.Contains(body, []byte("root:")) {
				t.Errorf("GET %s%s: %d %.200s", p, suffix, code, body)
			}
		}
	}
	// The mux cleans "..": a climb out of the engine's path is at most
	// redirected to what the cleaned URL names, never served.
	for _, p := range []string{
		api.PathECMEngines + "/" + g.EC + "/../" + other.EC + "/results/" + otherFile,
		api.PathECMEngines + "/" + g.EC + "/results/../../" + other.EC + "/results/" + otherFile + "/raw",
		api.PathECMEngines + "/..%2F" + other.EC + "/results",
		api.PathECMEngines + "/%2Ftmp/results",
	} {
		code, body := get(t, addr, p)
		if code == http.StatusOK || bytes.Contains(body, []byte(secret)) {
			t.Errorf("GET %s: %d %.200s", p, code, body)
		}
	}
	// The listing shows only plain result files.
	files, err := c.ecm.ResultFiles(g.EC)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files.Files {
		if !strings.HasPrefix(f.Name, "t-") {
			t.Errorf("listed %q", f.Name)
		}
	}
	// A well-formed name of the engine's own file works.
	if _, err := c.ecm.ResultPage(g.EC, files.Files[0].Name, 0, 10); err != nil {
		t.Fatalf("own file %s: %v", files.Files[0].Name, err)
	}
}

func readDirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("%s: %v %v", dir, ents, err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// An engine's logs and results live for the ECM's retention after it
// ended: served until then, gone (and said so) from then on, and the
// directory removed.
func TestECMRetentionRemovesLogsAndResults(t *testing.T) {
	const retention = 3 * time.Second
	c, dataDir := hostCluster(t, func(cfg *ecm.Config) {
		cfg.Retention = retention
		cfg.CleanInterval = 200 * time.Millisecond
	})
	g := c.mustAsk(labels("shell-5"), nil)
	st := run(t, g, "echo kept")
	if st.State != api.TaskSuccess {
		t.Fatalf("%+v", st)
	}
	ctx := context.Background()
	if _, err := c.client.Release(ctx, g.AskID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ecm.Kill(ctx, api.KillRequest{EC: g.EC}); err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	name := filepath.Base(st.Results[0])
	lg, err := c.ecm.TaskLog(ctx, g.EC, st.ID, 0, 10)
	if time.Since(ended) < retention && (err != nil || strings.Join(lg.Lines, "") != "kept") {
		t.Fatalf("log within the retention: %+v %v", lg, err)
	}
	if _, err := c.ecm.ResultPage(g.EC, name, 0, 10); time.Since(ended) < retention && err != nil {
		t.Fatalf("results within the retention: %v", err)
	}
	dir := filepath.Join(dataDir, g.EC)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still there %v after the engine ended", dir, time.Since(ended))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if time.Since(ended) < retention {
		t.Fatalf("%s was removed %v after the engine ended, before the retention of %v", dir, time.Since(ended), retention)
	}
	cli := api.NewECMClient(clusterToken, nil)
	for what, call := range map[string]func() error{
		"log":     func() error { _, err := cli.TaskLog(ctx, c.ecm.Addr(), g.EC, st.ID, 0, 10); return err },
		"listing": func() error { _, err := cli.ResultFiles(ctx, c.ecm.Addr(), g.EC); return err },
		"page":    func() error { _, err := cli.ResultPage(ctx, c.ecm.Addr(), g.EC, name, 0, 10); return err },
		"export": func() error {
			_, _, err := cli.OpenResult(ctx, c.ecm.Addr(), g.EC, name)
			return err
		},
	} {
		err := call()
		var le *linkis.Error
		if !errors.Is(err, linkis.ErrUnknownNode) || !errors.As(err, &le) || le.Field != "ec" || !strings.Contains(err.Error(), "gone") {
			t.Errorf("%s after the retention: %v, want unknown_node on ec saying it is gone", what, err)
		}
	}
}

// Past the retention an engine's data is gone for the API at once, even
// before the cleaner's next pass removes the directory.
func TestECMRetentionIsExactForTheAPI(t *testing.T) {
	const retention = 2 * time.Second
	c, dataDir := hostCluster(t, func(cfg *ecm.Config) {
		cfg.Retention = retention
		cfg.CleanInterval = time.Hour
	})
	g := c.mustAsk(labels("shell-5"), nil)
	st := run(t, g, "echo kept")
	ctx := context.Background()
	c.client.Release(ctx, g.AskID)
	if _, err := c.ecm.Kill(ctx, api.KillRequest{EC: g.EC}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(retention)
	if _, err := c.ecm.TaskLog(ctx, g.EC, st.ID, 0, 10); !errors.Is(err, linkis.ErrUnknownNode) {
		t.Fatalf("log past the retention: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, g.EC, "logs")); err != nil {
		t.Fatalf("the directory is gone already (%v): this test checks the API alone", err)
	}
}
