package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/raftstore"
)

func mustHash(t testing.TB, pw string) string {
	t.Helper()
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func argon2idHashOf(pw string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, 2, 8<<10, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=2,p=1$%s$%s", 8<<10,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestUsersFile(t *testing.T) {
	bcryptHash := mustHash(t, "alice-pw")
	code := "0123456789abcdef-code"
	file := "# team users\n" +
		"user alice password=" + bcryptHash + "\n" +
		"user dave password=" + argon2idHashOf("dave-pw") + "\n" +
		fmt.Sprintf("token sha256:%x users=alice,bob hosts=127.0.0.1,10.0.0.0/8 expires=2099-01-01\n", HashCode(code)) +
		"bob legacy-code-of-bob\n" +
		"carol:legacy:code:with:colons\n"
	d, err := ReadDirectory(strings.NewReader(file), "users")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Users(); strings.Join(got, ",") != "alice,dave" {
		t.Fatalf("users %v", got)
	}
	if d.Tokens() != 3 {
		t.Fatalf("%d tokens, want 3", d.Tokens())
	}
	if len(d.Warnings) != 2 || strings.Contains(strings.Join(d.Warnings, " "), "legacy-code") {
		t.Fatalf("warnings %q: want two, quoting no code", d.Warnings)
	}
	u, _ := d.User("alice")
	if !verifyPassword(u.Hash, "alice-pw") || verifyPassword(u.Hash, "alice-pW") {
		t.Fatal("bcrypt hash does not verify as it should")
	}
	u, _ = d.User("dave")
	if !verifyPassword(u.Hash, "dave-pw") || verifyPassword(u.Hash, "dave") {
		t.Fatal("argon2id hash does not verify as it should")
	}
	// Format writes only hashes; what it writes reads back the same.
	var buf bytes.Buffer
	if err := d.Format(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "legacy-code-of-bob") || strings.Contains(buf.String(), "with:colons") {
		t.Fatalf("the rewritten file holds a plain code:\n%s", buf.String())
	}
	if !strings.HasPrefix(buf.String(), "# team users\n") {
		t.Fatalf("the comment was lost:\n%s", buf.String())
	}
	again, err := ReadDirectory(&buf, "again")
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Warnings) != 0 || again.Tokens() != 3 || len(again.Users()) != 2 {
		t.Fatalf("read back: %d tokens, %v, warnings %q", again.Tokens(), again.Users(), again.Warnings)
	}
	// A user without a password (tokens or LDAP only) is written with a
	// key, so that it reads back as a user, not as an old "user code" line.
	again.AddUser(User{Name: "erin"})
	buf.Reset()
	again.Format(&buf)
	if again, err = ReadDirectory(&buf, "again"); err != nil || len(again.Users()) != 3 || again.Tokens() != 3 {
		t.Fatalf("read back: %d tokens, %v, warnings %q", again.Tokens(), again.Users(), again.Warnings)
	}
	svc, _ := New(Config{Directory: again, SessionTimeout: time.Hour, SessionMaxAge: time.Hour})
	if err := svc.Token("bob", "legacy-code-of-bob", "192.0.2.1:5000"); err != nil {
		t.Fatalf("a migrated code stopped working: %v", err)
	}
}

func TestUsersFileBadLines(t *testing.T) {
	h := mustHash(t, "x")
	for name, line := range map[string]string{
		"bad hash":          "user alice password=plaintext",
		"unknown key":       "user alice password=" + h + " admin=yes",
		"word without =":    "user alice " + h,
		"bad user":          "user ../etc password=" + h,
		"dots only":         "... code",
		"token not sha256":  "token abc users=alice",
		"token no users":    fmt.Sprintf("token sha256:%x hosts=*", HashCode("c")),
		"token bad host":    fmt.Sprintf("token sha256:%x users=alice hosts=example.com", HashCode("c")),
		"token bad expires": fmt.Sprintf("token sha256:%x users=alice expires=tomorrow", HashCode("c")),
		"old form no code":  "alice",
	} {
		_, err := ReadDirectory(strings.NewReader(line+"\n"), "users")
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "plaintext") || strings.Contains(err.Error(), h) {
			t.Errorf("%s: the error quotes a secret: %v", name, err)
		}
	}
	if _, err := ReadDirectory(strings.NewReader("user alice password="+h+"\nuser alice password="+h+"\n"), "users"); err == nil {
		t.Error("a user listed twice was accepted")
	}
}

