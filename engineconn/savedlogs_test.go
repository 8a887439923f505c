package engineconn

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
