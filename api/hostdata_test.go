package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/golinkis/golinkis/linkis"
)

func TestResultRefOf(t *testing.T) {
	ref, err := ResultRefOf("ecm-a", "ec-12", "/var/lib/linkis/ecm/ec-12/results/t-3-1.jsonl")
	if err != nil || ref != (ResultRef{ECM: "ecm-a", EC: "ec-12", Name: "t-3-1.jsonl"}) {
		t.Fatalf("%+v %v", ref, err)
	}
	if ref, err := ResultRefOf("ecm-a", "ec-12", "file:///d/ec-12/results/t-3-1.jsonl"); err != nil || ref.Name != "t-3-1.jsonl" {
		t.Fatalf("file:// %+v %v", ref, err)
	}
	for name, c := range map[string][3]string{
		"another engine":   {"ecm-a", "ec-12", "/d/ec-13/results/t-1-1.jsonl"},
		"not results":      {"ecm-a", "ec-12", "/d/ec-12/work/t-1-1.jsonl"},
		"the ECM's own":    {"ecm-a", "ec-12", "/d/ec-12/engine.pid"},
		"nested":           {"ecm-a", "ec-12", "/d/ec-12/results/x/t-1-1.jsonl"},
		"climbing":         {"ecm-a", "ec-12", "/d/ec-12/results/../../ec-13/results/t-1-1.jsonl"},
		"relative":         {"ecm-a", "ec-12", "ec-12/results/t-1-1.jsonl"},
		"not clean":        {"ecm-a", "ec-12", "/d/ec-12/results//t-1-1.jsonl"},
		"nul":              {"ecm-a", "ec-12", "/d/ec-12/results/t-1-1.jsonl\x00"},
		"hidden":           {"ecm-a", "ec-12", "/d/ec-12/results/.t"},
		"directory":        {"ecm-a", "ec-12", "/d/ec-12/results/"},
		"bad engine":       {"ecm-a", "ec-0", "/d/ec-0/results/t-1-1.jsonl"},
		"no ECM":           {"", "ec-12", "/d/ec-12/results/t-1-1.jsonl"},
		"non-canonical ec": {"ecm-a", "ec-012", "/d/ec-012/results/t-1-1.jsonl"},
	} {
		if ref, err := ResultRefOf(c[0], c[1], c[2]); !errors.Is(err, linkis.ErrInvalidArgument) {
			t.Errorf("%s: %+v %v, want invalid_argument", name, ref, err)
		}
	}
}

func TestValidResultName(t *testing.T) {
	for _, ok := range []string{"t-1-1.jsonl", "a", "A_b-c.d"} {
		if err := ValidResultName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", ".x", "a/b", "/a", "a\x00", "a b", "é", string(make([]byte, 256))} {
		if err := ValidResultName(bad); !errors.Is(err, linkis.ErrInvalidArgument) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// A page's rows travel as the file's own JSON; Values decodes them with
// numbers kept exact.
func TestResultPageValues(t *testing.T) {
	var p ResultPage
	if err := json.Unmarshal([]byte(`{"header":{"type":"table","columns":[{"name":"a"},{"name":"b"}]},"from":4,"rows":[[9007199254740993,"x"],[1.5,null]],"next":6,"total":6}`), &p); err != nil {
		t.Fatal(err)
	}
	vals, err := p.Values()
	if err != nil || fmt.Sprint(vals) != "[[9007199254740993 x] [1.5 <nil>]]" {
		t.Fatalf("%v %v", vals, err)
	}
	p.Rows = append(p.Rows, json.RawMessage(`[1]`))
	if _, err := p.Values(); !errors.Is(err, linkis.ErrMalformed) {
		t.Fatalf("a short row: %v", err)
	}
}
