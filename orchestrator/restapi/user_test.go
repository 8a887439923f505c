package restapi_test

// The user API's security: who a request comes from, and what an
// anonymous one may cost.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/orchestrator/identity"
	"github.com/golinkis/golinkis/orchestrator/restapi"
	"github.com/golinkis/golinkis/orchestrator/restapi/restapitest"
	"github.com/golinkis/golinkis/raftstore"
)

// loginHandler is the REST API over an in-memory replicated store with
// logins (identity.Service, default limits): alice with the password
// alice-pw, and a legacy token code for her.
func loginHandler(t *testing.T) (http.Handler, *raftstore.Memory) {
	t.Helper()
	d, err := identity.ParseSpec("alice:alice-code") // a token code an operator chose ($LINKIS_USERS)
	if err != nil {
		t.Fatal(err)
	}
	return passwordHandler(t, d, "alice", "alice-pw")
}

// passwordHandler is the REST API over an in-memory replicated store with
// the users of d, user added with password, and admins.
func passwordHandler(t *testing.T, d *identity.Directory, user, password string, admins ...string) (http.Handler, *raftstore.Memory) {
	t.Helper()
	st, err := raftstore.OpenMemory(raftstore.DefaultMemoryConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hash, err := identity.HashPassword(password)
	if err == nil {
		err = d.AddUser(identity.User{Name: user, Hash: hash})
	}
	if err != nil {
		t.Fatal(err)
	}
	ic := identity.DefaultConfig()
	ic.Directory, ic.Store = d, st
	auth, err := identity.New(ic)
	if err != nil {
		t.Fatal(err)
	}
	rc := restapi.DefaultConfig()
	rc.Auth, rc.Admins, rc.Logger = auth, admins, slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := restapi.NewHandler(restapitest.NewJobs(), rc)
	if err != nil {
		t.Fatal(err)
	}
	return h, st
}

// user/logout is public: a logout of a session id that names no session
// writes nothing to the replicated log (a regression test of the security
// review: any well-formed cookie was proposed as a DeleteSession command,
// one log entry - written to disk, sent to every member - per anonymous
// request), and a logout of a live one ends it.
func TestAnonymousLogoutWritesNothing(t *testing.T) {
	h, st := loginHandler(t)
	logout := func(id string) int {
		r := httptest.NewRequest("GET", restapi.Prefix+"/user/logout", nil)
		r.AddCookie(&http.Cookie{Name: restapi.SessionCookie, Value: id})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	before := st.AppliedIndex()
	for i := 0; i < 100; i++ {
		// Well-formed ids (32 bytes and a 16-byte tag) of no session.
		if code := logout(base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%048d", i)))); code != http.StatusOK {
			t.Fatalf("logout: HTTP %d", code)
		}
	}
	if after := st.AppliedIndex(); after != before {
		t.Errorf("100 anonymous logouts of sessions that never existed moved the applied index from %d to %d", before, after)
	}
	// A live session's logout is written, and ends it.
	r := httptest.NewRequest("POST", restapi.Prefix+"/user/login", strings.NewReader(`{"userName":"alice","password":"alice-pw"}`))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var id string
	for _, c := range w.Result().Cookies() {
		if c.Name == restapi.SessionCookie {
			id = c.Value
		}
	}
	if id == "" {
		t.Fatalf("login: HTTP %d %s", w.Code, w.Body)
	}
	before = st.AppliedIndex()
	logout(id)
	if after := st.AppliedIndex(); after != before+1 {
		t.Errorf("a live session's logout moved the applied index from %d to %d, want one command", before, after)
	}
	r = httptest.NewRequest("GET", restapi.Prefix+"/user/userInfo", nil)
	r.AddCookie(&http.Cookie{Name: restapi.SessionCookie, Value: id})
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("a logged-out session: HTTP %d", w.Code)
	}
}

// Token codes cannot be guessed without limit, nor tested for validity: a
// refused Token-Code counts as a failure of its address in the failed
// login limiter (20 in 15 minutes), after which the address is refused
// with 429 - the right code too, until the window ends - and every
// refusal answers alike, whether the code exists or not (a regression
// test of the security review: no limit, and "the token may not act as
// this user" against "wrong Token-User or Token-Code" told which codes
// exist - codes that operators chose or limited to hosts).
func TestTokenGuessesAreLimited(t *testing.T) {
	h, _ := loginHandler(t)
	ask := func(user, code string) (int, string) {
		r := httptest.NewRequest("GET", restapi.Prefix+"/user/userInfo", nil)
		r.RemoteAddr = "192.0.2.7:4444"
		r.Header.Set(restapi.HeaderTokenUser, user)
		r.Header.Set(restapi.HeaderTokenCode, code)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var env restapi.Envelope
		_ = json.Unmarshal(w.Body.Bytes(), &env)
		return w.Code, env.Message
	}
	limited := 0
	for i := 0; i < 200; i++ {
		if code, _ := ask("alice", fmt.Sprintf("guess-%d", i)); code == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited != 180 {
		t.Errorf("200 wrong Token-Codes from one address: %d refused with 429, want all after the first 20", limited)
	}
	if code, _ := ask("alice", "alice-code"); code != http.StatusTooManyRequests {
		t.Errorf("the right code from an address that guessed 200 times: HTTP %d, want 429", code)
	}
	// Another address: refused alike for a valid code with another user
	// and for an invalid one; the right code works.
	h, _ = loginHandler(t)
	_, wrongMsg := ask("nobody", "guess")
	wrongCode, rightMsg := ask("nobody", "alice-code")
	if wrongMsg != rightMsg || wrongCode != http.StatusForbidden {
		t.Errorf("a valid code with another user is answered %q, an invalid one %q (HTTP %d): the answer says which codes exist", rightMsg, wrongMsg, wrongCode)
	}
	if code, msg := ask("alice", "alice-code"); code != http.StatusOK {
		t.Errorf("the right code: HTTP %d %q", code, msg)
	}
}

// Behind a reverse proxy named in TrustedProxies, a request comes from
// the rightmost address of X-Forwarded-For that is not a trusted proxy,
// and its cookie is Secure when X-Forwarded-Proto says https: twenty
// wrong passwords from one client lock that client out, not every client
// of the proxy, and a token's hosts= sees the client. From a peer that is
// not trusted the headers are ignored - a client cannot pick an address
// to escape the limit (a regression test of the security review: every
// client behind the README's proxy was one address, and the cookie lost
// Secure behind TLS).
func TestOneProxyIsNotOneClient(t *testing.T) {
	st, err := raftstore.OpenMemory(raftstore.DefaultMemoryConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d, err := identity.ReadDirectory(strings.NewReader(fmt.Sprintf("token sha256:%x users=alice hosts=198.51.100.0/24\n", identity.HashCode("office-code"))), "users")
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := identity.HashPassword("alice-pw")
	d.AddUser(identity.User{Name: "alice", Hash: hash})
	ic := identity.DefaultConfig()
	ic.Directory, ic.Store = d, st
	auth, _ := identity.New(ic)
	handler := func(trusted ...string) http.Handler {
		rc := restapi.DefaultConfig()
		rc.Auth, rc.Logger = auth, slog.New(slog.NewTextHandler(io.Discard, nil))
		rc.TrustedProxies, err = restapi.ParseTrustedProxies(strings.Join(trusted, ","))
		if err != nil {
			t.Fatal(err)
		}
		h, err := restapi.NewHandler(restapitest.NewJobs(), rc)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	proxied := func(h http.Handler, r *http.Request, peer, forwardedFor string) *httptest.ResponseRecorder {
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", forwardedFor)
		r.Header.Set("X-Forwarded-Proto", "https")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	login := func(h http.Handler, user, pw, peer, forwardedFor string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", restapi.Prefix+"/user/login", strings.NewReader(`{"userName":"`+user+`","password":"`+pw+`"}`))
		return proxied(h, r, peer, forwardedFor)
	}
	token := func(h http.Handler, peer, forwardedFor string) int {
		r := httptest.NewRequest("GET", restapi.Prefix+"/user/userInfo", nil)
		r.Header.Set(restapi.HeaderTokenUser, "alice")
		r.Header.Set(restapi.HeaderTokenCode, "office-code")
		return proxied(h, r, peer, forwardedFor).Code
	}
	const proxy = "127.0.0.1:40000"
	h := handler("127.0.0.1", "10.9.0.0/16")
	// A client's own X-Forwarded-For is to the left of what the proxies
	// add: the first proxy (10.9.0.1) saw 203.0.113.66.
	for i := 0; i < 20; i++ {
		login(h, fmt.Sprintf("nobody%d", i), "guess", proxy, fmt.Sprintf("192.0.2.%d, 203.0.113.66, 10.9.0.1", i))
	}
	if w := login(h, "alice", "alice-pw", proxy, "203.0.113.66, 10.9.0.1"); w.Code != http.StatusTooManyRequests {
		t.Errorf("the client that failed 20 times, through the proxies: HTTP %d, want 429", w.Code)
	}
	w := login(h, "alice", "alice-pw", proxy, "198.51.100.7")
	if w.Code != http.StatusOK {
		t.Fatalf("twenty wrong passwords from 203.0.113.66 through the proxy; alice, from 198.51.100.7 with her right password, gets HTTP %d", w.Code)
	}
	if cs := w.Result().Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Errorf("a login through a TLS proxy (X-Forwarded-Proto: https) set %v, want a Secure cookie", cs)
	}
	if got := token(h, proxy, "198.51.100.7"); got != http.StatusOK {
		t.Errorf("a token for hosts=198.51.100.0/24 from 198.51.100.7 through the proxy: HTTP %d", got)
	}
	if got := token(h, proxy, "198.51.100.7, 192.0.2.1"); got != http.StatusForbidden {
		t.Errorf("the token from 192.0.2.1, which wrote 198.51.100.7 in X-Forwarded-For itself: HTTP %d, want 403", got)
	}
	// Trusting no proxy (the default), the headers are ignored: the peer
	// is the client, whatever X-Forwarded-For says.
	h = handler()
	if got := token(h, "198.51.100.9:5000", "192.0.2.1"); got != http.StatusOK {
		t.Errorf("the token from 198.51.100.9 with a forged X-Forwarded-For: HTTP %d, want 200", got)
	}
	if got := token(h, "192.0.2.2:5000", "198.51.100.7"); got != http.StatusForbidden {
		t.Errorf("the token from 192.0.2.2 claiming 198.51.100.7, no proxy trusted: HTTP %d, want 403", got)
	}
	if w := login(h, "alice", "alice-pw", "198.51.100.9:5000", ""); len(w.Result().Cookies()) != 1 || w.Result().Cookies()[0].Secure {
		t.Errorf("a plain-HTTP login claiming X-Forwarded-Proto: https, no proxy trusted: cookie %v, want not Secure", w.Result().Cookies())
	}
}
