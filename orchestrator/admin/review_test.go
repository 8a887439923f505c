package admin_test

// Reproducer of the security review of the management API (branch
// rev-auth). It FAILS on the code as reviewed.

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

// Finding 9 (medium): a user's own value at a more specific level wins
// over an administrator's at a broader one, and the ceiling that keeps a
// user's value under the administrators' is checked only when the user
// sets it. A user who sets her own instance cap for IDE/shell-1 at the
// default (allowed: no administrator value yet) keeps it after an
// administrator limits her to one engine for everything (alice-*-*): the
// administrator's limit is not in force there, the console shows the
// user's value in force, and the manager starts as many engines as the
// user's value allows.
func TestReviewAdminLimitHoldsOverAUsersOwnLevels(t *testing.T) {
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
}
