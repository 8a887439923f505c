package admin_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator/admin"
	"github.com/golinkis/golinkis/raftstore"
)

// An administrator's limit holds over a user's own values set before
// it: a user who set her own instance cap for IDE/shell-1 at the default
// (allowed: no administrator's value then) is held to the one engine an
// administrator later gives her for everything (alice-*-*) - in the
// configuration tree and in the engines the manager starts - and gets her
// own value back when the administrator raises the limit above it (a
// regression test of the security review: the more specific user's value
// won, and the manager started as many engines as it allowed).
func TestAdminLimitHoldsOverAUsersOwnLevels(t *testing.T) {
	cfg := raftstore.DefaultMemoryConfig()
	cfg.Manager.NewECMStandby = 0
	st, err := raftstore.OpenMemory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	now := time.Now().UnixNano()
	if _, err := st.Apply(ctx, manager.RegisterECM{Time: now, ID: "ecm-1", Addr: "10.0.0.1:9101"}); err != nil {
		t.Fatal(err)
	}
	op := admin.New(st, nil)
	alice, ops := admin.Caller{User: "alice"}, admin.Caller{User: "ops", Admin: true}
	own := manager.ConfLevel{User: "alice", Creator: "IDE", EngineType: "shell-1"}
	if err := op.SetConfig(ctx, alice, own, map[string]string{manager.KeyInstance: "10"}, nil); err != nil {
		t.Fatalf("alice sets her own cap at the default: %v", err)
	}
	if err := op.SetConfig(ctx, ops, manager.ConfLevel{User: "alice", Creator: "*", EngineType: "*"},
		map[string]string{manager.KeyInstance: "1"}, nil); err != nil {
		t.Fatalf("ops limits alice to one engine: %v", err)
	}
	tree, err := op.ConfigTree(ctx, ops, own)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range tree {
		if s.Key == manager.KeyInstance && s.InForce != "1" {
			t.Errorf("ops limited alice to 1 engine; in force for alice-IDE,shell-1: %s (from %v, alice's own)", s.InForce, s.From)
		}
	}
	ls, err := linkis.NewLabels(linkis.LabelUserCreator, "alice-IDE", linkis.LabelEngineType, "shell-1", linkis.LabelReuseExclusion, "*")
	if err != nil {
		t.Fatal(err)
	}
	started := 0
	for i := 0; i < 3; i++ {
		r, err := st.Apply(ctx, manager.AskEngine{Time: now, ID: fmt.Sprintf("ask-%d", i), Nonce: uint64(i + 1), Labels: ls})
		if err == nil && r.Ask.Created {
			started++
		}
	}
	if started > 1 {
		t.Errorf("an administrator limited alice to 1 engine; the manager started %d for alice-IDE,shell-1", started)
	}
	// Raised above hers, her own value is in force again.
	if err := op.SetConfig(ctx, ops, manager.ConfLevel{User: "alice", Creator: "*", EngineType: "*"},
		map[string]string{manager.KeyInstance: "20"}, nil); err != nil {
		t.Fatal(err)
	}
	if tree, err = op.ConfigTree(ctx, alice, own); err != nil {
		t.Fatal(err)
	}
	for _, s := range tree {
		if s.Key == manager.KeyInstance && (s.InForce != "10" || s.From != own) {
			t.Errorf("ops raised alice's limit to 20; in force for alice-IDE,shell-1: %s from %v, want her own 10", s.InForce, s.From)
		}
	}
}
