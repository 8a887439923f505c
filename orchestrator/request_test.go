package orchestrator

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/linkis"
)

func TestEngineLabel(t *testing.T) {
	for name, want := range map[string]string{"shell": "shell-1", "python": "python-3", "sql": "sql-1", "python-3.11": "python-3.11"} {
		if got, err := EngineLabel(name); err != nil || got != want {
			t.Errorf("%s: %q %v", name, got, err)
		}
	}
	for _, name := range []string{"", "spark", "Shell", "python-"} {
		if _, err := EngineLabel(name); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
	if _, err := EngineLabel("spark"); !errors.Is(err, linkis.ErrUnknownEngineType) || !strings.Contains(err.Error(), EngineNames) {
		t.Errorf("spark: %v", err)
	}
}

func TestNewRequest(t *testing.T) {
	req, err := NewRequest(RequestSpec{Engine: "sql", Code: "select 1", User: "alice", Creator: "cli",
		Vars: map[string]string{"d": "1"}, Labels: map[string]string{"tenant": "t1"}, Source: "q.sql"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(req)
	for _, want := range []string{`"code":"select 1"`, `"engineType":"sql-1"`, `"userCreator":"alice-cli"`, `"tenant":"t1"`, `"variable":{"d":"1"}`, `"scriptPath":"q.sql"`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	if _, err := NewRequest(RequestSpec{Engine: "sql", User: "alice"}); !errors.Is(err, linkis.ErrInvalidArgument) {
		t.Errorf("empty code: %v", err)
	}
}
