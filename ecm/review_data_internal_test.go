package ecm

// Reproducers of the data-facing security review (branch rev-data), kept
// as tests of the bounds the host-data API promises.

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/api"
)

// TestSavedLogRecordIsNotReadWhole (was a reproducer): the ECM serves an ended engine's
// task log from the segment file in the engine's log directory - a
// directory, and a file, of the engine's user, whose code can append to it.
// readSaved (engineconn/savedlogs.go) reads the matching record with
// bufio.Reader.ReadBytes and json.Unmarshal, with no bound, and
// pageLines returns the first line whatever its size: a user who appends
// one huge record makes the ECM (often root, shared by every user) hold
// several times its size per request, and answer a page far past
// api.MaxLogPageBytes.
func TestSavedLogRecordIsNotReadWhole(t *testing.T) {
	m, dir := dataECM(t)
	const huge = 48 << 20
	var rec bytes.Buffer
	rec.WriteString(`{"id":"t-1","lines":["`)
	rec.Write(bytes.Repeat([]byte("A"), huge))
	rec.WriteString("\"]}\n")
	if err := os.WriteFile(filepath.Join(dir, "ec-1", "logs", "tasks-0.jsonl"), rec.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	rec = bytes.Buffer{}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	lg, err := m.TaskLog(context.Background(), "ec-1", "t-1", 0, 10)
	runtime.ReadMemStats(&after)
	n := 0
	for _, l := range lg.Lines {
		n += len(l)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("err %v; page of %d lines, %d bytes; the ECM allocated %d MiB", err, len(lg.Lines), n, alloc>>20)
	if n > api.MaxLogPageBytes+api.MaxLogLineBytes {
		t.Errorf("a log page of %d bytes was served (bound: %d)", n, api.MaxLogPageBytes)
	}
	if alloc > 16<<20 {
		t.Errorf("reading one page made the ECM allocate %d MiB for a %d MiB record the engine's user wrote", alloc>>20, huge>>20)
	}
}

// TestResultIndexRefusesSparseFiles (was a reproducer): a result file is indexed by reading
// it whole; a row is not bounded while indexing (only when a page reads it,
// at api.MaxResultLine). The engine's user can put a sparse file of any
// apparent size (no disk, no quota used) with a header line and no newline
// after it in its results directory: every page request reads all of it
// again (the index never reaches the file's size, so it is "extended" from
// the header each time). Measured with /proc/self/io's rchar.
func TestResultIndexRefusesSparseFiles(t *testing.T) {
	m, dir := dataECM(t)
	p := filepath.Join(dir, "ec-1", "results", "t-5-1.jsonl")
	hdr := `{"type":"text","columns":[{"name":"output","type":"TEXT"}]}` + "\n"
	if err := os.WriteFile(p, []byte(hdr), 0o644); err != nil {
		t.Fatal(err)
	}
	const apparent = 1 << 30
	if err := os.Truncate(p, apparent); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		r0 := rchar(t)
		_, err := m.ResultPage("ec-1", "t-5-1.jsonl", 0, 10)
		read := rchar(t) - r0
		t.Logf("request %d: %v; the ECM read %d MiB", i+1, err, read>>20)
		if read > 64<<20 {
			t.Errorf("request %d for one page of a file with no row made the ECM read %d MiB", i+1, read>>20)
		}
	}
}

// TestEngineLogRefusesSparseFiles (was a reproducer): the same for an engine's output log
// (the management API's openEngineLog): engine.log lies in the logs
// directory of the engine's user, who can replace it; one line without an
// end is read through to its end, however long, to serve the first page.
func TestEngineLogRefusesSparseFiles(t *testing.T) {
	m, dir := dataECM(t)
	p := filepath.Join(dir, "ec-1", "logs", LogFile)
	if err := os.WriteFile(p, []byte("started"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 1<<30); err != nil {
		t.Fatal(err)
	}
	r0 := rchar(t)
	_, err := m.EngineLog("ec-1", 0, 10)
	read := rchar(t) - r0
	t.Logf("%v; the ECM read %d MiB", err, read>>20)
	if read > 64<<20 {
		t.Errorf("one page of the engine's log made the ECM read %d MiB", read>>20)
	}
}

// A dense file is the user's own disk, but a row that never ends is not
// read through on every page either: the index stops past a row's bound.
func TestResultIndexStopsAtAnEndlessRow(t *testing.T) {
	m, dir := dataECM(t)
	p := filepath.Join(dir, "ec-1", "results", "t-6-1.jsonl")
	hdr := `{"type":"text","columns":[{"name":"output","type":"TEXT"}]}` + "\n"
	if err := os.WriteFile(p, append([]byte(hdr), bytes.Repeat([]byte("x"), 3*api.MaxResultLine)...), 0o644); err != nil {
		t.Fatal(err)
	}
	r0 := rchar(t)
	_, err := m.ResultPage("ec-1", "t-6-1.jsonl", 0, 10)
	if read := rchar(t) - r0; err == nil || !strings.Contains(err.Error(), "longer than") || read > 2*int64(api.MaxResultLine) {
		t.Fatalf("%v; read %d MiB", err, read>>20)
	}
}

func rchar(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatal("no rchar in /proc/self/io")
	return 0
}
