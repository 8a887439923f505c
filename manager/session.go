package manager

import (
	"sort"
	"strconv"

	"github.com/google/btree"

	"github.com/golinkis/golinkis/linkis"
)

// Login sessions of the REST API (Linkis's gateway sessions) live in the
// replicated state, so that a session made on one member is good on every
// member and outlives restarts and leader changes. The state keeps only a
// hash of each session id (the cookie's secret never reaches the log or a
// snapshot), its user and two expiries: Expires, pushed forward while the
// session is used (the idle timeout), and Deadline, which nothing moves.
// Expired sessions are dropped by the next session command; until then
// Session refuses them, since a reader passes its own time.

// The session commands. Values are part of the log format: never renumber.
const (
	CmdCreateSession      CommandType = 48
	CmdTouchSession       CommandType = 49
	CmdDeleteSession      CommandType = 50
	CmdDeleteUserSessions CommandType = 51
)

func init() {
	commandNames[CmdCreateSession] = "CreateSession"
	commandNames[CmdTouchSession] = "TouchSession"
	commandNames[CmdDeleteSession] = "DeleteSession"
	commandNames[CmdDeleteUserSessions] = "DeleteUserSessions"
}

// Bounds of the session table.
const (
	// SessionHashLen is the length of a session id's hash (SHA-256).
	SessionHashLen = 32
	// MaxSessionsPerUser bounds one user's live sessions: a login beyond
	// it ends the user's session that would expire first.
	MaxSessionsPerUser = 64
	// MaxSessions bounds all live sessions: a login beyond it is refused
	// (ErrQuotaExceeded) until some expire or log out.
	MaxSessions = 1 << 20
	// purgePerCommand bounds the expired sessions one command drops, so
	// that no command's cost depends on how long nobody logged in.
	purgePerCommand = 256
)

// CreateSession records a login: a new session of User, known by the hash
// of its id. A hash that is recorded already is refused (ErrDuplicate);
// Expires must be after Time and Deadline at or after Expires.
type CreateSession struct {
	Time     int64
	Hash     string // SessionHashLen bytes
	User     string
	Expires  int64 // idle expiry
	Deadline int64 // absolute expiry
}

// TouchSession pushes a live session's idle expiry to Expires (never past
// its Deadline, never back). An unknown or expired session is
// ErrPermission.
type TouchSession struct {
	Time    int64
	Hash    string
	Expires int64
}

// DeleteSession ends a session (logout). Ending one that is not there
// changes nothing and is no error.
type DeleteSession struct {
	Time int64
	Hash string
}

// DeleteUserSessions ends every session of User (its password changed, it
// was removed, an operator asked).
type DeleteUserSessions struct {
	Time int64
	User string
}

func (CreateSession) Type() CommandType      { return CmdCreateSession }
func (TouchSession) Type() CommandType       { return CmdTouchSession }
func (DeleteSession) Type() CommandType      { return CmdDeleteSession }
func (DeleteUserSessions) Type() CommandType { return CmdDeleteUserSessions }

func (c CreateSession) At() int64      { return c.Time }
func (c TouchSession) At() int64       { return c.Time }
func (c DeleteSession) At() int64      { return c.Time }
func (c DeleteUserSessions) At() int64 { return c.Time }

// SessionView is a session as a reader sees it.
type SessionView struct {
	User                       string
	Created, Expires, Deadline int64
}

type session struct {
	hash, user                 string
	created, expires, deadline int64
}

// sessionLess orders sessions by idle expiry, then hash.
func sessionLess(a, b *session) bool {
	if a.expires != b.expires {
		return a.expires < b.expires
	}
	return a.hash < b.hash
}

// sessions is the session table.
type sessions struct {
	byHash map[string]*session
	byUser map[string]map[string]*session
	expiry *btree.BTreeG[*session]
}

func newSessions() sessions {
	return sessions{byHash: map[string]*session{}, byUser: map[string]map[string]*session{},
		expiry: btree.NewG(16, sessionLess)}
}

func (ss *sessions) add(x *session) {
	ss.byHash[x.hash] = x
	u := ss.byUser[x.user]
	if u == nil {
		u = map[string]*session{}
		ss.byUser[x.user] = u
	}
	u[x.hash] = x
	ss.expiry.ReplaceOrInsert(x)
}

func (ss *sessions) remove(x *session) {
	delete(ss.byHash, x.hash)
	if u := ss.byUser[x.user]; u != nil {
		delete(u, x.hash)
		if len(u) == 0 {
			delete(ss.byUser, x.user)
		}
	}
	ss.expiry.Delete(x)
}

// purge drops up to purgePerCommand sessions expired at t.
func (ss *sessions) purge(t int64) {
	for n := 0; n < purgePerCommand; n++ {
		x, ok := ss.expiry.Min()
		if !ok || x.expires > t {
			return
		}
		ss.remove(x)
	}
}

// applySession applies a session command; ok is false for a command that
// is not one.
func (s *State) applySession(t int64, cmd Command) (r Result, ok bool, err error) {
	switch c := cmd.(type) {
	case CreateSession:
		return r, true, s.createSession(t, c)
	case TouchSession:
		return r, true, s.touchSession(t, c)
	case DeleteSession:
		s.sessions.purge(t)
		if x := s.sessions.byHash[c.Hash]; x != nil {
			s.sessions.remove(x)
		}
		return r, true, nil
	case DeleteUserSessions:
		s.sessions.purge(t)
		for _, x := range s.sessions.byUser[c.User] {
			s.sessions.remove(x)
		}
		return r, true, nil
	}
	return r, false, nil
}

func checkSessionHash(h string) error {
	if len(h) != SessionHashLen {
		return linkis.Errorf(linkis.ErrInvalidArgument, "hash", "a session hash is %d bytes, got %d", SessionHashLen, len(h))
	}
	return nil
}

