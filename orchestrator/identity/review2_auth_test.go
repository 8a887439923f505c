package identity

// From the second security review of the identity fixes
// (2a9e493..911ab7a), which each test here failed on.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/golinkis/golinkis/linkis"
)

// Logins that are all right, sent at once from one host (a scheduler
// starting its nightly jobs, each Linkis SDK client logging in with its
// user's password - StaticAuthenticationStrategy), are not "too many
// failed logins": the reservation made for concurrent guesses counted
// every attempt still being hashed against the address's failure limit
// (20), so the 21st correct login waiting for a hash slot was refused
// with 429 "too many failed logins" although none failed - and so was
// every token request from that host while they waited (Token's
// blocked() counted pending attempts too). Now the 21st waits for one of
// the 20 being checked to end, and only failures block a token.
func TestConcurrentGoodLoginsFromOneHostAreNotFailures(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDirectory()
	const users = 25
	for i := 0; i < users; i++ {
		if err := d.AddUser(User{Name: fmt.Sprintf("u%d", i), Hash: string(h)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.AddToken(Token{Hash: HashCode("sched-code"), AnyUser: true, AnyHost: true}); err != nil {
		t.Fatal(err)
	}
	svc, _ := newTestService(t, Config{Directory: d})
	ctx := context.Background()
	const host = "10.20.30.40:5000"

	// Hold every hash slot: the logins queue as they do on a busy server
	// (2 slots on a 2-core host, a bcrypt of cost 10-12 each).
	for i := 0; i < cap(svc.hashSlot); i++ {
		svc.hashSlot <- struct{}{}
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		refused []error
		done    int
	)
	for i := 0; i < users; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := svc.Login(ctx, fmt.Sprintf("u%d", i), "pw", host)
			mu.Lock()
			defer mu.Unlock()
			done++
			if err != nil {
				refused = append(refused, err)
			}
		}(i)
	}
	// Wait until every login has reserved its attempt, waits for one
	// being checked to end, or has been refused.
	ak := addrKey(host)
	deadline := time.Now().Add(10 * time.Second)
	for {
		svc.byAddr.mu.Lock()
		pending := 0
		if w := svc.byAddr.keys[ak]; w != nil {
			pending = w.pending + w.waiting
		}
		svc.byAddr.mu.Unlock()
		mu.Lock()
		settled := pending + done
		mu.Unlock()
		if settled >= users || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	tokenErr := svc.Token("u0", "sched-code", host)
	for i := 0; i < cap(svc.hashSlot); i++ {
		<-svc.hashSlot
	}
	wg.Wait()
	if len(refused) > 0 {
		t.Errorf("%d correct logins sent at once from one host: %d refused, e.g. %v", users, len(refused), refused[0])
	}
	if tokenErr != nil {
		t.Errorf("a valid token from a host whose correct logins are being checked: %v", tokenErr)
	}
	for _, err := range refused {
		if !errors.Is(err, linkis.ErrQuotaExceeded) {
			t.Errorf("unexpected refusal: %v", err)
		}
	}
}

// A session is bound to its user's credential; for an LDAP user the
// "credential" includes the directory URL as this member's flags spell
// it. Members of one cluster share the sessions (replicated state) but
// may reach the same directory by different URLs - each its nearest
// replica, or the host written in another case or with the default port
// - and then a session opened through one member is refused by the
// others: behind a load balancer the user is logged out at random. The
// URL is not the user's credential: the directory's bind DN is.
func TestLDAPSessionWorksOnEveryMemberOfTheDirectory(t *testing.T) {
	svc, _ := newTestService(t, Config{LDAP: &LDAPConfig{URL: "ldap://ldap1.corp.example:389", UserNameFormat: "uid=%s,ou=people,dc=corp,dc=example"}})
	ctx := context.Background()
	s, err := svc.open(ctx, "carol", svc.now())
	if err != nil {
		t.Fatal(err)
	}
	if u, err := svc.Check(ctx, s.ID); err != nil || u != "carol" {
		t.Fatalf("the member that opened it: %q, %v", u, err)
	}
	for _, url := range []string{
		"ldap://ldap2.corp.example:389", // a replica of the same directory
		"ldap://LDAP1.corp.example:389", // the same host, another case
		"ldap://ldap1.corp.example",     // the same host and (default) port
	} {
		cfg := svc.cfg
		cfg.LDAP = &LDAPConfig{URL: url, UserNameFormat: "uid=%s,ou=people,dc=corp,dc=example"}
		other, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		other.now = svc.now
		if u, err := other.Check(ctx, s.ID); err != nil || u != "carol" {
			t.Errorf("a member whose --ldap-url is %s (same directory, same bind DN): %q, %v", url, u, err)
		}
	}
}

// Refused tokens count against their address so that codes cannot be
// guessed; but a code that exists - expired, or used for a user or from
// a host it does not allow - is no guess. Counting it let one stale
// token on a shared client host (a scheduler holding the tokens of many
// teams; every client behind a proxy that is not --trusted-proxy) lock
// out every other valid token and login from that host, window after
// window, while it keeps being retried.
func TestExpiredTokenDoesNotLockOutItsHost(t *testing.T) {
	d := NewDirectory()
	for _, tk := range []Token{
		{Hash: HashCode("team-a-code"), Users: []string{"alice"}, AnyHost: true, Expires: time.Now().Add(-time.Hour)},
		{Hash: HashCode("team-b-code"), Users: []string{"bob"}, AnyHost: true},
	} {
		if err := d.AddToken(tk); err != nil {
			t.Fatal(err)
		}
	}
	svc, _ := newTestService(t, Config{Directory: d})
	const host = "10.20.30.40:5000"
	for i := 0; i < 30; i++ { // team A's job, retried
		if err := svc.Token("alice", "team-a-code", host); err == nil {
			t.Fatal("an expired token was accepted")
		}
	}
	if err := svc.Token("bob", "team-b-code", host); err != nil {
		t.Errorf("team B's valid token from the same host, after team A's expired one was retried: %v", err)
	}
	// Codes no token has are guesses, and still count: the 21st is
	// refused before its code is looked at, and a valid token with it.
	var refusals []error
	const guesser = "10.9.9.9:1"
	for i := 0; i <= svc.cfg.MaxAddrFailures; i++ {
		refusals = append(refusals, svc.Token("bob", fmt.Sprintf("guess-%d", i), guesser))
	}
	if err := refusals[len(refusals)-2]; !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("the 20th guessed code: %v", err)
	}
	if err := refusals[len(refusals)-1]; !errors.Is(err, linkis.ErrQuotaExceeded) {
		t.Errorf("the 21st guessed code from one host: %v, want refused as too many", err)
	}
	if err := svc.Token("bob", "team-b-code", guesser); !errors.Is(err, linkis.ErrQuotaExceeded) {
		t.Errorf("a valid token from a host that guessed %d codes: %v, want refused until the window ends", svc.cfg.MaxAddrFailures, err)
	}
	// A known code refused answers as an unknown one does.
	if a, b := svc.Token("alice", "team-a-code", host), svc.Token("bob", "guess", host); a == nil || b == nil || a.Error() != b.Error() {
		t.Errorf("an expired token and an unknown code answer differently: %v / %v", a, b)
	}
}
