package datasource

import (
	"strconv"
	"strings"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// Configuration keys of the jdbc engine, as Linkis names them. Each
// setting may also be given under Linkis's long name (the alias in
// aliases); giving both with different values is an error.
const (
	KeyURL        = "jdbc.url"         // alias wds.linkis.jdbc.connect.url
	KeyUsername   = "jdbc.username"    // alias wds.linkis.jdbc.username
	KeyPassword   = "jdbc.password"    // alias wds.linkis.jdbc.password
	KeyAuthType   = "jdbc.auth.type"   // USERNAME (default) or SIMPLE; alias wds.linkis.jdbc.auth.type
	KeyConnectMax = "jdbc.connect.max" // connections per pool; alias wds.linkis.jdbc.pool.maxActive
	// KeyDataSource names a data source of the server's configuration.
	KeyDataSource = "wds.linkis.engine.runtime.datasource"
	// KeyResultMax caps the rows of each result set; the rest is not read
	// and the log says the result was truncated.
	KeyResultMax = "wds.linkis.jdbc.query.result.max"
	// KeyQueryTimeout bounds each statement, in seconds (0: no bound); a
	// statement that outlives it is cancelled on the server.
	KeyQueryTimeout = "wds.linkis.jdbc.query.timeout"
	// KeyConnectTimeout bounds opening a connection, in seconds.
	KeyConnectTimeout = "wds.linkis.jdbc.connection.timeout"
)

// aliases maps Linkis's long names to the short ones.
var aliases = map[string]string{
	"wds.linkis.jdbc.connect.url":    KeyURL,
	"wds.linkis.jdbc.username":       KeyUsername,
	"wds.linkis.jdbc.password":       KeyPassword,
	"wds.linkis.jdbc.auth.type":      KeyAuthType,
	"wds.linkis.jdbc.pool.maxActive": KeyConnectMax,
}

// Canonical returns the short name of a jdbc configuration key (k itself
// when it has no alias).
func Canonical(k string) string {
	if c, ok := aliases[k]; ok {
		return c
	}
	return k
}

// IsJDBCKey reports whether k is one of the jdbc engine's settings (under
// either name): the orchestrator sends them with each task, never as
// engine start-up parameters.
func IsJDBCKey(k string) bool {
	return strings.HasPrefix(k, "jdbc.") || strings.HasPrefix(k, "wds.linkis.jdbc.") || k == KeyDataSource
}

// Auth types (jdbc.auth.type).
const (
	AuthUsername = "USERNAME" // a user name and a password
	AuthSimple   = "SIMPLE"   // a user name only (the server trusts the host)
)

// Defaults and bounds.
const (
	DefaultConnectMax     = 10
	MaxConnectMax         = 1000
	DefaultResultMax      = 10_000_000
	DefaultQueryTimeout   = 30 * time.Minute // Linkis: 1800 s
	DefaultConnectTimeout = 10 * time.Second
	MaxConnectTimeout     = 10 * time.Minute
)

// Settings are a job's connection settings, checked.
type Settings struct {
	DataSource     string // the data source's name; "" for inline settings
	URL            string
	Target         Target // URL, parsed
	Username       string
	Password       string
	AuthType       string
	ConnectMax     int
	ResultMax      int64
	QueryTimeout   time.Duration // 0: none
	ConnectTimeout time.Duration
}

// FromParams reads the jdbc settings among params (short or long names):
// the URL (parsed), user, password, auth type and the numeric settings,
// each checked. Errors name the key; they never quote the URL or the
// password.
func FromParams(params map[string]string) (Settings, error) {
	p, err := canonicalize(params)
	if err != nil {
		return Settings{}, err
	}
	s := Settings{DataSource: p[KeyDataSource], URL: strings.TrimSpace(p[KeyURL]), Username: p[KeyUsername], Password: p[KeyPassword],
		AuthType: AuthUsername, ConnectMax: DefaultConnectMax, ResultMax: DefaultResultMax,
		QueryTimeout: DefaultQueryTimeout, ConnectTimeout: DefaultConnectTimeout}
	if v, ok := p[KeyAuthType]; ok && strings.TrimSpace(v) != "" {
		switch strings.ToUpper(strings.TrimSpace(v)) {
		case AuthUsername:
		case AuthSimple:
			s.AuthType = AuthSimple
		default:
			return Settings{}, linkis.ValueError(linkis.ErrInvalidArgument, KeyAuthType, v, "must be USERNAME or SIMPLE (KERBEROS is not supported by this engine)")
		}
	}
	if s.URL == "" {
		return Settings{}, linkis.Errorf(linkis.ErrInvalidArgument, KeyURL, "required: name a data source (%s) or give the database's URL", KeyDataSource)
	}
	if s.Target, err = ParseURL(s.URL); err != nil {
		return Settings{}, err
	}
	if s.Username == "" {
		return Settings{}, linkis.Errorf(linkis.ErrInvalidArgument, KeyUsername, "required with %s", KeyURL)
	}
	if len(s.Username) > 256 || strings.ContainsAny(s.Username, "\x00\n\r") {
		return Settings{}, linkis.Errorf(linkis.ErrInvalidArgument, KeyUsername, "must be at most 256 bytes without control characters")
	}
	switch {
	case s.AuthType == AuthUsername && s.Password == "":
		return Settings{}, linkis.Errorf(linkis.ErrInvalidArgument, KeyPassword, "required with %s=USERNAME (use SIMPLE for a server that trusts this host)", KeyAuthType)
	case s.AuthType == AuthSimple && s.Password != "":
		return Settings{}, linkis.Errorf(linkis.ErrInvalidArgument, KeyPassword, "must not be given with %s=SIMPLE", KeyAuthType)
	case strings.ContainsRune(s.Password, 0):
		return Settings{}, linkis.Errorf(linkis.ErrInvalidArgument, KeyPassword, "must not contain a NUL byte")
	}
	if v, ok := p[KeyConnectMax]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > MaxConnectMax {
			return Settings{}, linkis.ValueError(linkis.ErrInvalidArgument, KeyConnectMax, v, "must be a whole number from 1 to "+strconv.Itoa(MaxConnectMax))
		}
		s.ConnectMax = n
	}
	if v, ok := p[KeyResultMax]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 1 {
			return Settings{}, linkis.ValueError(linkis.ErrInvalidArgument, KeyResultMax, v, "must be a positive whole number of rows")
		}
		s.ResultMax = n
	}
	if v, ok := p[KeyQueryTimeout]; ok {
		d, err := seconds(v, 0, 7*24*time.Hour)
		if err != nil {
			return Settings{}, linkis.ValueError(linkis.ErrInvalidArgument, KeyQueryTimeout, v, "must be whole seconds from 0 (no bound) to 604800")
		}
		s.QueryTimeout = d
	}
	if v, ok := p[KeyConnectTimeout]; ok {
		d, err := seconds(v, time.Second, MaxConnectTimeout)
		if err != nil {
			return Settings{}, linkis.ValueError(linkis.ErrInvalidArgument, KeyConnectTimeout, v, "must be whole seconds from 1 to 600")
		}
		s.ConnectTimeout = d
	}
	return s, nil
}

