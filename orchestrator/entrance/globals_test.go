package entrance_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
)

// A job keeps, with its request, the user's global variables its code
// uses as they were at submission (not those its own variables set, not
// other users'), so that every run of it substitutes the same values.
func TestSubmitKeepsTheGlobalVariablesItUses(t *testing.T) {
	f := newFixture(t)
	set := func(user string, vars map[string]string) {
		t.Helper()
		if _, err := f.store.Apply(context.Background(), manager.SetVariables{Time: time.Now().UnixNano(), User: user, Vars: vars}); err != nil {
			t.Fatal(err)
		}
	}
	set("alice", map[string]string{"city": "Paris", "n": "1", "unused": "x"})
	set("bob", map[string]string{"secret": "bob's"})
	req := request(t, "alice", "echo ${city} ${n} ${secret} $${unused}")
	req.Params.Variable = orchestrator.Values{"n": "41", "secret": "mine"}
	j, err := f.e.Submit(ctx(t), "alice", req)
	if err != nil {
		t.Fatal(err)
	}
	set("alice", map[string]string{"city": "Rome"}) // later changes do not reach the job
	var stored struct {
		Globals  map[string]string `json:"globalVariables"`
		Params   orchestrator.Params
		Labels   map[string]string
		Contents orchestrator.ExecutionContent `json:"executionContent"`
	}
	if err := json.Unmarshal(f.record(j.TaskID).Request, &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored.Globals) != 1 || stored.Globals["city"] != "Paris" || stored.Params.Variable["n"] != "41" {
		t.Fatalf("stored globals %v, own %v", stored.Globals, stored.Params.Variable)
	}
	// The job as users see it is their request, unchanged.
	got := f.wait("alice", j)
	if got.Request.ExecutionContent.Code != req.ExecutionContent.Code || len(got.Request.Params.Variable) != 2 {
		t.Fatalf("request as seen: %+v", got.Request)
	}
	// Code without references reads nothing and stores nothing.
	k := f.submit("alice", "echo plain")
	var plain map[string]json.RawMessage
	if err := json.Unmarshal(f.record(k.TaskID).Request, &plain); err != nil || plain["globalVariables"] != nil {
		t.Fatalf("plain job stored %s (%v)", plain["globalVariables"], err)
	}
}
