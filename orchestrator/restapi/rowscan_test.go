package restapi

import (
	"bytes"
	"testing"

	"github.com/golinkis/golinkis/api"
)

// splitRow agrees with encoding/json on every row it accepts, and a row
// it refuses is left to encoding/json.
func FuzzSplitRow(f *testing.F) {
	for _, s := range []string{`[1,"a",null,true,false,-2.5e3]`, `[]`, ` [ "x" , 1 ] `, `["a\"b"]`, `[{"k":1}]`, `[1,]`, `[01]`, `["\u00e9"]`, `[1 2]`, `[nul]`, "[\"\t\"]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		cells, err := splitRow(line, nil)
		if err != nil {
			return
		}
		row, derr := api.DecodeResultRow(line, len(cells))
		if derr != nil {
			t.Fatalf("splitRow accepted %q, encoding/json refuses it: %v", line, derr)
		}
		want := cellsOf(row, nil)
		for i := range cells {
			if cells[i].kind != want[i].kind || !bytes.Equal(cells[i].text, want[i].text) {
				t.Fatalf("%q cell %d: %c %q, want %c %q", line, i, cells[i].kind, cells[i].text, want[i].kind, want[i].text)
			}
		}
	})
}

// A users file, a submit body and an execute body: bad input is an error,
// never a panic.
func FuzzSubmitBody(f *testing.F) {
	f.Add([]byte(`{"executeUser":"alice","executionContent":{"code":"x","runType":"sql"},"params":{"configuration":{"runtime":{"a":[1]}},"variable":{"v":1}},"labels":{"executeOnce":"","engineType":"sql-1"}}`))
	f.Add([]byte(`{"executeApplicationName":"shell","requestApplicationName":"IDE","executionCode":"ls","params":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		submitRequest(body)
		executeRequest(body, "alice")
	})
}