func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte("alice code-a\nbob:code-b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := Migrate(path)
	if err != nil || n != 2 {
		t.Fatalf("Migrate: %d, %v", n, err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "code-a") || !strings.Contains(string(b), "token sha256:") {
		t.Fatalf("migrated file:\n%s", b)
	}
	d, err := LoadDirectory(path)
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := New(Config{Directory: d, SessionTimeout: time.Hour, SessionMaxAge: time.Hour})
	if err := svc.Token("alice", "code-a", "127.0.0.1:1"); err != nil {
		t.Fatalf("alice's code after the migration: %v", err)
	}
	if err := svc.Token("bob", "code-a", "127.0.0.1:1"); !errors.Is(err, linkis.ErrPermission) {
		t.Fatalf("alice's code acting as bob: %v", err)
	}
	if n, err := Migrate(path); n != 0 || err != nil {
		t.Fatalf("a second Migrate changed %d lines, %v", n, err)
	}
}

func TestTokenUsersHostsExpiry(t *testing.T) {
	d := NewDirectory()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p, _ := parseHost("10.1.0.0/16")
	must(d.AddToken(Token{Hash: HashCode("team"), Users: []string{"alice", "bob"}, Hosts: []netip.Prefix{p}}))
	must(d.AddToken(Token{Hash: HashCode("LINKIS_CLI_TEST"), AnyUser: true, AnyHost: true, Expires: time.Now().Add(-time.Hour)}))
	must(d.AddToken(Token{Hash: HashCode("any"), AnyUser: true, AnyHost: true}))
	svc, _ := New(Config{Directory: d, SessionTimeout: time.Hour, SessionMaxAge: time.Hour})
	refusals := map[string]bool{}
	for _, c := range []struct {
		user, code, addr string
		ok               bool
	}{
		{"alice", "team", "10.1.2.3:555", true},
		{"bob", "team", "[::ffff:10.1.2.3]:555", true},
		{"carol", "team", "10.1.2.3:555", false}, // not one of its users
		{"alice", "team", "10.2.0.1:555", false}, // not from its hosts
		{"alice", "LINKIS_CLI_TEST", "10.1.2.3:1", false},
		{"anyone", "any", "192.0.2.9:1", true},
		{"alice", "nope", "10.1.2.3:1", false},
		{"", "any", "10.1.2.3:1", false},
		{"../x", "any", "10.1.2.3:1", false},
	} {
		err := svc.Token(c.user, c.code, c.addr)
		if (err == nil) != c.ok {
			t.Errorf("Token(%q, %q, %q) = %v, want ok=%v", c.user, c.code, c.addr, err, c.ok)
		}
		if err != nil && (!errors.Is(err, linkis.ErrPermission) || strings.Contains(err.Error(), c.code) && c.code != "") {
			t.Errorf("Token(%q, %q): error %v: want ErrPermission without the code", c.user, c.code, err)
		}
		if err != nil {
			refusals[err.Error()] = true
		}
	}
	if len(refusals) != 1 {
		t.Errorf("token refusals answer %d ways, saying which check failed: %v", len(refusals), refusals)
	}
}

// newTestService is a Service over an in-memory store whose clock the test
// moves.
func newTestService(t *testing.T, cfg Config) (*Service, *time.Time) {
	t.Helper()
	st, err := raftstore.OpenMemory(raftstore.DefaultMemoryConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg.Store = st
	if cfg.SessionTimeout == 0 {
		def := DefaultConfig()
		cfg.SessionTimeout, cfg.SessionMaxAge, cfg.FailureWindow = def.SessionTimeout, def.SessionMaxAge, def.FailureWindow
		cfg.MaxUserFailures, cfg.MaxAddrFailures = def.MaxUserFailures, def.MaxAddrFailures
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	svc.now = func() time.Time { return now }
	return svc, &now
}

func TestLoginSessions(t *testing.T) {
	d := NewDirectory()
	if err := d.AddUser(User{Name: "alice", Hash: mustHash(t, "alice-pw")}); err != nil {
		t.Fatal(err)
	}
	svc, now := newTestService(t, Config{Directory: d})
	ctx := context.Background()
	s1, err := svc.Login(ctx, "alice", "alice-pw", "127.0.0.1:40000")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := svc.Login(ctx, "alice", "alice-pw", "127.0.0.1:40001")
	if err != nil {
		t.Fatal(err)
	}
	if s1.ID == s2.ID || len(s1.ID) != 64 {
		t.Fatalf("session ids %q, %q: want a new 64-char id at each login", s1.ID, s2.ID)
	}
	if u, err := svc.Check(ctx, s1.ID); err != nil || u != "alice" {
		t.Fatalf("Check: %q, %v", u, err)
	}
	// Forged ids: wrong length, not base64, a valid shape nobody was given.
	forged := base64.RawURLEncoding.EncodeToString(make([]byte, 48))
	raw, _ := base64.RawURLEncoding.DecodeString(s1.ID)
	retagged := base64.RawURLEncoding.EncodeToString(append(raw[:32:32], make([]byte, 16)...)) // s1's bytes, another tag
	old := base64.RawURLEncoding.EncodeToString(raw[:32])                                      // the form before tags
	for _, id := range []string{"", "x", strings.Repeat("!", 64), forged, s1.ID + "A", retagged, old} {
		if _, err := svc.Check(ctx, id); !errors.Is(err, linkis.ErrPermission) {
			t.Errorf("Check(%q) = %v, want ErrPermission", id, err)
		}
	}
	// Logout ends that session only.
	if err := svc.Logout(ctx, s1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Check(ctx, s1.ID); !errors.Is(err, linkis.ErrPermission) {
		t.Fatalf("a logged-out session: %v", err)
	}
	if _, err := svc.Check(ctx, s2.ID); err != nil {
		t.Fatalf("the other session after a logout: %v", err)
	}
	// Idle expiry, pushed forward by use.
	*now = now.Add(100 * time.Minute)
	if _, err := svc.Check(ctx, s2.ID); err != nil {
		t.Fatalf("a session used within its timeout: %v", err)
	}
	*now = now.Add(100 * time.Minute) // 200 min after login, 100 after last use
	if _, err := svc.Check(ctx, s2.ID); err != nil {
		t.Fatalf("a session kept alive by use: %v", err)
	}
	*now = now.Add(2*time.Hour + time.Second)
	if _, err := svc.Check(ctx, s2.ID); !errors.Is(err, linkis.ErrPermission) {
		t.Fatalf("a session idle past its timeout: %v", err)
	}
	// Revoke ends all of a user's sessions.
	s3, _ := svc.Login(ctx, "alice", "alice-pw", "127.0.0.1:1")
	if err := svc.Revoke(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Check(ctx, s3.ID); !errors.Is(err, linkis.ErrPermission) {
		t.Fatalf("a revoked session: %v", err)
	}
}

func TestLoginRefusalsAndLimits(t *testing.T) {
	d := NewDirectory()
	d.AddUser(User{Name: "alice", Hash: mustHash(t, "alice-pw")})
	d.AddUser(User{Name: "bob", Hash: mustHash(t, "bob-pw")})
	svc, now := newTestService(t, Config{Directory: d})
	ctx := context.Background()
	_, wrong := svc.Login(ctx, "alice", "nope", "10.0.0.1:1")
	_, unknown := svc.Login(ctx, "mallory", "nope", "10.0.0.1:1")
	if !errors.Is(wrong, linkis.ErrPermission) || wrong.Error() != unknown.Error() {
		t.Fatalf("wrong password %q and unknown user %q must answer alike", wrong, unknown)
	}
	for _, e := range []error{wrong, unknown} {
		if strings.Contains(e.Error(), "nope") {
			t.Fatalf("the error quotes the password: %v", e)
		}
	}
	// Per user: 5 failures (one made above) lock alice out, even with the
	// right password and from another address; bob is not affected.
	for i := 0; i < 4; i++ {
		svc.Login(ctx, "alice", "nope", fmt.Sprintf("10.0.1.%d:1", i))
	}
	if _, err := svc.Login(ctx, "alice", "alice-pw", "10.9.9.9:1"); !errors.Is(err, linkis.ErrQuotaExceeded) {
		t.Fatalf("alice after 5 failures: %v", err)
	}
	if _, err := svc.Login(ctx, "bob", "bob-pw", "10.9.9.9:1"); err != nil {
		t.Fatalf("bob while alice is locked out: %v", err)
	}
	*now = now.Add(16 * time.Minute)
	if _, err := svc.Login(ctx, "alice", "alice-pw", "10.9.9.9:1"); err != nil {
		t.Fatalf("alice after the window: %v", err)
	}
	// Per address: 20 failures from one address over many names lock the
	// address, not the users.
	for i := 0; i < 20; i++ {
		svc.Login(ctx, fmt.Sprintf("u%d", i), "nope", "10.6.6.6:1")
	}
	if _, err := svc.Login(ctx, "bob", "bob-pw", "10.6.6.6:2"); !errors.Is(err, linkis.ErrQuotaExceeded) {
		t.Fatalf("bob from a flooding address: %v", err)
	}
	if _, err := svc.Login(ctx, "bob", "bob-pw", "10.6.6.7:2"); err != nil {
		t.Fatalf("bob from another address: %v", err)
	}
}

func TestLDAPLogin(t *testing.T) {
	srv := startSlapd(t, map[string]string{"carol": "carol-ldap-pw", "erin": "erin-ldap-pw"})
	d := NewDirectory()
	d.AddUser(User{Name: "alice", Hash: mustHash(t, "alice-pw")})
	ldapCfg := &LDAPConfig{URL: srv.URL, BaseDN: ldapSuffix, UserNameFormat: "uid=%s,ou=people"}
	svc, _ := newTestService(t, Config{Directory: d, LDAP: ldapCfg})
	ctx := context.Background()
	s, err := svc.Login(ctx, "carol", "carol-ldap-pw", "127.0.0.1:1")
	if err != nil {
		t.Fatalf("carol through LDAP: %v", err)
	}
	if u, err := svc.Check(ctx, s.ID); err != nil || u != "carol" {
		t.Fatalf("carol's session: %q, %v", u, err)
	}
	// An LDAP user's session is bound to logging in through a directory
	// as this DN (the directory's password cannot be seen; the URL is not
	// the credential - see TestLDAPSessionWorksOnEveryMemberOfTheDirectory): it
	// ends when the server restarts without the directory, or with a
	// users file that gives carol a password or raises her sessions= count.
	for _, c := range []struct {
		name  string
		users string
		ldap  *LDAPConfig
		ok    bool
	}{
		{"the same configuration", "", ldapCfg, true},
		{"without LDAP", "", nil, false},
		{"the same directory by another URL", "", &LDAPConfig{URL: "ldap://127.0.0.1:1", BaseDN: ldapSuffix, UserNameFormat: "uid=%s,ou=people"}, true},
		{"another directory (another bind DN)", "", &LDAPConfig{URL: srv.URL, BaseDN: "dc=other,dc=example", UserNameFormat: "uid=%s,ou=people"}, false},
		{"a password in the users file", "user carol password=" + mustHash(t, "x") + "\n", ldapCfg, false},
		{"a logout in the users file", "user carol sessions=1\n", ldapCfg, false},
	} {
		dir, err := ReadDirectory(strings.NewReader(c.users), "users")
		if err != nil {
			t.Fatal(err)
		}
		cfg := svc.cfg
		cfg.Directory, cfg.LDAP = dir, c.ldap
		r, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if u, err := r.Check(ctx, s.ID); (err == nil) != c.ok {
			t.Errorf("carol's LDAP session after a restart with %s: %q, %v; want ok=%v", c.name, u, err, c.ok)
		}
	}
	if _, err := svc.Login(ctx, "alice", "alice-pw", "127.0.0.1:1"); err != nil {
		t.Fatalf("alice from the users file beside LDAP: %v", err)
	}
	for _, c := range []struct{ user, pw string }{
		{"carol", "wrong"},
		{"carol", ""},   // an unauthenticated bind
		{"nobody", "x"}, // not in the directory
		{"erin", "carol-ldap-pw"},
		{"carol,ou=people", "carol-ldap-pw"}, // not a user name
		{"*", "carol-ldap-pw"},
	} {
		if _, err := svc.Login(ctx, c.user, c.pw, "127.0.0.2:1"); !errors.Is(err, linkis.ErrPermission) {
			t.Errorf("Login(%q, %q) = %v, want ErrPermission", c.user, c.pw, err)
		}
	}
	// A directory that cannot be reached is unavailable, not a wrong password.
	down := &LDAPConfig{URL: fmt.Sprintf("ldap://127.0.0.1:%d", freePort(t)), UserNameFormat: "uid=%s,ou=people," + ldapSuffix, Timeout: time.Second}
	svc2, _ := newTestService(t, Config{LDAP: down})
	if _, err := svc2.Login(ctx, "carol", "carol-ldap-pw", "127.0.0.1:1"); !errors.Is(err, linkis.ErrUnavailable) {
		t.Fatalf("a down directory: %v", err)
	}
}

func TestMain(m *testing.M) {
	hashCost = 4 // bcrypt's least: the tests check logic, not hash strength
	os.Exit(m.Run())
}

// A users file of any content is read or refused, never a panic, and an
// error never quotes a line (it may hold a code).
func FuzzReadDirectory(f *testing.F) {
	f.Add("user alice password=$2a$04$abcdefghijklmnopqrstuu\ntoken sha256:" + strings.Repeat("ab", 32) + " users=* hosts=10.0.0.0/8\nbob code\n")
	f.Add("alice:c0de\n# comment\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ReadDirectory(strings.NewReader(s), "users")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := d.Format(&buf); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadDirectory(&buf, "again"); err != nil {
			t.Fatalf("a directory's own file does not read back: %v\n%s", err, buf.String())
		}
	})
}

// The failed-login limit holds for guesses sent at once: each attempt is
// reserved before its password is hashed (pending attempts count), so of
// 40 wrong passwords for alice sent together, from 40 addresses, at most
// the limit (5) are checked, and the right one sent after them is refused
// (a regression test of the security review: checked before the hash and
// counted after it, all 40 were compared, and the right password sent
// among them logged in).
func TestLoginLimitHoldsForConcurrentGuesses(t *testing.T) {
	// A realistic cost (the tests' default is bcrypt's least): the race
	// needs the hashes to take the time real ones take.
	h, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), 8)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDirectory()
	if err := d.AddUser(User{Name: "alice", Hash: string(h)}); err != nil {
		t.Fatal(err)
	}
	svc, _ := newTestService(t, Config{Directory: d})
	ctx := context.Background()

	const wrong = 40
	var (
		wg              sync.WaitGroup
		start           = make(chan struct{})
		mu              sync.Mutex
		checked, capped int
	)
	for i := 0; i < wrong; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			// Each from its own address: only the per-user limit applies.
			_, err := svc.Login(ctx, "alice", fmt.Sprintf("guess-%d", i), fmt.Sprintf("10.0.%d.%d:1", i/250, i%250))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, linkis.ErrPermission):
				checked++ // the password was compared: a guess was made
			case errors.Is(err, linkis.ErrQuotaExceeded):
				capped++
			default:
				t.Errorf("attempt %d: %v", i, err)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	t.Logf("%d wrong passwords checked, %d refused by the limit", checked, capped)
	if checked > svc.cfg.MaxUserFailures {
		t.Errorf("%d wrong passwords for one user were checked in one window; the limit is %d", checked, svc.cfg.MaxUserFailures)
	}
	if _, err := svc.Login(ctx, "alice", "alice-pw", "10.1.0.1:1"); !errors.Is(err, linkis.ErrQuotaExceeded) {
		t.Errorf("the right password after %d wrong ones sent at once: %v, want refused until the window ends", checked, err)
	}
}

