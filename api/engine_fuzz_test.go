package api

import (
	"bytes"
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
