package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// visit is one request of a logged-in user.
type visit struct {
	w       http.ResponseWriter
	r       *http.Request
	user    string
	admin   bool
	session string
	csrf    string
}

// view starts a page's view for the visitor.
func (v *visit) view(title, nav string, data any) view {
	return view{Title: title, Nav: nav, User: v.user, Admin: v.admin, CSRF: v.csrf, Data: data, Message: flashOf(v.r)}
}

// The cookie of a login form's CSRF token (double submit: there is no
// session yet to derive it from).
const loginCSRFCookie = "linkis_console_login"

// csrfToken is the CSRF token of a session: an HMAC of its id. Every
// member computes the same one, nothing is stored, and the token (which
// pages carry) tells nothing of the id (which only the cookie carries).
func csrfToken(session string) string {
	m := hmac.New(sha256.New, []byte(session))
	m.Write([]byte("golinkis console csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func sameToken(a, b string) bool {
	return a != "" && len(a) == len(b) && hmac.Equal([]byte(a), []byte(b))
}

// authenticate finds the visitor's session; ok is false without a live
// one (none, expired, logged out, forged). err is a failure to check.
func (c *Console) authenticate(w http.ResponseWriter, r *http.Request) (*visit, bool, error) {
	ck, err := r.Cookie(restapi.SessionCookie)
	if err != nil || ck.Value == "" {
		return nil, false, nil
	}
	user, err := c.cfg.Auth.Check(r.Context(), ck.Value)
	if err != nil {
		if errors.Is(err, linkis.ErrPermission) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return &visit{w: w, r: r, user: user, admin: c.cfg.IsAdmin(user), session: ck.Value, csrf: csrfToken(ck.Value)}, true, nil
}

// toLogin sends a visitor without a session to the login page, to come
// back to next afterwards.
func toLogin(w http.ResponseWriter, r *http.Request, next string, expired bool) {
	q := url.Values{"next": {next}}
	if expired {
		q.Set("expired", "1")
	}
	http.Redirect(w, r, "/login?"+q.Encode(), http.StatusSeeOther)
}

// page wraps a GET page: a visitor without a session goes to the login
// page (and comes back).
func (c *Console) page(fn func(*visit) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, ok, err := c.authenticate(w, r)
		if err != nil {
			code, msg := c.explain(r, err)
			c.fail(w, r, nil, code, msg)
			return
		}
		if !ok {
			toLogin(w, r, r.URL.RequestURI(), false)
			return
		}
		if err := fn(v); err != nil {
			c.failErr(v, err)
		}
	}
}

// form wraps a state-changing POST: the body is bounded, the session must
// be live and the CSRF token right - checked in that order, before fn
// runs, so a refused form changes nothing.
func (c *Console) form(fn func(*visit) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !c.readForm(w, r) {
			return
		}
		v, ok, err := c.authenticate(w, r)
		if err != nil {
			code, msg := c.explain(r, err)
			c.fail(w, r, nil, code, msg)
			return
		}
		if !ok {
			// Back to the login page; the form is not sent again after it.
			toLogin(w, r, backTo(r), true)
			return
		}
		token := r.PostForm.Get("csrf")
		if token == "" {
			token = r.Header.Get("X-CSRF-Token")
		}
		if !sameToken(token, v.csrf) {
			c.fail(w, r, v, http.StatusForbidden, "This form's security token is missing or wrong (a forged form, or one from an earlier login); nothing was done. Reload the page and try again.")
			return
		}
		if err := fn(v); err != nil {
			c.failErr(v, err)
		}
	}
}

// readForm parses a form body of at most MaxFormBytes; a larger one is
// refused with a page.
func (c *Console) readForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, c.cfg.MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			c.fail(w, r, nil, http.StatusRequestEntityTooLarge, "The form is larger than "+linkis.FormatMemory(c.cfg.MaxFormBytes)+"; nothing was done.")
		} else {
			c.fail(w, r, nil, http.StatusBadRequest, "The form cannot be read; nothing was done.")
		}
		return false
	}
	return true
}

// backTo is where a refused form's visitor returns after logging in: the
// page the form was on, when it is one of ours.
func backTo(r *http.Request) string {
	if u, err := url.Parse(r.Referer()); err == nil && u.Host == r.Host && strings.HasPrefix(u.Path, "/") {
		return u.RequestURI()
	}
	return "/jobs"
}

