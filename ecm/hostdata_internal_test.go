package ecm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// nopManager is a manager that accepts everything: these tests drive the
// host-data API of an ECM that never runs.
type nopManager struct{}

func (nopManager) RegisterECM(context.Context, api.RegisterECMRequest) error     { return nil }
func (nopManager) ECMHeartbeat(context.Context, api.ECMHeartbeatRequest) error   { return nil }
func (nopManager) DeregisterECM(context.Context, api.DeregisterECMRequest) error { return nil }
func (nopManager) ECEnded(context.Context, api.ECEndedRequest) error             { return nil }

const secretMark = "SECRET-DATA"

// dataECM is an ECM over a data directory holding two ended engines,
// ec-1 and ec-2, as a restarted ECM finds them (it does not run: only its
// host-data API is used). ec-2 and the ECM's own directory hold files
// marked secretMark, which no request about ec-1 may reach.
func dataECM(tb testing.TB) (*ECM, string) {
	tb.Helper()
	dir := tb.TempDir()
	for _, ec := range []string{"ec-1", "ec-2"} {
		for _, d := range []string{"work", "logs", "results"} {
			if err := os.MkdirAll(filepath.Join(dir, ec, d), 0o755); err != nil {
				tb.Fatal(err)
			}
		}
	}
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "ec-2", "results", "t-9-1.jsonl"), []byte(textFile(secretMark)), 0o644))
	must(os.WriteFile(filepath.Join(dir, "secret.jsonl"), []byte(textFile(secretMark)), 0o644))
	must(os.WriteFile(filepath.Join(dir, "ec-1", "results", "t-1-1.jsonl"), []byte(textFile("a", "b", "c")), 0o644))
	must(os.Symlink("../../ec-2/results/t-9-1.jsonl", filepath.Join(dir, "ec-1", "results", "t-2-1.jsonl")))
	must(os.Symlink(filepath.Join(dir, "secret.jsonl"), filepath.Join(dir, "ec-1", "results", "abs.jsonl")))
	must(os.Link(filepath.Join(dir, "secret.jsonl"), filepath.Join(dir, "ec-1", "results", "hard.jsonl")))
	cfg := DefaultConfig()
	cfg.ID = "ecm-data"
	cfg.Managers = []string{"http://127.0.0.1:1"}
	cfg.Token = "tok"
	cfg.DataDir = dir
	m, err := New(cfg, nopManager{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	must(err)
	m.adopt() // no pid records: both are remembered as ended, now
	return m, dir
}

func textFile(lines ...string) string {
	var b strings.Builder
	b.WriteString(`{"type":"text","columns":[{"name":"output","type":"TEXT"}]}` + "\n")
	for _, l := range lines {
		j, _ := json.Marshal([]string{l})
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// FuzzHostDataRequest: whatever path and query a request carries, the
// host-data API never answers a server error, never serves ec-2's or the
// ECM's own files for ec-1, nor follows a link.
func FuzzHostDataRequest(f *testing.F) {
	for _, s := range []string{
		"ec-1/results", "ec-1/results/t-1-1.jsonl?from=1&size=2", "ec-1/results/t-1-1.jsonl/raw",
		"ec-1/results/t-2-1.jsonl/raw", "ec-1/results/abs.jsonl", "ec-1/results/hard.jsonl/raw",
		"ec-1/results/..%2F..%2Fsecret.jsonl/raw", "ec-1/results/%2e%2e/raw", "ec-1/../ec-2/results/t-9-1.jsonl/raw",
		"ec-1/results/a%00b/raw", "ec-1/tasks/t-1/log?from=0&size=10", "ec-1/tasks/t-..%2F1/log",
		"ec-1/results/t-1-1.jsonl?from=-1", "ec-1/results/t-1-1.jsonl?size=99999999999999999999", "01/results",
		"ec-1/results/%2Fetc%2Fpasswd/raw", "ec-1%2F..%2Fec-2/results",
		"ec-1", "ec-1/log?from=0&size=10", "ec-2/log?from=5", "ec-1/log%2F..%2F..%2Fsecret", // the engine's process and log (engineproc.go)
	} {
		f.Add(s)
	}
	m, _ := dataECM(f)
	h := m.Handler()
	f.Fuzz(func(t *testing.T, p string) {
		req, err := http.NewRequest(http.MethodGet, "http://ecm"+api.PathECMEngines+"/"+p, nil)
		if err != nil {
			return
		}
		api.SetToken(req, "tok")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		body := w.Body.String()
		if w.Code >= 500 {
			t.Fatalf("%q: %d %s", p, w.Code, body)
		}
		if strings.Contains(body, secretMark) && strings.HasPrefix(req.URL.Path, api.PathECMEngines+"/ec-1/") {
			t.Fatalf("%q served another engine's or the ECM's file: %d %s", p, w.Code, body)
		}
		if strings.Contains(body, secretMark) && w.Code == http.StatusOK && !strings.HasPrefix(req.URL.Path, api.PathECMEngines+"/ec-2/") {
			t.Fatalf("%q served a secret: %s", p, body)
		}
	})
}

// The host-data API's refusals, on an ECM that does not run.
func TestHostDataRefusals(t *testing.T) {
	m, _ := dataECM(t)
	for name, c := range map[string]struct {
		ec, file string
		kind     error
	}{
		"own file":               {"ec-1", "t-1-1.jsonl", nil},
		"link to another engine": {"ec-1", "t-2-1.jsonl", linkis.ErrPermission},
		"absolute link":          {"ec-1", "abs.jsonl", linkis.ErrPermission},
		"hard link":              {"ec-1", "hard.jsonl", linkis.ErrPermission},
		"another engine's name":  {"ec-1", "t-9-1.jsonl", linkis.ErrUnknownNode},
		"climb":                  {"ec-1", "../../secret.jsonl", linkis.ErrInvalidArgument},
		"dot dot":                {"ec-1", "..", linkis.ErrInvalidArgument},
		"absolute":               {"ec-1", "/etc/passwd", linkis.ErrInvalidArgument},
		"nul":                    {"ec-1", "t-1-1.jsonl\x00", linkis.ErrInvalidArgument},
		"unknown engine":         {"ec-3", "t-1-1.jsonl", linkis.ErrUnknownNode},
		"bad engine":             {"ec-x", "t-1-1.jsonl", linkis.ErrInvalidArgument},
	} {
		_, err := m.ResultPage(c.ec, c.file, 0, 10)
		if c.kind == nil && err != nil || c.kind != nil && !errors.Is(err, c.kind) {
			t.Errorf("%s: page %v, want %v", name, err, c.kind)
		}
		f, _, err := m.OpenResult(c.ec, c.file)
		if c.kind == nil && err != nil || c.kind != nil && !errors.Is(err, c.kind) {
			t.Errorf("%s: open %v, want %v", name, err, c.kind)
		}
		if f != nil {
			f.Close()
		}
	}
	files, err := m.ResultFiles("ec-1")
	if err != nil || len(files.Files) != 1 || files.Files[0].Name != "t-1-1.jsonl" || files.Files[0].Size == 0 {
		t.Fatalf("listing: %+v %v", files, err)
	}
}

// A result file is indexed once, extended as its task appends rows (a
// partial last line is not a row yet), and indexed again when replaced
// or shrunk; every page matches the file read whole.
func TestResultIndexFollowsTheFile(t *testing.T) {
	m, dir := dataECM(t)
	path := filepath.Join(dir, "ec-1", "results", "t-5-1.jsonl")
	rng := rand.New(rand.NewPCG(1, 2))
	var want []string
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(`{"type":"table","columns":[{"name":"n","type":"INTEGER"},{"name":"s","type":"TEXT"}]}` + "\n")
	add := func(n int) {
		var b bytes.Buffer
		for range n {
			row := fmt.Sprintf(`[%d,%q]`, len(want), strings.Repeat("x", rng.IntN(3000)))
			want = append(want, row)
			b.WriteString(row + "\n")
		}
		f.Write(b.Bytes())
	}
	check := func(stage string) {
		t.Helper()
		for range 40 {
			from, size := rng.IntN(len(want)+5), 1+rng.IntN(300)
			p, err := m.ResultPage("ec-1", "t-5-1.jsonl", from, size)
			if err != nil {
				t.Fatalf("%s: page %d+%d: %v", stage, from, size, err)
			}
			end := min(from+size, len(want))
			if from > len(want) {
				end = len(want)
			}
			if p.Total != len(want) || p.Next != end || len(p.Rows) != max(end-from, 0) {
				t.Fatalf("%s: page %d+%d: next %d total %d rows %d, want next %d total %d", stage, from, size, p.Next, p.Total, len(p.Rows), end, len(want))
			}
			for i, r := range p.Rows {
				if string(r) != want[from+i] {
					t.Fatalf("%s: row %d is %.40s, want %.40s", stage, from+i, r, want[from+i])
				}
			}
		}
	}
	add(500)
	check("first")
	add(700)
	f.WriteString(`[1200,"half a ro`) // the task is writing
	check("grown, with a partial row")
	f.WriteString(`w"]` + "\n")
	want = append(want, `[1200,"half a row"]`)
	check("the row completed")
	// Replaced by another file (another inode), shorter.
	want = want[:0]
	os.Remove(path)
	f.Close()
	f, _ = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	f.WriteString(`{"type":"table","columns":[{"name":"n","type":"INTEGER"},{"name":"s","type":"TEXT"}]}` + "\n")
	add(50)
	check("replaced")
	// Shrunk in place.
	f.Truncate(0)
	f.Seek(0, io.SeekStart)
	want = want[:0]
	f.WriteString(`{"type":"table","columns":[{"name":"n","type":"INTEGER"},{"name":"s","type":"TEXT"}]}` + "\n")
	add(10)
	check("truncated")
}

// A page stops after the row that reaches MaxResultPageBytes; a row of
// the wrong width, a header too long and a file with no header are
// malformed.
func TestResultPageBoundsAndMalformedFiles(t *testing.T) {
	m, dir := dataECM(t)
	res := filepath.Join(dir, "ec-1", "results")
	big := strings.Repeat("y", 1<<20)
	var lines []string
	for range 20 {
		lines = append(lines, big)
	}
	os.WriteFile(filepath.Join(res, "big.jsonl"), []byte(textFile(lines...)), 0o644)
	p, err := m.ResultPage("ec-1", "big.jsonl", 0, 100)
	want := (api.MaxResultPageBytes + 1<<20 + 3) / (1<<20 + 4) // rows of 1 MiB + `[""]`
	if err != nil || len(p.Rows) != want || p.Next != want || p.Total != 20 {
		t.Fatalf("a page of 1 MiB rows: %d rows, next %d, total %d: %v; want %d rows", len(p.Rows), p.Next, p.Total, err, want)
	}
	for name, c := range map[string]struct{ body, want string }{
		"wide.jsonl":     {textFile("a") + `["b","c"]` + "\n", "row 2"},
		"header.jsonl":   {`{"type":"text","columns":[{"name":"` + strings.Repeat("h", api.MaxResultHeader) + `"}]}` + "\n", "header"},
		"empty.jsonl":    {"", "header"},
		"badtype.jsonl":  {`{"type":"graph","columns":[{"name":"a"}]}` + "\n[1]\n", "resultSet.type"},
		"notarray.jsonl": {textFile() + `{"a":1}` + "\n", "row 1"},
	} {
		os.WriteFile(filepath.Join(res, name), []byte(c.body), 0o644)
		_, err := m.ResultPage("ec-1", name, 0, 10)
		if !errors.Is(err, linkis.ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want malformed naming %q", name, err, c.want)
		}
	}
}

// The retention counts from the engine's end: past it, every host-data
// call says the engine is gone, whether or not the directory was removed.
func TestHostDataGoneAfterRetention(t *testing.T) {
	m, _ := dataECM(t)
	m.mu.Lock()
	m.engines["ec-1"].endedAt = time.Now().Add(-m.cfg.Retention - time.Second)
	m.engines["ec-2"].endedAt = time.Now().Add(-m.cfg.Retention + time.Hour)
	m.mu.Unlock()
	_, err := m.ResultFiles("ec-1")
	var le *linkis.Error
	if !errors.Is(err, linkis.ErrUnknownNode) || !errors.As(err, &le) || le.Field != "ec" || !strings.Contains(err.Error(), "retention of 168h0m0s") {
		t.Fatalf("past the retention: %v", err)
	}
	if _, err := m.ResultFiles("ec-2"); err != nil {
		t.Fatalf("within the retention: %v", err)
	}
	m.cleanOld(time.Now(), false)
	if _, err := os.Stat(filepath.Join(m.cfg.DataDir, "ec-1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ec-1's directory after the cleaner: %v", err)
	}
	if _, err := m.TaskLog(context.Background(), "ec-1", "t-1", 0, 10); !errors.Is(err, linkis.ErrUnknownNode) || !strings.Contains(err.Error(), "gone") {
		t.Fatalf("after removal: %v", err)
	}
}

// BenchmarkResultPage reads a page of 100 rows at row 90,000 of a
// 100,000-row result file (two columns, ~170 bytes a row, as
// TestECMResultPagesOfALargeFileInBoundedMemory's SQL makes): through the
// ECM's index (warm), building the index (cold), and, as the anchor,
// streaming the file from its start (skip 90,000 lines, decode 100 rows,
// count the rest for the total, as restapi's openFile reader does).
func BenchmarkResultPage(b *testing.B) {
	m, dir := dataECM(b)
	path := filepath.Join(dir, "ec-1", "results", "t-7-1.jsonl")
	var buf bytes.Buffer
	buf.WriteString(`{"type":"table","columns":[{"name":"x","type":"INTEGER"},{"name":"pad","type":"TEXT"}]}` + "\n")
	pad := strings.Repeat("p", 150)
	for i := 1; i <= 100_000; i++ {
		fmt.Fprintf(&buf, "[%d,\"row-%d-%s\"]\n", i, i, pad)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	check := func(p api.ResultPage, err error) {
		if err != nil || len(p.Rows) != 100 || p.Total != 100_000 || !bytes.HasPrefix(p.Rows[0], []byte("[90001,")) {
			b.Fatalf("%d rows of %d: %v", len(p.Rows), p.Total, err)
		}
	}
	b.Run("indexed", func(b *testing.B) {
		check(m.ResultPage("ec-1", "t-7-1.jsonl", 90_000, 100))
		b.ReportAllocs()
		for b.Loop() {
			check(m.ResultPage("ec-1", "t-7-1.jsonl", 90_000, 100))
		}
	})
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.data.idx = indexes{}
			check(m.ResultPage("ec-1", "t-7-1.jsonl", 90_000, 100))
		}
	})
	b.Run("stream-skip", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			check(streamPage(path, 90_000, 100))
		}
	})
}

// streamPage is the anchor: a page read by streaming the file from its
// start, with no index.
func streamPage(path string, from, size int) (api.ResultPage, error) {
	f, err := os.Open(path)
	if err != nil {
		return api.ResultPage{}, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	line, err := rowLine(br)
	if err != nil {
		return api.ResultPage{}, err
	}
	hdr, err := api.DecodeResultHeader(line)
	if err != nil {
		return api.ResultPage{}, err
	}
	p := api.ResultPage{Header: hdr, From: from}
	for n := 0; ; n++ {
		if n < from || n >= from+size {
			if err := skipLine(br); err == io.EOF {
				p.Total = n
				return p, nil
			}
			continue
		}
		line, err := rowLine(br)
		if err == io.EOF {
			p.Total = n
			return p, nil
		}
		if _, err := api.DecodeResultRow(line, len(hdr.Columns)); err != nil {
			return p, err
		}
		p.Rows = append(p.Rows, line)
		p.Next = n + 1
	}
}
