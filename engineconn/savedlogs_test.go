package engineconn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
