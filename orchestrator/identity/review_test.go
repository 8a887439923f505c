package identity

// Reproducers of the security review of identity (branch rev-auth). Each
// test asserts what the package documents or issue 17 asks; each FAILS on
// the code as reviewed. They are not fixes.

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/golinkis/golinkis/linkis"
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

// Finding 5 (medium): with LDAP, a user name is whatever the client typed,
// but the directory matches uid case-insensitively: "Carol" binds as
// carol's entry with carol's password. The failed-login limit is per name
// as typed, so each case variant gets its own 5 guesses (2^5 variants of
// "carol", per 15 minutes, from as many addresses); and the session is
// for "Carol", another golinkis user than "carol" - whose jobs,
// configuration (an administrator's per-user limits) and admin rights
// are not hers.
func TestReviewLDAPNameVariantsAreOneUser(t *testing.T) {
	srv := startSlapd(t, map[string]string{"carol": "carol-ldap-pw"})
	ldapCfg := &LDAPConfig{URL: srv.URL, BaseDN: ldapSuffix, UserNameFormat: "uid=%s,ou=people"}
	svc, _ := newTestService(t, Config{LDAP: ldapCfg})
	ctx := context.Background()
	for i := 0; i < svc.cfg.MaxUserFailures; i++ {
		if _, err := svc.Login(ctx, "carol", fmt.Sprintf("guess-%d", i), fmt.Sprintf("10.0.0.%d:1", i)); !errors.Is(err, linkis.ErrPermission) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if _, err := svc.Login(ctx, "carol", "carol-ldap-pw", "10.0.1.1:1"); !errors.Is(err, linkis.ErrQuotaExceeded) {
		t.Fatalf("carol after %d failures: %v, want locked out", svc.cfg.MaxUserFailures, err)
	}
	s, err := svc.Login(ctx, "Carol", "carol-ldap-pw", "10.0.1.2:1")
	if err == nil {
		t.Errorf("carol is locked out after %d failures, but \"Carol\" with her password logs in (as user %q)", svc.cfg.MaxUserFailures, s.User)
	}
	if err == nil && s.User != "carol" {
		t.Errorf("the directory's carol logged in as a second golinkis user %q", s.User)
	}
}
