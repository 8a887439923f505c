// Package identity is who may call the Linkis REST API and as whom: the
// users file (login users with hashed passwords, Linkis-style auth tokens
// limited to some users and hosts), an optional LDAP directory to bind
// against, login sessions kept in the replicated state, and the limit on
// failed logins. It is the gateway's security of Linkis (its user/login,
// Token-User/Token-Code and the linkis_user_session_ticket_id_v1 cookie)
// without its wire: package restapi speaks the wire and calls a Service
// through the small Authenticator interface it declares.
//
// # Sessions live in the replicated state
//
// A login proposes a CreateSession command (manager, session.go) with the
// SHA-256 of a fresh 256-bit session id, its user and two expiries: an idle
// one that use pushes forward and an absolute one nothing moves. The id
// itself goes only to the client, in the cookie: neither the Raft log nor
// a snapshot can give a session away. Any member checks a cookie by
// reading its own state (a local read, microseconds); a session it does
// not have yet - made a moment ago on another member - is looked up again
// through the leader before it is refused. A session is touched (its idle
// expiry proposed again) at most once per eighth of the idle timeout, so a
// busy client costs the log a command every few minutes, not one per call.
//
// A session ends with its user's credential. Its id carries a tag, the
// HMAC of the id keyed by a fingerprint of the credential the user logged
// in with - the password's hash in the users file, or for an LDAP user the
// directory's URL and the user's DN - and the line's sessions= count;
// Check recomputes it from this member's users file and LDAP settings.
// Removing a user, changing a password (`linkis users passwd`) or raising
// the count (`linkis users logout`) and restarting with the file ends the
// user's sessions on every member that reads it, although they stay in the
// replicated table until they expire (tags are not in the state: nothing
// of a credential is replicated, and the snapshot format is unchanged). A
// password kept by LDAP cannot be seen: an LDAP user removed or disabled
// in the directory keeps the sessions already open until they expire
// (--session-timeout idle, 7 days at most), unless an operator logs them
// out so. Ids of the form before tags (32 bytes) are refused: after the
// upgrade that brought them, everyone logs in once again.
//
// We keep sessions in the state rather than in stateless signed cookies:
// a signed cookie would need a key shared by every member (one more secret
// to distribute and rotate) and a replicated revocation list for logout
// anyway - and a revocation list is a session table of the sessions that
// ended, which must be kept until their cookies expire. The table of the
// live ones is no larger, makes logout and "end every session of this
// user" exact, and makes a stolen snapshot worthless.
//
// # User names
//
// A login's user name is lower-cased before anything else (LoginName), as
// Linkis's gateway does: "Carol" and "carol" are one user - one failure
// count, one session owner - which an LDAP directory, matching uid without
// case, requires. The users file therefore names login users in lower
// case (a user line in capitals is refused when the file is read).
// Token-User is taken as sent and matched exactly against a token's
// users=, as Linkis's token authentication does.
//
// # What is not replicated
//
// The failed-login limiter counts per member: replicating every failed
// attempt would let a flood of wrong passwords flood the Raft log. A
// cluster of N members therefore lets an attacker try N times the limit;
// the limit is set low enough that this does not matter (5 per user and 20
// per address in 15 minutes, by default). A login's attempt is reserved
// before its password is hashed, so guesses sent at once count as made; a
// refused token code counts against its address too. A logout of an id
// no session has proposes nothing. (Check and Logout look an id this
// member does not know up through the leader with a consistent read: a
// heartbeat round on a leader that has committed in its term, no log
// entry - a forged cookie costs the leader that round, nothing more.)
//
// # What it must never do
//
// It never writes a password, a token code or a session id into a log, an
// error or the replicated state (only their hashes are kept), never tells
// a valid token code from an invalid one (every refusal answers alike)
// nor an unknown user from a wrong password (both cost a hash comparison
// of the same cost and answer the same), and never binds to LDAP with an
// empty password (an unauthenticated bind succeeds on most servers).
package identity