func seconds(v string, lo, hi time.Duration) (time.Duration, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 || n > int64(hi/time.Second) || time.Duration(n)*time.Second < lo {
		return 0, linkis.ErrInvalidArgument
	}
	return time.Duration(n) * time.Second, nil
}

// canonicalize returns params' jdbc settings under their short names,
// refusing a setting given under both names with different values.
func canonicalize(params map[string]string) (map[string]string, error) {
	out := make(map[string]string, 8)
	for k, v := range params {
		if !IsJDBCKey(k) {
			continue
		}
		c := Canonical(k)
		if old, dup := out[c]; dup && old != v {
			field := k
			if c != k {
				field = c + " (" + k + ")"
			}
			return nil, linkis.Errorf(linkis.ErrInvalidArgument, field, "given under both of its names with different values")
		}
		out[c] = v
	}
	return out, nil
}

// Params returns the settings as task parameters under their short names
// (the password included): what the orchestrator sends to the engine.
func (s Settings) Params() map[string]string {
	p := map[string]string{
		KeyURL: s.URL, KeyUsername: s.Username, KeyAuthType: s.AuthType,
		KeyConnectMax:     strconv.Itoa(s.ConnectMax),
		KeyResultMax:      strconv.FormatInt(s.ResultMax, 10),
		KeyQueryTimeout:   strconv.FormatInt(int64(s.QueryTimeout/time.Second), 10),
		KeyConnectTimeout: strconv.FormatInt(int64(s.ConnectTimeout/time.Second), 10),
	}
	if s.Password != "" {
		p[KeyPassword] = s.Password
	}
	if s.DataSource != "" {
		p[KeyDataSource] = s.DataSource
	}
	return p
}

// String describes the settings for logs: the data source's name, or the
// dialect, host, port, database and user - never the password.
func (s Settings) String() string {
	if s.DataSource != "" {
		return "data source " + strconv.Quote(s.DataSource)
	}
	return s.Target.String() + " as " + strconv.Quote(s.Username)
}
