package engines

import (
	"bufio"
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestSplitSQL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"SELECT 1", []string{"SELECT 1"}},
		{"SELECT 1; SELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"INSERT INTO t VALUES ('a;b'); SELECT \"x;y\" FROM [w;z]", []string{"INSERT INTO t VALUES ('a;b')", "SELECT \"x;y\" FROM [w;z]"}},
		{"SELECT 'it''s; fine'", []string{"SELECT 'it''s; fine'"}},
		{"-- only; a comment\n;; /* and; this */", nil},
		{"SELECT 1 -- trailing; comment\n; SELECT 2", []string{"SELECT 1 -- trailing; comment", "SELECT 2"}},
		{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO u VALUES (1); UPDATE u SET a = 2; END; SELECT 3",
			[]string{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO u VALUES (1); UPDATE u SET a = 2; END", "SELECT 3"}},
	} {
		if got := splitSQL(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("splitSQL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if !returnsRows("-- a comment\nselect 1") || returnsRows("CREATE TABLE t(a)") || !returnsRows("INSERT INTO t VALUES (1) RETURNING a") {
		t.Error("returnsRows misjudges")
	}
}

func TestReadFrame(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("OUT 5\nhello" + "END 2\nOK" + "BAD 1\nx"))
	f, err := readFrame(br)
	if err != nil || f.kind != "OUT" || string(f.payload) != "hello" {
		t.Fatalf("%+v %v", f, err)
	}
	if f, err = readFrame(br); err != nil || f.kind != "END" || string(f.payload) != "OK" {
		t.Fatalf("%+v %v", f, err)
	}
	if _, err = readFrame(br); err == nil {
		t.Fatal("an unknown kind was accepted")
	}
	for _, in := range []string{"OUT -1\n", "OUT 99999999999\n", "OUT 5\nabc", "OUT\n", "OUT 01\nx", strings.Repeat("A", 100)} {
		if _, err := readFrame(bufio.NewReader(strings.NewReader(in))); err == nil {
			t.Errorf("%q was accepted", in)
		}
	}
}

// FuzzReadFrame: the driver protocol decoder never panics, never returns
// more payload than the header announced, and round-trips what it accepts.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte("OUT 5\nhello"))
	f.Add([]byte("END 2\nOK"))
	f.Add([]byte("EXC 0\n"))
	f.Add([]byte("READY 0\nOUT 3\nabc"))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 64)
		for i := 0; i < 100; i++ {
			fr, err := readFrame(br)
			if err != nil {
				return
			}
			again, err := readFrame(bufio.NewReader(bytes.NewReader(append([]byte(fr.kind+" "+strconv.Itoa(len(fr.payload))+"\n"), fr.payload...))))
			if err != nil || again.kind != fr.kind || !bytes.Equal(again.payload, fr.payload) {
				t.Fatalf("round trip of %+v: %+v %v", fr, again, err)
			}
		}
	})
}

// FuzzSplitSQL: splitting never panics and never loses a statement's text.
func FuzzSplitSQL(f *testing.F) {
	f.Add("SELECT 1; SELECT 'a;b'")
	f.Add("CREATE TRIGGER x BEGIN SELECT 1; END; -- c")
	f.Add("/* unterminated")
	f.Fuzz(func(t *testing.T, code string) {
		for _, st := range splitSQL(code) {
			if !strings.Contains(code, st) {
				t.Fatalf("statement %q is not part of %q", st, code)
			}
		}
	})
}
