package engineconn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

func TestSavedLogsShareSegmentFiles(t *testing.T) {
	dir := t.TempDir()
	s := &logSegments{dir: dir}
	for i := 1; i <= 2500; i++ {
		lines := []string{fmt.Sprintf("line of %d", i)}
		if i%7 == 0 {
			lines = nil // an empty log is saved too
		}
		if err := s.save(fmt.Sprintf("t-%d", i), lines); err != nil {
			t.Fatal(err)
		}
	}
	s.close()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 3 {
		t.Errorf("2,500 saved logs in %d files %v, want 3 segments", len(files), files)
	}
	for _, i := range []int{1, 7, 999, 1000, 1001, 2500} {
		lines, ok := ReadSavedLog(dir, fmt.Sprintf("t-%d", i))
		want := fmt.Sprintf("line of %d", i)
		if i%7 == 0 {
			want = ""
		}
		if !ok || strings.Join(lines, "") != want || lines == nil {
			t.Errorf("t-%d: %q %v, want %q", i, lines, ok, want)
		}
	}
	for _, id := range []string{"t-2501", "t-0", "t-../x", "t-", "x-1", "t-1x", "t-99999999999999999999"} {
		if _, ok := ReadSavedLog(dir, id); ok {
			t.Errorf("%q found", id)
		}
	}
	// A torn last record (a crash mid-write) hides only itself.
	f, _ := os.OpenFile(segmentPath(dir, 2), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"id":"t-2501","lines":["to`)
	f.Close()
	if _, ok := ReadSavedLog(dir, "t-2501"); ok {
		t.Error("a torn record was read")
	}
	if lines, ok := ReadSavedLog(dir, "t-2498"); !ok || len(lines) != 1 || lines[0] != "line of 2498" {
		t.Errorf("t-2498 after a torn record: %q %v", lines, ok)
	}
}

// Whoever reads saved logs for someone else (the ECM, maybe as root)
// reads only a regular file of the log directory: a symbolic link, a
// hard link or a FIFO planted by the engine's user in place of a segment
// is refused, without blocking.
func TestSavedLogPageRefusesPlantedFiles(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte(`{"id":"t-1","lines":["secret"]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, plant := range map[string]func(seg string) error{
		"symlink out":    func(seg string) error { return os.Symlink(secret, seg) },
		"symlink inside": func(seg string) error { return os.Symlink("other", seg) },
		"hard link":      func(seg string) error { return os.Link(secret, seg) },
		"fifo":           func(seg string) error { return syscall.Mkfifo(seg, 0o600) },
		"directory":      func(seg string) error { return os.Mkdir(seg, 0o700) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "other"), []byte(`{"id":"t-1","lines":["other"]}`+"\n"), 0o600)
			if err := plant(segmentPath(dir, 0)); err != nil {
				t.Fatal(err)
			}
			lg, ok, err := SavedLogPage(dir, "t-1", 0, 10)
			if ok || !errors.Is(err, linkis.ErrPermission) {
				t.Fatalf("%+v %v %v, want refused", lg, ok, err)
			}
		})
	}
	dir := t.TempDir()
	s := &logSegments{dir: dir}
	lines := []string{"a", "b", "c", "[log truncated: the task wrote more than the log cap of 10 bytes; the rest is dropped]"}
	if err := s.save("t-3", lines); err != nil {
		t.Fatal(err)
	}
	s.close()
	p, ok, err := SavedLogPage(dir, "t-3", 1, 2)
	if !ok || err != nil || strings.Join(p.Lines, ",") != "b,c" || p.Next != 3 || p.Complete || !p.Truncated {
		t.Fatalf("page 1+2: %+v %v %v", p, ok, err)
	}
	p, ok, err = SavedLogPage(dir, "t-3", 3, 10)
	if !ok || err != nil || len(p.Lines) != 1 || p.Next != 4 || !p.Complete {
		t.Fatalf("last page: %+v %v %v", p, ok, err)
	}
	if _, ok, err := SavedLogPage(filepath.Join(dir, "missing"), "t-3", 0, 1); ok || err != nil {
		t.Fatalf("a missing directory: %v %v", ok, err)
	}
}

// A page of long lines stops at api.MaxLogPageBytes, saved or live.
func TestLogPagesStopAtTheByteBound(t *testing.T) {
	long := strings.Repeat("x", 64<<10)
	var lines []string
	l := &taskLog{}
	for range 100 {
		lines = append(lines, long)
		l.add(long)
	}
	dir := t.TempDir()
	s := &logSegments{dir: dir}
	if err := s.save("t-1", lines); err != nil {
		t.Fatal(err)
	}
	s.close()
	want := api.MaxLogPageBytes/(len(long)+1) + 1
	p, ok, err := SavedLogPage(dir, "t-1", 10, 100)
	if !ok || err != nil || len(p.Lines) != want || p.Next != 10+want || p.Complete {
		t.Fatalf("saved: %d lines, next %d, complete %v (%v %v); want %d lines", len(p.Lines), p.Next, p.Complete, ok, err, want)
	}
	page, next, _ := l.page(10, 100)
	if len(page) != want || next != 10+want {
		t.Fatalf("live: %d lines, next %d; want %d", len(page), next, want)
	}
	if page, next, _ := l.page(99, 100); len(page) != 1 || next != 100 {
		t.Fatalf("last line: %d lines, next %d", len(page), next)
	}
}

// A saved record is read as a stream: pages of lines with every kind of
// JSON escape match the lines saved, for every start and size; a record
// of no lines (null or []) is an empty, complete log; a torn one is not
// saved; a line longer than an engine writes is an error, read without
// holding it (the engine's user can write to the segment, and the reader
// may be the ECM - found by the data review).
func TestSavedRecordIsReadAsAStream(t *testing.T) {
	dir := t.TempDir()
	s := &logSegments{dir: dir}
	lines := []string{`a "quoted" line`, `back\slash\\`, "\\\"", "tab\tnl\x01<&>", "é\u2028", "", `"`, `\`, strings.Repeat(`\"`, 5000),
		"[log truncated: the task wrote more than the log cap of 10 bytes; the rest is dropped]"}
	if err := s.save("t-1", lines); err != nil {
		t.Fatal(err)
	}
	if err := s.save("t-2", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.save("t-3", []string{}); err != nil {
		t.Fatal(err)
	}
	s.close()
	for from := 0; from <= len(lines)+1; from++ {
		for size := 0; size <= len(lines)+1; size++ {
			p, ok, err := SavedLogPage(dir, "t-1", from, size)
			start := min(from, len(lines))
			end := min(start+size, len(lines))
			if !ok || err != nil || !slices.Equal(p.Lines, lines[start:end]) || p.Next != end || p.Complete != (end == len(lines)) || !p.Truncated {
				t.Fatalf("from %d size %d: %+v %v %v", from, size, p, ok, err)
			}
		}
	}
	for _, id := range []string{"t-2", "t-3"} {
		if p, ok, err := SavedLogPage(dir, id, 0, 10); !ok || err != nil || len(p.Lines) != 0 || p.Next != 0 || !p.Complete || p.Truncated {
			t.Fatalf("%s: %+v %v %v", id, p, ok, err)
		}
	}
	f, err := os.OpenFile(segmentPath(dir, 0), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"t-4","lines":["whole","torn`)
	f.Close()
	if p, ok, err := SavedLogPage(dir, "t-4", 0, 10); ok || err != nil {
		t.Fatalf("a torn record: %+v %v %v", p, ok, err)
	}
	huge := `{"id":"t-5","lines":["` + strings.Repeat("A", 8<<20) + `"]}` + "\n"
	os.WriteFile(segmentPath(dir, 0), []byte(huge), 0o640)
	for _, from := range []int{0, 1} {
		if p, ok, err := SavedLogPage(dir, "t-5", from, 10); ok || !errors.Is(err, linkis.ErrMalformed) {
			t.Fatalf("an 8 MiB line from %d: %d lines, %v %v", from, len(p.Lines), ok, err)
		}
	}
	os.WriteFile(segmentPath(dir, 0), []byte(`{"id":"t-6","lines":["a",7]}`+"\n"), 0o640)
	if _, ok, err := SavedLogPage(dir, "t-6", 0, 10); ok || !errors.Is(err, linkis.ErrMalformed) {
		t.Fatalf("a record no engine writes: %v %v", ok, err)
	}
}

// A sparse file - any apparent size, no disk - is refused unread: no
// engine writes one (found by the data review: the ECM read through a
// 1 GiB hole on every page request).
func TestOpenUserFileRefusesSparseFiles(t *testing.T) {
	dir := t.TempDir()
	for name, size := range map[string]int64{"sparse": 1 << 30, "dense": 0, "empty": -1} {
		p := filepath.Join(dir, name)
		data := []byte("data\n")
		if size < 0 {
			data = nil
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if size > 0 {
			if err := os.Truncate(p, size); err != nil {
				t.Fatal(err)
			}
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, _, err := OpenUserFile(root, "sparse"); !errors.Is(err, linkis.ErrPermission) || !strings.Contains(err.Error(), "sparse") {
		t.Fatalf("a sparse file: %v", err)
	}
	for _, name := range []string{"dense", "empty"} {
		f, _, err := OpenUserFile(root, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b := make([]byte, 10)
		n, _ := f.Read(b)
		f.Close()
		if name == "dense" && string(b[:n]) != "data\n" {
			t.Fatalf("read %q from the start", b[:n])
		}
	}
}