// localPath accepts a "next" that is a page of the console only: a path,
// never another host (an open redirect), and never another handler's
// path - the REST API's GET entrance/{execID}/kill would be a kill the
// victim makes by logging in. Browsers read a backslash as a slash and
// drop tabs and newlines from URLs ("/<backslash>evil" and "/<tab>/evil"
// are "//evil" to them): a next with either is refused too.
func (c *Console) localPath(next string) string {
	if next == "" || len(next) > 2048 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/jobs"
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "/jobs"
		}
	}
	if !c.isPage(next) {
		return "/jobs"
	}
	return next
}

// isPage reports whether a path (with its query) is one of the console's
// pages: a GET route other than the catch-all, the login page, the
// assets and a job's log stream.
func (c *Console) isPage(next string) bool {
	u, err := url.Parse(next)
	if err != nil || u.Path != path.Clean(u.Path) {
		return false
	}
	r, err := http.NewRequest(http.MethodGet, u.Path, nil)
	if err != nil {
		return false
	}
	_, pattern := c.mux.Handler(r)
	switch pattern {
	case "", "/", "GET /login", "GET /static/", "GET /jobs/{id}/follow":
		return false
	}
	return true
}

type loginData struct {
	Next, UserName string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok, _ := c.authenticate(w, r); ok {
		http.Redirect(w, r, c.localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	pv := view{Title: "Log in", Data: loginData{Next: c.localPath(r.URL.Query().Get("next"))}}
	if r.URL.Query().Get("expired") != "" {
		pv.Error = "Your session has ended (it expired or you logged out): log in again. Nothing was done."
	}
	c.renderLogin(w, r, http.StatusOK, pv)
}

// renderLogin renders the login page with a fresh CSRF cookie and token.
func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, code int, pv view) {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: tok, Path: "/login", HttpOnly: true, Secure: c.cfg.TrustedProxies.Secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	pv.CSRF = tok
	c.render(w, code, "login", pv)
}

// login checks the form's token, then the user name and password with the
// identity service (password file or LDAP), and opens a session.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !c.readForm(w, r) {
		return
	}
	f := r.PostForm
	next := c.localPath(f.Get("next"))
	d := loginData{Next: next, UserName: clip(f.Get("userName"), maxShortField)}
	ck, err := r.Cookie(loginCSRFCookie)
	if err != nil || !sameToken(f.Get("csrf"), ck.Value) {
		c.renderLogin(w, r, http.StatusForbidden, view{Title: "Log in", Data: d,
			Error: "This login form's security token is missing or wrong (a forged form, or an old page); nothing was done. Try again."})
		return
	}
	user, pw := f.Get("userName"), f.Get("password")
	if user == "" || pw == "" || len(user) > maxShortField || len(pw) > 1024 {
		c.renderLogin(w, r, http.StatusBadRequest, view{Title: "Log in", Data: d, Error: "Give your user name and password."})
		return
	}
	s, err := c.cfg.Auth.Login(r.Context(), user, pw, c.cfg.TrustedProxies.ClientAddr(r))
	if err != nil {
		code, msg := c.explain(r, err)
		if errors.Is(err, linkis.ErrPermission) {
			code, msg = http.StatusUnauthorized, "Wrong user name or password."
		}
		c.renderLogin(w, r, code, view{Title: "Log in", Data: d, Error: msg})
		return
	}
	secure := c.cfg.TrustedProxies.Secure(r)
	http.SetCookie(w, restapi.NewSessionCookie(s.ID, secure))
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Path: "/login", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(v *visit) error {
	if err := c.cfg.Auth.Logout(v.r.Context(), v.session); err != nil {
		return err
	}
	// The session cookie is the REST API's (the console's login also
	// serves the API's downloads), set and cleared by its code.
	http.SetCookie(v.w, restapi.NewSessionCookie("", c.cfg.TrustedProxies.Secure(v.r)))
	http.Redirect(v.w, v.r, "/login", http.StatusSeeOther)
	return nil
}

// The notice a redirect after a form carries to the next page (a word
// from a fixed list, never text from the request).
var flashes = map[string]string{
	"killed":    "The job was killed.",
	"rerun":     "The job was submitted again: this is the new one.",
	"submitted": "The job was submitted.",
	"drained":   "The ECM is drained: no new engine starts there; running ones finish.",
	"undrained": "The ECM takes new engines again.",
	"ekilled":   "The engine was killed.",
	"saved":     "Saved.",
}

func flashOf(r *http.Request) string { return flashes[r.URL.Query().Get("done")] }

// clip shortens a value echoed on a page.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "?")
}
