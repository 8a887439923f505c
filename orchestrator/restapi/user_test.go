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
	st, err := raftstore.OpenMemory(raftstore.DefaultMemoryConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d, err := identity.ParseSpec("alice:alice-code") // a token code an operator chose ($LINKIS_USERS)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := identity.HashPassword("alice-pw")
	if err == nil {
		err = d.AddUser(identity.User{Name: "alice", Hash: hash})
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
	rc.Auth, rc.Logger = auth, slog.New(slog.NewTextHandler(io.Discard, nil))
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
