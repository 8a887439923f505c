package restapi

import (
	"errors"
	"net/http"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// The gateway's user API, as Linkis's clients call it (UserRestful): the
// SDK's StaticAuthenticationStrategy posts {userName, password, source}
// to user/login and keeps the session cookie it gets; the console also
// asks user/publicKey first and user/userInfo, user/heartbeat and
// user/logout later.
var userRoutes = []route{
	{methods: post, pattern: "/user/login", public: true, handle: (*handler).login},
	{methods: getPost, pattern: "/user/logout", public: true, handle: (*handler).logout},
	{methods: get, pattern: "/user/publicKey", public: true, handle: (*handler).publicKey},
	{methods: getPost, pattern: "/user/userInfo", handle: (*handler).userInfo},
	{methods: getPost, pattern: "/user/heartbeat", handle: (*handler).heartbeat},
}

// authenticate finds who calls: the Token-User and Token-Code headers (or
// cookies of those names) when a request carries them, else the session
// cookie. It returns the user, or the reply refusing the request: -1 (HTTP
// 401, which makes Linkis's SDK log in again) without credentials or with
// a session that expired, was logged out or never was; 3 (403) for a
// wrong, expired or misplaced token, one answer for all; 429 from an
// address with too many refused tokens or logins.
//
// byCookie says the credentials came in cookies, which a browser sends by
// itself - on requests another site makes it send, too (see crossSite).
func (h *handler) authenticate(r *http.Request) (user string, byCookie bool, rep *reply) {
	user, code := r.Header.Get(HeaderTokenUser), r.Header.Get(HeaderTokenCode)
	if user == "" && code == "" {
		user, code = cookieValue(r, HeaderTokenUser), cookieValue(r, HeaderTokenCode)
		byCookie = true
	}
	user, rep = h.credentials(r, user, code)
	return user, byCookie, rep
}

// credentials checks a token's user and code, or else the session
// cookie.
func (h *handler) credentials(r *http.Request, user, code string) (string, *reply) {
	if user != "" || code != "" {
		if err := h.auth.Token(user, code, h.cfg.TrustedProxies.ClientAddr(r)); err != nil {
			if errors.Is(err, linkis.ErrQuotaExceeded) {
				return "", &reply{err: err} // 429, too many refused from this address
			}
			msg := "auth failed: wrong " + HeaderTokenUser + " or " + HeaderTokenCode
			if le := (*linkis.Error)(nil); errors.As(err, &le) && le.Reason != "" {
				msg = "auth failed: " + le.Reason // never the code, nor which check failed
			}
			return "", &reply{status: StatusAuthFailed, code: http.StatusForbidden, msg: msg}
		}
		return user, nil
	}
	if id := cookieValue(r, SessionCookie); id != "" {
		user, err := h.auth.Check(r.Context(), id)
		if err == nil {
			return user, nil
		}
		if !errors.Is(err, linkis.ErrPermission) {
			return "", &reply{err: err}
		}
		return "", &reply{status: StatusNotLoggedIn, code: http.StatusUnauthorized,
			msg: "not logged in: the session expired or was logged out; log in again (POST " + Prefix + PathLogin + ")"}
	}
	return "", &reply{status: StatusNotLoggedIn, code: http.StatusUnauthorized,
		msg: "not logged in: log in (POST " + Prefix + PathLogin + ") or send the " + HeaderTokenUser + " and " + HeaderTokenCode + " headers"}
}

// crossSite refuses a request authenticated by cookies that changes
// something (any method but GET and HEAD, or a GET route marked so) when
// the browser says another site made it send it: Sec-Fetch-Site
// cross-site or same-site (a sibling host is another site's page here).
// Browsers send the header on every request since 2023; other clients
// send none and are not refused - nor is a request authenticated by the
// token headers, which no other site can make a browser add.
func crossSite(r *http.Request, rt *route) *reply {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !rt.changes {
		return nil
	}
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "cross-site", "same-site":
		return &reply{status: StatusAuthFailed, code: http.StatusForbidden,
			msg: "refused: a page of another site (Sec-Fetch-Site: " + site + ") may not change anything with this browser's session cookie; use the console of this server, or the " + HeaderTokenUser + " and " + HeaderTokenCode + " headers"}
	}
	return nil
}

func cookieValue(r *http.Request, name string) string {
	if c, err := r.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}

// NewSessionCookie is the cookie of a session id (an empty id clears
// it), as both the REST API's login and the web console's set it: Secure
// when the client's connection is TLS (Proxies.Secure), HttpOnly, and
// SameSite=Strict: a browser sends it on no request another site starts,
// top-level GETs included (Lax sends it on those, and entrance/{id}/kill
// is a GET). The console's pages are same-site, which Strict does not
// touch; Linkis's SDK and linkis-cli keep cookies in a jar that ignores
// SameSite, or send the token headers.
func NewSessionCookie(id string, secure bool) *http.Cookie {
	c := &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode}
	if id == "" {
		c.MaxAge = -1
	}
	return c
}

// login checks a user name and password (from the JSON body, or from
// userName and password parameters as Linkis's gateway also reads them)
// and opens a session: its id comes back in the session cookie, new at
// each login. A wrong name or password is status 1 (HTTP 400, as Linkis
// answers it: Linkis's SDK must not take it for an expired session); too
// many failures 429.
func (h *handler) login(c *apiCall) *reply {
	var b LoginBody
	q := c.r.URL.Query()
	if q.Has("userName") {
		b.UserName, b.Password = q.Get("userName"), q.Get("password")
	} else {
		body, rep := h.readBody(c)
		if rep != nil {
			return rep
		}
		if err := api.Decode(body, &b); err != nil {
			return &reply{err: err}
		}
	}
	switch {
	case b.UserName == "":
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "userName", "Username can not be empty(用户名不能为空)！")}
	case b.Password == "":
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "password", "Password can not be blank(密码不能为空)！")}
	}
	s, err := h.auth.Login(c.r.Context(), b.UserName, b.Password, h.cfg.TrustedProxies.ClientAddr(c.r))
	if err != nil {
		if errors.Is(err, linkis.ErrPermission) {
			return &reply{err: err, status: StatusError, code: http.StatusBadRequest}
		}
		return &reply{err: err}
	}
	return &reply{msg: "login successful(登录成功)！", cookie: NewSessionCookie(s.ID, h.cfg.TrustedProxies.Secure(c.r)),
		data: LoginData{UserName: s.User, IsAdmin: h.cfg.IsAdmin(s.User), SessionTimeOut: s.Timeout.Milliseconds()}}
}

// logout ends the caller's session, if any, and clears its cookie.
func (h *handler) logout(c *apiCall) *reply {
	if id := cookieValue(c.r, SessionCookie); id != "" {
		if err := h.auth.Logout(c.r.Context(), id); err != nil {
			return &reply{err: err}
		}
	}
	return &reply{msg: "Logout successful(退出登录成功)！", cookie: NewSessionCookie("", h.cfg.TrustedProxies.Secure(c.r)), data: struct{}{}}
}

func (h *handler) publicKey(*apiCall) *reply {
	return &reply{data: PublicKeyData{}}
}

func (h *handler) userInfo(c *apiCall) *reply {
	return &reply{msg: "get user information succeed!", data: UserInfoData{UserName: c.user, IsAdmin: c.admin}}
}

// heartbeat keeps a session alive (authenticating it did) and says so.
func (h *handler) heartbeat(*apiCall) *reply {
	return &reply{msg: "Maintain heartbeat success(维系心跳成功)", data: struct{}{}}
}