// The limiter lets no more attempts be checked at once than could still
// fail within the limit; one more waits for one of them to end (refused,
// as too many at once - not as failures - when it waits too long or its
// caller gives up), and is refused as a failure only once that many have
// failed. A success among attempts made at once forgives nothing.
func TestLimiterReservesAttempts(t *testing.T) {
	l := newLimiter(3, time.Minute, 10)
	l.maxWait = 50 * time.Millisecond
	now := time.Now()
	clock := func() time.Time { return now }
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := l.reserve(ctx, "k", clock); err != nil {
			t.Fatalf("attempt %d refused below the limit: %v", i, err)
		}
	}
	if _, err := l.reserve(ctx, "k", clock); !errors.Is(err, errTooManyAtOnce) {
		t.Fatalf("a fourth attempt while three are checked, none ended: %v, want it to wait and give up", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.reserve(cctx, "k", clock); !errors.Is(err, errTooManyAtOnce) {
		t.Fatalf("a fourth attempt whose caller gave up: %v", err)
	}
	if until, blocked := l.blocked("k", now); blocked {
		t.Fatalf("attempts being checked block a token until %v: they are no failures", until)
	}
	// A fourth attempt waits for one being checked, and goes on when it
	// ends well.
	l.maxWait = time.Minute
	got := make(chan error, 1)
	go func() { _, err := l.reserve(ctx, "k", clock); got <- err }()
	waitFor(t, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.keys["k"].waiting == 1 })
	l.release("k", now, false) // one succeeds...
	if err := <-got; err != nil {
		t.Fatalf("the waiting attempt after one ended well: %v", err)
	}
	l.reset("k") // ...while three are pending: nothing forgiven
	// Two fail: one more may be checked; a fifth waits, and is refused as
	// a failure when the third fails.
	l.release("k", now, true)
	l.release("k", now, true)
	go func() { _, err := l.reserve(ctx, "k", clock); got <- err }()
	waitFor(t, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.keys["k"].waiting == 1 })
	l.release("k", now, true)
	if err := <-got; !errors.Is(err, errTooManyFailures) {
		t.Fatalf("a waiting attempt when the third failure fills the window: %v", err)
	}
	if until, err := l.reserve(ctx, "k", clock); !errors.Is(err, errTooManyFailures) || !until.Equal(now.Add(time.Minute)) {
		t.Fatalf("three failures: %v until %v", err, until)
	}
	if _, blocked := l.blocked("k", now); !blocked {
		t.Fatal("three failures do not block a token")
	}
	later := func() time.Time { return now.Add(time.Minute) }
	if _, err := l.reserve(ctx, "k", later); err != nil {
		t.Fatalf("refused after the window ended: %v", err)
	}
	l.release("k", later(), false)
	l.reset("k")
	if len(l.keys) != 0 {
		t.Fatalf("a success with nothing pending left %d keys", len(l.keys))
	}
}

