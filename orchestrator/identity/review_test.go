package identity

// Reproducers of the security review of identity (branch rev-auth). Each
// test asserts what the package documents or issue 17 asks; each FAILS on
// the code as reviewed. They are not fixes.

import (
	"context"
	"testing"
)

// Finding 3 (high): a session outlives its user. The server reads the
// users file when it starts and the sessions live in the replicated state,
// so neither removing a user (or changing a compromised password) and
// restarting, nor anything else an operator can do, ends the sessions
// already open: Service.Check never asks the directory, and nothing calls
// Revoke. The session lasts until its idle timeout (2 h, renewed by use)
// or its 7-day deadline.
func TestReviewSessionEndsWhenUserIsRemoved(t *testing.T) {
	d := NewDirectory()
	if err := d.AddUser(User{Name: "alice", Hash: mustHash(t, "alice-pw")}); err != nil {
		t.Fatal(err)
	}
	svc, _ := newTestService(t, Config{Directory: d})
	ctx := context.Background()
	s, err := svc.Login(ctx, "alice", "alice-pw", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	// The restart: the same replicated state, a users file without alice.
	cfg := svc.cfg
	cfg.Directory = NewDirectory()
	restarted, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := restarted.Check(ctx, s.ID); err == nil {
		t.Errorf("alice was removed from the users file and the server restarted, yet her session still authenticates as %q", u)
	}
	// Her password changed (say it leaked): the old session should end too.
	d2 := NewDirectory()
	d2.AddUser(User{Name: "alice", Hash: mustHash(t, "new-pw")})
	cfg.Directory = d2
	changed, _ := New(cfg)
	if u, err := changed.Check(ctx, s.ID); err == nil {
		t.Errorf("alice's password was changed and the server restarted, yet the session opened with the old one still authenticates as %q", u)
	}
}
