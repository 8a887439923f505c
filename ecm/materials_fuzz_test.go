package ecm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/manager"
)

// FuzzMaterials: a material name the ECM accepts always lands inside the
// work directory, and writing it never creates anything outside.
func FuzzMaterials(f *testing.F) {
	for _, s := range []string{"a", "conf/app.conf", "../x", "/etc/passwd", "a/../../b", "a/./b", "./a", "a//b", "..", ".", "a\\..\\b", "a\x00b", "dir/"} {
		f.Add(s, uint32(0o644))
	}
	f.Fuzz(func(t *testing.T, name string, mode uint32) {
		ms := []manager.Material{{Name: name, Data: []byte("x"), Mode: mode}}
		if err := checkMaterials(ms); err != nil {
			return
		}
		root := t.TempDir()
		work := filepath.Join(root, "work")
		if err := os.Mkdir(work, 0o755); err != nil {
			t.Fatal(err)
		}
		if p := filepath.Join(work, name); !strings.HasPrefix(p, work+string(filepath.Separator)) {
			t.Fatalf("accepted %q leads to %s, outside %s", name, p, work)
		}
		_ = writeMaterials(work, ms) // may fail (e.g. a name that is a directory path); must not escape
		ents, _ := os.ReadDir(root)
		if len(ents) != 1 || ents[0].Name() != "work" {
			t.Fatalf("writing %q created %v beside the work directory", name, ents)
		}
		if mode&^0o777 != 0 {
			t.Fatalf("accepted mode %o", mode)
		}
	})
}