// waitFor polls cond until it holds (10 s at most).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// A login whose caller gives up while it waits for a hash slot is no
// failed login: no password was compared.
func TestLoginGivenUpBeforeItsHashIsNoFailure(t *testing.T) {
	d := NewDirectory()
	if err := d.AddUser(User{Name: "alice", Hash: mustHash(t, "alice-pw")}); err != nil {
		t.Fatal(err)
	}
	svc, _ := newTestService(t, Config{Directory: d})
	for i := 0; i < cap(svc.hashSlot); i++ {
		svc.hashSlot <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	for i := 0; i < svc.cfg.MaxUserFailures+1; i++ {
		if _, err := svc.Login(ctx, "alice", "wrong", "10.0.0.1:1"); errors.Is(err, linkis.ErrPermission) || err == nil {
			t.Fatalf("a login given up before its hash: %v", err)
		}
	}
	for i := 0; i < cap(svc.hashSlot); i++ {
		<-svc.hashSlot
	}
	if _, err := svc.Login(context.Background(), "alice", "alice-pw", "10.0.0.1:1"); err != nil {
		t.Fatalf("alice after logins given up before their hash: %v", err)
	}
}

// The limiters keep short keys whatever a failed login sends: a name that
// cannot be a user name is not kept at all (only its address's limit
// applies: it can never log in), and the addresses of one IPv6 /64 are
// one key (a regression test of the security review: a whole user name
// of up to the body's 1 MiB was kept per failure for the window).
func TestLimiterKeysAreBounded(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	ctx := context.Background()
	const n, size = 8, 256 << 10
	for i := 0; i < n; i++ {
		name := strings.Repeat(string(rune('a'+i)), size) // not a valid user name at all
		if _, err := svc.Login(ctx, name, "x", fmt.Sprintf("[2001:db8::%x]:1", i)); !errors.Is(err, linkis.ErrPermission) {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	kept := 0
	svc.byUser.mu.Lock()
	for k := range svc.byUser.keys {
		kept += len(k)
	}
	svc.byUser.mu.Unlock()
	if kept > n*256 {
		t.Errorf("the limiter keeps %d bytes of keys for %d failed logins (%d KiB each): a key is the whole user name sent", kept, n, size>>10)
	}
	svc.byAddr.mu.Lock()
	defer svc.byAddr.mu.Unlock()
	if w := svc.byAddr.keys["2001:db8::/64"]; len(svc.byAddr.keys) != 1 || w == nil || w.failures != n {
		t.Errorf("%d failures from one IPv6 /64: the address limiter holds %d keys", n, len(svc.byAddr.keys))
	}
}

// An unknown user costs what a known user costs: the dummy hash a wrong
// name's password is compared against is of the algorithm and cost of the
// users file's hashes (a regression test of the security review: it was
// bcrypt at the default cost whatever the file held, and a file of
// htpasswd -B -C 12 hashes - 4x the default's time - or of argon2id
// hashes told its users from unknown names by the answer's time).
func TestUnknownUserCostsWhatAKnownUserCosts(t *testing.T) {
	h6, err := bcrypt.GenerateFromPassword([]byte("pw"), 6) // the tests' default is cost 4: 4x apart, as 12 is to 10
	if err != nil {
		t.Fatal(err)
	}
	d := NewDirectory()
	d.AddUser(User{Name: "alice", Hash: string(h6)})
	d.AddUser(User{Name: "bob", Hash: mustHash(t, "bob-pw")})
	d.AddUser(User{Name: "tokens-only"})
	svc, _ := newTestService(t, Config{Directory: d})
	if c, err := bcrypt.Cost([]byte(svc.dummy)); err != nil || c != 6 {
		t.Errorf("users of bcrypt costs 6 and 4: the dummy hash has cost %d (%v), want 6", c, err)
	}
	// A file of argon2id hashes: an argon2id dummy of their parameters.
	d = NewDirectory()
	d.AddUser(User{Name: "carol", Hash: argon2idHashOf("carol-pw")})
	d.AddUser(User{Name: "dave", Hash: argon2idHashOf("dave-pw")})
	d.AddUser(User{Name: "erin", Hash: mustHash(t, "erin-pw")})
	svc, _ = newTestService(t, Config{Directory: d})
	got, err := parseArgon2id(svc.dummy)
	if err != nil {
		t.Fatalf("users of argon2id hashes: the dummy %q is not one: %v", svc.dummy[:min(len(svc.dummy), 12)], err)
	}
	want, _ := parseArgon2id(argon2idHashOf("x"))
	if got.memory != want.memory || got.time != want.time || got.threads != want.threads || len(got.value) != len(want.value) {
		t.Errorf("the argon2id dummy has m=%d,t=%d,p=%d and %d bytes; the users' m=%d,t=%d,p=%d and %d", got.memory, got.time, got.threads, len(got.value),
			want.memory, want.time, want.threads, len(want.value))
	}
	// And an unknown user's login does compare against it: a wrong
	// password fails as a known user's does.
	if _, err := svc.Login(context.Background(), "mallory", "x", "127.0.0.1:1"); !errors.Is(err, linkis.ErrPermission) {
		t.Fatalf("unknown user: %v", err)
	}
}

// A login's name is lower-cased, as Linkis's gateway does
// (linkis-spring-cloud-services/linkis-service-gateway/linkis-gateway-core/
// src/main/scala/org/apache/linkis/gateway/security/UserRestful.scala,
// UserPwdAbstractUserRestful.tryLogin: userName.toLowerCase before login
// and setLoginUser): with LDAP, whose uid matches without case, "Carol"
// is carol - the same failure count and the same golinkis user, not a
// second one with jobs, limits and rights of its own (a regression test
// of the security review: each case variant had its own 5 guesses and
// logged in as another user). The users file names login users in lower
// case accordingly; Token-User stays as sent (Linkis's
// TokenAuthentication.scala takes it as is).
func TestLDAPNameVariantsAreOneUser(t *testing.T) {
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
	// Not locked out: any spelling logs in as carol, and a users file's
	// user too.
	d := NewDirectory()
	d.AddUser(User{Name: "alice", Hash: mustHash(t, "alice-pw")})
	svc, _ = newTestService(t, Config{Directory: d, LDAP: ldapCfg})
	for _, c := range []struct{ name, pw, want string }{{"CaRoL", "carol-ldap-pw", "carol"}, {"ALICE", "alice-pw", "alice"}} {
		s, err := svc.Login(ctx, c.name, c.pw, "10.0.2.1:1")
		if err != nil || s.User != c.want {
			t.Errorf("login as %q: user %q, %v; want %q", c.name, s.User, err, c.want)
		}
	}
	// A users file line that names a login user in capitals could never
	// log in: it is refused, saying why.
	if _, err := ReadDirectory(strings.NewReader("user Alice password="+mustHash(t, "x")+"\n"), "users"); err == nil || !strings.Contains(err.Error(), "lower case") {
		t.Errorf("a user line for \"Alice\": %v, want refused as not lower case", err)
	}
	if err := d.AddUser(User{Name: "Bob", Hash: mustHash(t, "x")}); err == nil {
		t.Error("AddUser(\"Bob\") was accepted")
	}
	if _, err := ReadDirectory(strings.NewReader(fmt.Sprintf("token sha256:%x users=Bob\n", HashCode("c"))), "users"); err != nil {
		t.Errorf("a token for Token-User \"Bob\" (taken as sent): %v", err)
	}
}

// A session ends when its user is removed from the users file or their
// password changes (a restart with the new file; the sessions stay in the
// replicated state, but their ids' tags no longer match the user's
// credential), or when the user's sessions= count is raised (`linkis users
// logout`); a restart with the same file keeps it (a regression test of
// the security review: Check never consulted the users, and a session
// outlived both for up to its 7-day deadline).
func TestSessionEndsWhenUserIsRemoved(t *testing.T) {
	var file bytes.Buffer
	d := NewDirectory()
	if err := d.AddUser(User{Name: "alice", Hash: mustHash(t, "alice-pw")}); err != nil {
		t.Fatal(err)
	}
	d.Format(&file)
	svc, _ := newTestService(t, Config{Directory: d})
	ctx := context.Background()
	s, err := svc.Login(ctx, "alice", "alice-pw", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	// restart is the server started again on the same replicated state
	// with a users file.
	restart := func(users string) *Service {
		t.Helper()
		d, err := ReadDirectory(strings.NewReader(users), "users")
		if err != nil {
			t.Fatal(err)
		}
		cfg := svc.cfg
		cfg.Directory = d
		r, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if u, err := restart(file.String()).Check(ctx, s.ID); err != nil || u != "alice" {
		t.Fatalf("a restart with the same users file: %q, %v", u, err)
	}
	if u, err := restart("").Check(ctx, s.ID); !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("alice was removed from the users file and the server restarted, yet her session still authenticates as %q (%v)", u, err)
	}
	// Her password changed (say it leaked): the old session ends too.
	if u, err := restart("user alice password="+mustHash(t, "new-pw")+"\n").Check(ctx, s.ID); !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("alice's password was changed and the server restarted, yet the session opened with the old one still authenticates as %q (%v)", u, err)
	}
	// An operator ends her sessions without changing her password.
	loggedOut := strings.TrimSuffix(file.String(), "\n") + " sessions=1\n"
	if u, err := restart(loggedOut).Check(ctx, s.ID); !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("alice's sessions= count was raised, yet her session still authenticates as %q (%v)", u, err)
	}
	// The one that read the old file still has it: the tags are checked
	// against each member's own file.
	if u, err := svc.Check(ctx, s.ID); err != nil || u != "alice" {
		t.Fatalf("the server that still reads the old file: %q, %v", u, err)
	}
}

// An LDAP login can upgrade its ldap:// connection with StartTLS before
// the password is sent (linkis server --ldap-starttls): against a real
// slapd offering it, with the directory's CA the login works; with a CA
// that did not sign its certificate the directory is unavailable, and no
// password was sent in clear.
func TestLDAPStartTLS(t *testing.T) {
	srv, pool := startSlapdTLS(t, map[string]string{"carol": "carol-ldap-pw"})
	ctx := context.Background()
	cfg := LDAPConfig{URL: srv.URL, BaseDN: ldapSuffix, UserNameFormat: "uid=%s,ou=people", StartTLS: true, TLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	svc, _ := newTestService(t, Config{LDAP: &cfg})
	if s, err := svc.Login(ctx, "carol", "carol-ldap-pw", "127.0.0.1:1"); err != nil || s.User != "carol" {
		t.Fatalf("carol over StartTLS: %q, %v", s.User, err)
	}
	if _, err := svc.Login(ctx, "carol", "wrong", "127.0.0.1:1"); !errors.Is(err, linkis.ErrPermission) {
		t.Fatalf("a wrong password over StartTLS: %v", err)
	}
	untrusted := cfg
	untrusted.TLS = &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "127.0.0.1"}
	svc, _ = newTestService(t, Config{LDAP: &untrusted})
	if _, err := svc.Login(ctx, "carol", "carol-ldap-pw", "127.0.0.1:1"); !errors.Is(err, linkis.ErrUnavailable) {
		t.Fatalf("StartTLS to a directory whose certificate is not trusted: %v, want unavailable", err)
	}
	if err := (LDAPConfig{URL: "ldaps://ldap:636", StartTLS: true}).Validate(); err == nil {
		t.Error("StartTLS on an ldaps:// URL (TLS already) was accepted")
	}
	for _, u := range []string{"ldap://", "ldap://:389", "ldap://%zz"} {
		if err := (LDAPConfig{URL: u}).Validate(); !errors.Is(err, linkis.ErrInvalidArgument) || !strings.Contains(err.Error(), u) {
			t.Errorf("an LDAP URL naming no host (%s): %v, want an invalid argument naming it", u, err)
		}
	}
}