func (s *State) createSession(t int64, c CreateSession) error {
	if err := checkSessionHash(c.Hash); err != nil {
		return err
	}
	switch {
	case c.User == "" || len(c.User) > maxJobName:
		return linkis.Errorf(linkis.ErrInvalidArgument, "user", "must be 1-%d bytes", maxJobName)
	case c.Expires <= t:
		return linkis.ValueError(linkis.ErrInvalidArgument, "expires", strconv.FormatInt(c.Expires, 10), "must be after the command's time")
	case c.Deadline < c.Expires:
		return linkis.ValueError(linkis.ErrInvalidArgument, "deadline", strconv.FormatInt(c.Deadline, 10), "must not be before the idle expiry")
	}
	if _, dup := s.sessions.byHash[c.Hash]; dup {
		return linkis.Errorf(linkis.ErrDuplicate, "hash", "a session with this id exists")
	}
	if len(s.sessions.byHash) >= MaxSessions {
		if x, ok := s.sessions.expiry.Min(); ok && x.expires <= t {
			s.sessions.purge(t) // frees room: the session is created
		} else {
			return linkis.Errorf(linkis.ErrQuotaExceeded, "sessions", "%d sessions are live, the most the cluster keeps; try again when some expire", MaxSessions)
		}
	}
	s.sessions.purge(t)
	if u := s.sessions.byUser[c.User]; len(u) >= MaxSessionsPerUser {
		var first *session
		for _, x := range u {
			if first == nil || sessionLess(x, first) {
				first = x
			}
		}
		s.sessions.remove(first)
	}
	s.sessions.add(&session{hash: c.Hash, user: c.User, created: t, expires: c.Expires, deadline: c.Deadline})
	return nil
}

func (s *State) touchSession(t int64, c TouchSession) error {
	if err := checkSessionHash(c.Hash); err != nil {
		return err
	}
	x := s.sessions.byHash[c.Hash]
	if x == nil || x.expires <= t {
		return linkis.Errorf(linkis.ErrPermission, "session", "expired or logged out")
	}
	s.sessions.purge(t)
	if e := min(c.Expires, x.deadline); e > x.expires {
		s.sessions.expiry.Delete(x)
		x.expires = e
		s.sessions.expiry.ReplaceOrInsert(x)
	}
	return nil
}

// Session returns the session whose id hashes to hash, when it is live at
// now (the reader's time: the state may not have seen a command since it
// expired).
func (s *State) Session(hash string, now int64) (SessionView, bool) {
	x := s.sessions.byHash[hash]
	if x == nil || x.expires <= now {
		return SessionView{}, false
	}
	return SessionView{User: x.user, Created: x.created, Expires: x.expires, Deadline: x.deadline}, true
}

// SessionCount returns the number of sessions the state holds (expired
// ones not yet dropped included).
func (s *State) SessionCount() int { return len(s.sessions.byHash) }

// appendSessionCommand encodes the body of a session command; false for a
// command that is not one.
func appendSessionCommand(e *enc, c Command) bool {
	switch c := c.(type) {
	case CreateSession:
		e.str(c.Hash)
		e.str(c.User)
		e.i(c.Expires)
		e.i(c.Deadline)
	case TouchSession:
		e.str(c.Hash)
		e.i(c.Expires)
	case DeleteSession:
		e.str(c.Hash)
	case DeleteUserSessions:
		e.str(c.User)
	default:
		return false
	}
	return true
}

// decodeSessionCommand decodes the body of a session command of type typ;
// nil for a type that is not one.
func decodeSessionCommand(d *dec, typ CommandType, t int64) Command {
	switch typ {
	case CmdCreateSession:
		return CreateSession{Time: t, Hash: d.str("hash", SessionHashLen), User: d.str("user", maxJobName), Expires: d.i(), Deadline: d.i()}
	case CmdTouchSession:
		return TouchSession{Time: t, Hash: d.str("hash", SessionHashLen), Expires: d.i()}
	case CmdDeleteSession:
		return DeleteSession{Time: t, Hash: d.str("hash", SessionHashLen)}
	case CmdDeleteUserSessions:
		return DeleteUserSessions{Time: t, User: d.str("user", maxJobName)}
	}
	return nil
}

// snapshotSessions writes the session table in hash order.
func (s *State) snapshotSessions(e *enc) {
	e.u(uint64(len(s.sessions.byHash)))
	hashes := make([]string, 0, len(s.sessions.byHash))
	for h := range s.sessions.byHash {
		hashes = append(hashes, h)
	}
	sort.Strings(hashes)
	for _, h := range hashes {
		x := s.sessions.byHash[h]
		e.str(x.hash)
		e.str(x.user)
		e.i(x.created)
		e.i(x.expires)
		e.i(x.deadline)
	}
}

// restoreSessions reads what snapshotSessions wrote.
func (s *State) restoreSessions(d *dec) error {
	n := d.count("sessions", MaxSessions, SessionHashLen)
	for i := 0; i < n && d.err == nil; i++ {
		x := &session{hash: d.str("session.hash", SessionHashLen), user: d.str("session.user", maxJobName),
			created: d.i(), expires: d.i(), deadline: d.i()}
		if d.err != nil {
			break
		}
		if len(x.hash) != SessionHashLen || x.user == "" || x.deadline < x.expires {
			return linkis.Errorf(linkis.ErrMalformed, "snapshot", "session %d is not valid", i)
		}
		if _, dup := s.sessions.byHash[x.hash]; dup {
			return linkis.Errorf(linkis.ErrMalformed, "snapshot", "session %d is listed twice", i)
		}
		s.sessions.add(x)
	}
	return d.err
}
