package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Store is what the Service needs of the replicated state (raftstore.Node
// and raftstore.Memory are ones).
type Store interface {
	Apply(ctx context.Context, cmd manager.Command) (manager.Result, error)
	Read(ctx context.Context, consistent bool, fn func(*manager.State)) error
}

// Config configures a Service. Start from DefaultConfig.
type Config struct {
	// Directory holds the users and tokens (nil: none; with LDAP set,
	// logins go to the directory only).
	Directory *Directory
	// LDAP, when set, is asked for users the Directory has no password
	// for.
	LDAP *LDAPConfig
	// Store keeps the sessions (required for logins; without one only
	// tokens work).
	Store Store
	// SessionTimeout ends a session unused for this long (Linkis's
	// session timeout; sent to clients as sessionTimeOut).
	SessionTimeout time.Duration
	// SessionMaxAge ends a session this long after its login, used or
	// not.
	SessionMaxAge time.Duration
	// MaxUserFailures and MaxAddrFailures failed logins of one user name,
	// or from one address, within FailureWindow refuse further attempts
	// until the window ends (0: no limit).
	MaxUserFailures, MaxAddrFailures int
	FailureWindow                    time.Duration
	// Logger hears refused logins (never a password) and store errors.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults: 2 h idle sessions of at most 7 days,
// 5 failures per user and 20 per address in 15 minutes.
func DefaultConfig() Config {
	return Config{
		SessionTimeout:  2 * time.Hour,
		SessionMaxAge:   7 * 24 * time.Hour,
		MaxUserFailures: 5,
		MaxAddrFailures: 20,
		FailureWindow:   15 * time.Minute,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.SessionTimeout < time.Second:
		return linkis.ValueError(linkis.ErrInvalidArgument, "SessionTimeout", c.SessionTimeout.String(), "must be at least 1s")
	case c.SessionMaxAge < c.SessionTimeout:
		return linkis.ValueError(linkis.ErrInvalidArgument, "SessionMaxAge", c.SessionMaxAge.String(), "must not be shorter than SessionTimeout")
	case c.MaxUserFailures < 0 || c.MaxAddrFailures < 0:
		return linkis.Errorf(linkis.ErrInvalidArgument, "MaxUserFailures", "must not be negative")
	case (c.MaxUserFailures > 0 || c.MaxAddrFailures > 0) && c.FailureWindow <= 0:
		return linkis.Errorf(linkis.ErrInvalidArgument, "FailureWindow", "must be positive when failures are limited")
	}
	if c.LDAP != nil {
		return c.LDAP.Validate()
	}
	return nil
}

// Service checks credentials and keeps sessions. It is safe for
// concurrent use.
type Service struct {
	cfg      Config
	dir      *Directory
	log      *slog.Logger
	byUser   *limiter
	byAddr   *limiter
	hashSlot chan struct{} // bounds the password hashes computed at once
	dummy    string        // the hash an unknown user's password is compared against
	now      func() time.Time
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, dir: cfg.Directory, log: cfg.Logger, now: time.Now,
		byUser:   newLimiter(cfg.MaxUserFailures, cfg.FailureWindow, 100_000),
		byAddr:   newLimiter(cfg.MaxAddrFailures, cfg.FailureWindow, 100_000),
		hashSlot: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))}
	if s.dir == nil {
		s.dir = NewDirectory()
	}
	s.dummy = s.dir.dummyHash()
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Session is a login's session: its id (the cookie's value, a secret),
// its user, when it expires unless used and the idle timeout.
type Session struct {
	ID      string
	User    string
	Expires time.Time
	Timeout time.Duration
}

// errWrongLogin is the one answer to an unknown user and a wrong password.
func errWrongLogin() error {
	return linkis.Errorf(linkis.ErrPermission, "password", "wrong user name or password")
}

