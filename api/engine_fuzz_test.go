package api

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzReadResultSet: any bytes decode to a result set whose rows all have
// the header's width, or to an error; never a panic.
func FuzzReadResultSet(f *testing.F) {
	f.Add([]byte(`{"type":"table","columns":[{"name":"a","type":"INTEGER"},{"name":"b","type":"TEXT"}]}` + "\n[1,\"x\"]\n[2,null]\n"))
	f.Add([]byte(`{"type":"text","columns":[{"name":"output","type":"TEXT"}]}` + "\n[\"hello\"]"))
	f.Add([]byte(`{"type":"table","columns":[]}`))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ReadResultSet(bytes.NewReader(data), 1000)
		if err != nil {
			return
		}
		if len(rs.Columns) == 0 || (rs.Type != "table" && rs.Type != "text") {
			t.Fatalf("accepted a bad header: %+v", rs.ResultSetHeader)
		}
		for i, r := range rs.Rows {
			if len(r) != len(rs.Columns) {
				t.Fatalf("row %d has %d values for %d columns", i, len(r), len(rs.Columns))
			}
		}
	})
}

// FuzzResultRefOf: a path an engine reports is turned into a reference
// only when it lies directly in that engine's results directory, under a
// result name; whatever the path, the name never climbs out.
func FuzzResultRefOf(f *testing.F) {
	for _, p := range []string{
		"/data/ec-3/results/t-1-1.jsonl", "file:///data/ec-3/results/t-1-1.jsonl", "/data/ec-3/results/../../ec-4/results/t-1-1.jsonl",
		"/data/ec-4/results/t-1-1.jsonl", "data/ec-3/results/t-1-1.jsonl", "/data/ec-3/results/", "/data/ec-3/results//t-1-1.jsonl",
		"/data/ec-3/results/t-1-1.jsonl\x00", "/data/ec-3/results/.hidden", "/ec-3/results/a", "/results/a",
	} {
		f.Add("ec-3", p)
	}
	f.Fuzz(func(t *testing.T, ec, p string) {
		ref, err := ResultRefOf("ecm-a", ec, p)
		if err != nil {
			return
		}
		if ValidResultName(ref.Name) != nil || ref.ECM != "ecm-a" {
			t.Fatalf("%q %q: %+v", ec, p, ref)
		}
		if !strings.HasSuffix(p, "/"+ref.EC+"/results/"+ref.Name) || strings.Contains(p, "/../") || strings.Contains(p, "/./") || strings.Contains(p, "//"+ref.EC) {
			t.Fatalf("%q %q accepted as %+v", ec, p, ref)
		}
	})
}
