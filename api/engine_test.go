package api

import (
	"errors"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/linkis"
)

func TestReadResultSetRefusesMalformedFiles(t *testing.T) {
	for name, in := range map[string]string{
		"empty":        "",
		"bad header":   "{]\n",
		"unknown type": `{"type":"graph","columns":[{"name":"a"}]}`,
		"no columns":   `{"type":"table","columns":[]}`,
		"short row":    `{"type":"table","columns":[{"name":"a"},{"name":"b"}]}` + "\n[1]\n",
		"not an array": `{"type":"table","columns":[{"name":"a"}]}` + "\n{\"a\":1}\n",
		"trailing":     `{"type":"table","columns":[{"name":"a"}]}` + "\n[1] [2]\n",
	} {
		if _, err := ReadResultSet(strings.NewReader(in), 0); !errors.Is(err, linkis.ErrMalformed) {
			t.Errorf("%s: %v, want malformed", name, err)
		}
	}
	if _, err := ReadResultSet(strings.NewReader(`{"type":"table","columns":[{"name":"a"}]}`+"\n[1]\n[2]\n[3]\n"), 2); !errors.Is(err, linkis.ErrMalformed) {
		t.Errorf("row limit not enforced: %v", err)
	}
	rs, err := ReadResultSet(strings.NewReader(`{"type":"table","columns":[{"name":"a","type":"INTEGER"}]}`+"\n[1]\n[2]"), 0)
	if err != nil || len(rs.Rows) != 2 || rs.Columns[0].Type != "INTEGER" {
		t.Fatalf("%+v %v", rs, err)
	}
}

func TestTaskRequestValidate(t *testing.T) {
	ok := TaskRequest{AskID: "a", Token: "00000000000000aa", Code: "echo"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	keyed := ok
	keyed.Key = "exec_12_ab12cd34-1.0" + strings.Repeat("é", (MaxTaskKeyBytes-20)/2)
	if err := keyed.Validate(); err != nil {
		t.Fatalf("a key of %d bytes: %v", len(keyed.Key), err)
	}
	for name, r := range map[string]TaskRequest{
		"no ask":            {Token: ok.Token, Code: "x"},
		"bad token":         {AskID: "a", Token: "zz", Code: "x"},
		"no code":           {AskID: "a", Token: ok.Token, Code: "  "},
		"huge code":         {AskID: "a", Token: ok.Token, Code: strings.Repeat("x", MaxCodeBytes+1)},
		"long key":          {AskID: "a", Token: ok.Token, Code: "x", Key: strings.Repeat("k", MaxTaskKeyBytes+1)},
		"bad utf-8":         {AskID: "a", Token: ok.Token, Code: "x", Key: "k\xff"},
		"control":           {AskID: "a", Token: ok.Token, Code: "x", Key: "k\tk"},
		"empty scrub value": {AskID: "a", Token: ok.Token, Code: "x", Scrub: []string{""}},
		"huge scrub value":  {AskID: "a", Token: ok.Token, Code: "x", Scrub: []string{"Secret-" + strings.Repeat("s", MaxScrubBytes)}},
		"many scrub values": {AskID: "a", Token: ok.Token, Code: "x", Scrub: make([]string, MaxScrubValues+1)},
	} {
		err := r.Validate()
		if !errors.Is(err, linkis.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "Secret-") {
			t.Errorf("%s: the error quotes a value to scrub: %v", name, err)
		}
	}
}