// addrKey is the limiter's key of a remote address ("host:port" or
// "host"): an IPv4 address, or the /64 of an IPv6 one (a single client
// commonly holds a whole /64). An address that does not parse is kept
// clipped: a key is never longer than a few dozen bytes.
func addrKey(addr string) string {
	a := parseAddr(addr)
	switch {
	case !a.IsValid():
		return "?" + clip(addr)
	case a.Is6():
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// userKey is the limiter's key of a user name; "" (no per-user limit)
// for anything that cannot be a user name - it cannot log in, it costs a
// dummy hash, and only its address's limit applies - so that a key never
// holds more of what a client sent than a user name's 64 bytes.
func userKey(user string) string {
	if !ValidUserName(user) {
		return ""
	}
	return "u:" + user
}

func parseAddr(addr string) netip.Addr {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(addr)
	return a.Unmap()
}

// Login checks user's password - against the users file when it has one
// for user, else against LDAP when configured - and opens a session. A
// wrong password and an unknown user answer alike (linkis.ErrPermission);
// a user or address over its failure limit is refused before any check
// (linkis.ErrQuotaExceeded, saying when to try again). The attempt is
// reserved under the limiters' lock before the password is checked, so
// that guesses sent at once count as they are made.
func (s *Service) Login(ctx context.Context, user, password, addr string) (Session, error) {
	if s.cfg.Store == nil {
		return Session{}, linkis.Errorf(linkis.ErrPermission, "login", "password logins are not enabled on this server; use a token")
	}
	user = LoginName(user)
	now := s.now()
	uk, ak := userKey(user), addrKey(addr)
	if until, ok := s.byUser.reserve(uk, now); !ok {
		return Session{}, s.tooMany(user, ak, until, now)
	}
	if until, ok := s.byAddr.reserve(ak, now); !ok {
		s.byUser.release(uk, now, false)
		return Session{}, s.tooMany(user, ak, until, now)
	}
	err := s.check(ctx, user, password)
	failed := errors.Is(err, linkis.ErrPermission)
	s.byUser.release(uk, now, failed)
	s.byAddr.release(ak, now, failed)
	if err != nil {
		if failed {
			s.log.Info("identity: login refused", "user", clip(user), "addr", ak)
		}
		return Session{}, err
	}
	s.byUser.reset(uk)
	return s.open(ctx, user, now)
}

// LoginName is the user a login names: the name lower-cased, as Linkis's
// gateway logs users in (UserPwdAbstractUserRestful.tryLogin) - an LDAP
// directory matches uid without case, and "Carol" must not be a second
// user beside "carol", with limits, jobs and rights of its own. Only a
// user name is lower-cased (ASCII: nothing else can be one, and
// Unicode's case mapping would turn some other strings into names).
func LoginName(name string) string {
	if !ValidUserName(name) {
		return name
	}
	return strings.ToLower(name)
}

// tooMany is the answer to a login over its failure limit.
func (s *Service) tooMany(user, addr string, until, now time.Time) error {
	s.log.Warn("identity: login refused: too many failures", "user", clip(user), "addr", addr)
	return linkis.Errorf(linkis.ErrQuotaExceeded, "login", "too many failed logins for this user or from this address; try again in %d s",
		int(until.Sub(now).Seconds())+1)
}

// check verifies user's password.
func (s *Service) check(ctx context.Context, user, password string) error {
	if !ValidUserName(user) || password == "" || len(password) > 1024 {
		s.hash(ctx, s.dummy, password)
		return errWrongLogin()
	}
	if u, ok := s.dir.User(user); ok && u.Hash != "" {
		if !s.hash(ctx, u.Hash, password) {
			return errWrongLogin()
		}
		return nil
	}
	if s.cfg.LDAP != nil {
		err := ldapLogin(*s.cfg.LDAP, user, password)
		if errors.Is(err, linkis.ErrPermission) {
			return errWrongLogin()
		}
		if err != nil {
			s.log.Error("identity: LDAP login", "user", clip(user), "err", err)
			return linkis.Errorf(linkis.ErrUnavailable, "ldap", "the login directory cannot be reached; try again later")
		}
		return nil
	}
	s.hash(ctx, s.dummy, password)
	return errWrongLogin()
}

// hash verifies a password, waiting for a free slot (hashes are CPU-bound;
// a login flood must not starve the rest).
func (s *Service) hash(ctx context.Context, hash, password string) bool {
	select {
	case s.hashSlot <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	defer func() { <-s.hashSlot }()
	return verifyPassword(hash, password)
}

// A session id (the cookie's value) is 32 random bytes and a 16-byte tag
// binding them to the credential its user logged in with: the HMAC of
// the bytes keyed by the user's credential fingerprint. The state keeps
// the SHA-256 of the random bytes only; Check recomputes the tag from the
// user's credential as this member's users file and LDAP configuration
// have it now. A user removed from the file, or whose password hash
// changed (`linkis users passwd`), has another fingerprint or none once
// the server restarts with the file: the sessions opened before end on
// every member that reads the new file.
const (
	sessionIDBytes  = 32
	sessionTagBytes = 16
)

// parseSessionID splits a session id into the hash the state knows it
// by and the id's bytes and tag.
func parseSessionID(id string) (hash string, raw, tag []byte, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(b) != sessionIDBytes+sessionTagBytes {
		return "", nil, nil, false
	}
	h := sha256.Sum256(b[:sessionIDBytes])
	return string(h[:]), b[:sessionIDBytes], b[sessionIDBytes:], true
}

// fingerprint keys the tags of user's sessions: the SHA-256 of the user's
// password hash in the users file; for a user the file has no password
// for, logged in through LDAP, of the directory's URL and the user's bind
// DN (a password kept by the directory cannot be seen: such a session
// ends when LDAP is no longer how the user logs in - the file gives the
// user a password, or the server is started with another directory or
// none - or when a sessions= count on the user's line changes); none for
// a user who cannot log in at all. The user line's sessions= count is
// part of it: `linkis users logout` raises it to end a user's sessions.
func (s *Service) fingerprint(user string) ([]byte, bool) {
	h := sha256.New()
	u, inFile := s.dir.User(user)
	switch {
	case inFile && u.Hash != "":
		fmt.Fprintf(h, "golinkis session v1\x00password\x00%s", u.Hash)
	case s.cfg.LDAP != nil && ValidUserName(user):
		fmt.Fprintf(h, "golinkis session v1\x00ldap\x00%s\x00%s", s.cfg.LDAP.URL, s.cfg.LDAP.bindDN(user))
	default:
		return nil, false
	}
	if inFile {
		fmt.Fprintf(h, "\x00sessions=%d", u.Sessions)
	}
	return h.Sum(nil), true
}

// sessionTag is the tag of a session id's bytes for user, false when the
// user has no credential to bind it to.
func (s *Service) sessionTag(user string, raw []byte) ([]byte, bool) {
	key, ok := s.fingerprint(user)
	if !ok {
		return nil, false
	}
	m := hmac.New(sha256.New, key)
	m.Write(raw)
	return m.Sum(nil)[:sessionTagBytes], true
}

// open creates a session of user.
func (s *Service) open(ctx context.Context, user string, now time.Time) (Session, error) {
	var raw [sessionIDBytes]byte
	_, _ = rand.Read(raw[:])
	tag, ok := s.sessionTag(user, raw[:])
	if !ok {
		// The user just logged in: it has a credential.
		return Session{}, fmt.Errorf("open a session: user %q has no credential to bind it to", user)
	}
	id := base64.RawURLEncoding.EncodeToString(append(raw[:], tag...))
	h := sha256.Sum256(raw[:])
	exp := now.Add(s.cfg.SessionTimeout)
	_, err := s.cfg.Store.Apply(ctx, manager.CreateSession{Time: now.UnixNano(), Hash: string(h[:]), User: user,
		Expires: exp.UnixNano(), Deadline: now.Add(s.cfg.SessionMaxAge).UnixNano()})
	if err != nil {
		return Session{}, fmt.Errorf("open a session: %w", err)
	}
	return Session{ID: id, User: user, Expires: exp, Timeout: s.cfg.SessionTimeout}, nil
}

// errNoSession is the answer to a cookie that names no live session.
func errNoSession() error {
	return linkis.Errorf(linkis.ErrPermission, "session", "not logged in, or the session expired: log in again")
}

// Check returns the user of a live session, pushing its idle expiry
// forward when an eighth of the timeout has passed since it last was. A
// forged, expired or logged-out id is linkis.ErrPermission.
func (s *Service) Check(ctx context.Context, id string) (string, error) {
	if s.cfg.Store == nil {
		return "", errNoSession()
	}
	h, raw, tag, ok := parseSessionID(id)
	if !ok {
		return "", errNoSession()
	}
	now := s.now()
	var v manager.SessionView
	read := func(st *manager.State) { v, ok = st.Session(h, now.UnixNano()) }
	if err := s.cfg.Store.Read(ctx, false, read); err != nil {
		return "", err
	}
	if !ok {
		// Made a moment ago through another member? Ask the leader.
		if err := s.cfg.Store.Read(ctx, true, read); err != nil {
			return "", err
		}
		if !ok {
			return "", errNoSession()
		}
	}
	if want, ok := s.sessionTag(v.User, raw); !ok || !hmac.Equal(tag, want) {
		s.log.Debug("identity: a session of a user removed, or whose credential changed, is refused", "user", v.User)
		return "", errNoSession()
	}
	timeout := s.cfg.SessionTimeout.Nanoseconds()
	if v.Expires-now.UnixNano() < timeout-timeout/8 && v.Expires < v.Deadline {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := s.cfg.Store.Apply(tctx, manager.TouchSession{Time: now.UnixNano(), Hash: h, Expires: now.UnixNano() + timeout})
		cancel()
		if err != nil && !errors.Is(err, linkis.ErrPermission) {
			// The session holds until its old expiry; the next call tries again.
			s.log.Debug("identity: touching a session", "user", v.User, "err", err)
		}
	}
	return v.User, nil
}

// Logout ends a session; an id of no live session is no error. Only a
// live session is ended: an id of none writes nothing to the replicated
// log (logout is public, and any client may send any id). A session this
// member does not hold is looked for again with a consistent read - the
// login may have gone through another member moments ago - which costs
// the leader a heartbeat round, not a log entry.
func (s *Service) Logout(ctx context.Context, id string) error {
	h, _, _, ok := parseSessionID(id)
	if !ok || s.cfg.Store == nil {
		return nil
	}
	now := s.now().UnixNano()
	live := false
	lookup := func(st *manager.State) { _, live = st.Session(h, now) }
	if err := s.cfg.Store.Read(ctx, false, lookup); err != nil {
		return err
	}
	if !live {
		if err := s.cfg.Store.Read(ctx, true, lookup); err != nil || !live {
			return err
		}
	}
	_, err := s.cfg.Store.Apply(ctx, manager.DeleteSession{Time: now, Hash: h})
	return err
}

// Revoke ends every session of user.
func (s *Service) Revoke(ctx context.Context, user string) error {
	if s.cfg.Store == nil {
		return nil
	}
	_, err := s.cfg.Store.Apply(ctx, manager.DeleteUserSessions{Time: s.now().UnixNano(), User: user})
	return err
}

// Token checks a Token-User and Token-Code from addr: the code must be a
// token's that may act as user from addr and has not expired. Every
// refusal is the same linkis.ErrPermission - which of those failed is
// logged here, never said to the client (it would tell a valid code from
// an invalid one) - and counts as a failure of the address in the failed
// login limiter: an address over its limit is refused
// (linkis.ErrQuotaExceeded) before any code is looked at.
func (s *Service) Token(user, code, addr string) error {
	now := s.now()
	ak := addrKey(addr)
	if until, blocked := s.byAddr.blocked(ak, now); blocked {
		s.log.Warn("identity: token refused: too many failures from this address", "user", clip(user), "addr", ak)
		return linkis.Errorf(linkis.ErrQuotaExceeded, "token", "too many refused tokens or logins from this address; try again in %d s",
			int(until.Sub(now).Seconds())+1)
	}
	where, err := s.token(user, code, addr, now)
	if err == nil {
		return nil
	}
	s.byAddr.fail(ak, now)
	reason := err.Error()
	if le := (*linkis.Error)(nil); errors.As(err, &le) {
		reason = le.Reason
	}
	s.log.Info("identity: token refused", "reason", reason, "token", where, "user", clip(user), "addr", ak)
	return linkis.Errorf(linkis.ErrPermission, "token",
		"wrong Token-User or Token-Code, or a token that may not act as this user, from this host, or has expired; the server's log says which")
}

// token checks a token, saying where the token's line is.
func (s *Service) token(user, code, addr string, now time.Time) (string, error) {
	if user == "" || code == "" {
		return "", errors.New("an empty Token-User or Token-Code")
	}
	t, ok := s.dir.token(code)
	if !ok {
		return "", errors.New("no token has this code")
	}
	if !ValidUserName(user) {
		return t.lineName, errors.New("Token-User is not a user name")
	}
	return t.lineName, t.allows(user, parseAddr(addr), now)
}

// SessionTimeout returns the idle timeout of sessions.
func (s *Service) SessionTimeout() time.Duration { return s.cfg.SessionTimeout }

// String describes the service for a log line (no secret).
func (s *Service) String() string {
	src := strconv.Itoa(len(s.dir.users)) + " users, " + strconv.Itoa(len(s.dir.tokens)) + " tokens"
	if s.cfg.LDAP != nil {
		src += ", LDAP at " + s.cfg.LDAP.URL
	}
	return src
}
