package restapi

import (
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/golinkis/golinkis/linkis"
)

// Prefix is where every path of the API starts, as in Linkis.
const Prefix = "/api/rest_j/v1"

// Linkis's token headers (or cookies of the same names): a request
// carries both, or the session cookie of a login.
const (
	HeaderTokenUser = "Token-User"
	HeaderTokenCode = "Token-Code"
	// SessionCookie is the cookie of a login session, named as Linkis's
	// gateway names it (wds.linkis.session.ticket.key).
	SessionCookie = "linkis_user_session_ticket_id_v1"
)

// Defaults of Config.
const (
	DefaultMaxBodyBytes  = 1 << 20
	DefaultMaxResultRows = 1_000_000
	DefaultInstance      = "golinkis-entrance"
	// MaxTokenBytes bounds a configured token code.
	MaxTokenBytes = 1 << 10
)

// Config configures the handler. The zero value is not usable: Auth must
// be set, or Users name at least one user with a token code.
type Config struct {
	// Auth checks logins, sessions and tokens (identity.Service is one).
	Auth Authenticator
	// Users, when Auth is nil, maps each user to its own token code
	// (Token-User and Token-Code headers, from any host; no logins).
	// Empty codes are refused: a user without a code is a configuration
	// error, not an open door.
	Users map[string]string
	// Admins (Linkis's wds.linkis.governance.station.admin) may view every
	// user's jobs (jobhistory/list?isAdminView=true, jobhistory/{id}/get),
	// kill any job, read any job's log and results, and submit as another
	// user (executeUser); the management API's nodes, every user's
	// resources and other users' configuration are theirs only (manage*.go).
	// Everyone else sees only their own.
	Admins []string
	// MaxExportRows bounds the rows resultsetToExcel writes when the
	// request sets no limit (0: all of them).
	MaxExportRows int
	// MaxBodyBytes bounds a request body; a larger one is refused
	// (default 1 MiB).
	MaxBodyBytes int64
	// MaxResultRows bounds the rows of a result-set file openFile reads
	// (default 1,000,000); a larger file is refused with a message. Only
	// the requested page is held in memory; the other rows are counted.
	MaxResultRows int
	// Instance is the entrance's name reported as "instance" in the job
	// history (default "golinkis-entrance").
	Instance string
	// Logger receives a debug line per request and the details of
	// internal errors (default slog.Default()).
	Logger *slog.Logger
	// Operations serves the management API (manage.go); nil: those paths
	// answer that this server does not serve it.
	Operations Operations
	// TrustedProxies are the reverse proxies in front of the server
	// (addresses as prefixes): from them, a request's client is the
	// rightmost untrusted address of X-Forwarded-For, and X-Forwarded-Proto
	// https makes the session cookie Secure (clientaddr.go). None by
	// default: those headers are then ignored.
	TrustedProxies Proxies
}

// IsAdmin reports whether user is an administrator.
func (c Config) IsAdmin(user string) bool { return user != "" && slices.Contains(c.Admins, user) }

// DefaultConfig returns the defaults, with no users.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:  DefaultMaxBodyBytes,
		MaxResultRows: DefaultMaxResultRows,
		Instance:      DefaultInstance,
	}
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.MaxResultRows == 0 {
		c.MaxResultRows = d.MaxResultRows
	}
	if c.Instance == "" {
		c.Instance = d.Instance
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate refuses a configuration without Auth and users, with an empty
// or over-long user name or token code, a bad admin name, or negative
// limits.
func (c Config) Validate() error {
	for _, a := range c.Admins {
		if !validUser(a) {
			return linkis.ValueError(linkis.ErrInvalidArgument, "Admins", a, "not a user name")
		}
	}
	if c.MaxExportRows < 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "MaxExportRows", "must not be negative, got %d", c.MaxExportRows)
	}
	if c.Auth != nil {
		if c.MaxBodyBytes < 0 || c.MaxResultRows < 0 {
			return linkis.Errorf(linkis.ErrInvalidArgument, "MaxBodyBytes", "limits must not be negative")
		}
		return nil
	}
	if len(c.Users) == 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "Users", "no user is configured; every request must present a user's token")
	}
	names := make([]string, 0, len(c.Users))
	for u := range c.Users {
		names = append(names, u)
	}
	sort.Strings(names)
	for _, u := range names {
		code := c.Users[u]
		switch {
		case !validUser(u):
			return linkis.ValueError(linkis.ErrInvalidArgument, "Users", u, "a user name must be 1-64 letters, digits, '_', '.' or '@', not dots only (the user of Linkis's userCreator label)")
		case code == "":
			return linkis.ValueError(linkis.ErrInvalidArgument, "Users", u, "empty token code")
		case len(code) > MaxTokenBytes:
			return linkis.Errorf(linkis.ErrInvalidArgument, "Users", "the token code of %q is longer than %d bytes", u, MaxTokenBytes)
		}
	}
	for _, a := range c.Admins {
		if _, ok := c.Users[a]; !ok {
			return linkis.ValueError(linkis.ErrInvalidArgument, "Admins", a, "an administrator must be one of the users")
		}
	}
	if c.MaxBodyBytes < 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "MaxBodyBytes", "must not be negative, got %d", c.MaxBodyBytes)
	}
	if c.MaxResultRows < 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "MaxResultRows", "must not be negative, got %d", c.MaxResultRows)
	}
	return nil
}

// validUser reports whether u can be the user of a userCreator label, as
// the entrance requires of every job's user.
func validUser(u string) bool {
	_, err := linkis.ParseUserCreator(u + "-x")
	return err == nil && strings.Trim(u, ".") != ""
}
