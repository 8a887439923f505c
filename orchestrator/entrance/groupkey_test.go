package entrance

import (
	"context"
	"testing"
)

// Creator_User_EngineType is ambiguous when names hold '_': user "x" with
// creator "IDE_bob" and user "bob_x" with creator "IDE" both make
// "IDE_bob_x_shell-1". They are still two groups: one user's flood does
// not fill the other's queue, and the metrics still gather.
func TestGroupsOfLookAlikeNames(t *testing.T) {
	e, _ := open(t, t.TempDir(), &fakeRunner{}, func(c *Config) {
		c.MaxRunningPerGroup = 0
		c.QueueCapacity = 2
	})
	for range 2 {
		submit(t, e, "x", request("x-IDE_bob", "shell-1", "flood"))
	}
	if _, err := e.Submit(context.Background(), "bob_x", request("bob_x-IDE", "shell-1", "mine")); err != nil {
		t.Fatalf("bob_x's first job refused: %v", err)
	}
	if s := e.Stats(); s.Groups != 2 || s.Queued != 3 {
		t.Fatalf("stats %+v, want 2 groups, 3 queued", s)
	}
	if _, err := e.Registry().Gather(); err != nil {
		t.Fatalf("gather: %v", err)
	}
}
