package datasource

import (
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/golinkis/golinkis/linkis"
)

// Dialects the jdbc engine speaks.
const (
	PostgreSQL = "postgresql" // PostgreSQL, through github.com/jackc/pgx/v5
	MySQL      = "mysql"      // MySQL and MariaDB, through github.com/go-sql-driver/mysql
)

// Target is a parsed database URL: which server, which database, and the
// connection parameters in the driver's own names.
type Target struct {
	Dialect  string // PostgreSQL or MySQL
	Host     string // a host name or an IP address (no brackets)
	Port     int
	Database string
	// Params are the URL's parameters translated to the driver's names:
	// libpq's for PostgreSQL (sslmode, application_name, search_path,
	// connect_timeout, ...), go-sql-driver's for MySQL (tls, charset,
	// timeout, ...).
	Params map[string]string
}

// Addr is host:port.
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// String is "dialect://host:port/database" (no parameters).
func (t Target) String() string { return t.Dialect + "://" + t.Addr() + "/" + t.Database }

// maxURLLen bounds a URL.
const maxURLLen = 2048

// ParseURL reads the URL of a database, in JDBC form
// (jdbc:postgresql://host:port/db?k=v, jdbc:mysql://..., jdbc:mariadb://...)
// or the drivers' own URL form (postgres://, postgresql://, mysql://,
// mariadb://). A URL carrying a password (user:pass@host or a password
// parameter) is refused: the password belongs in jdbc.password, which is
// kept out of records and logs; a URL is not. Errors name what is wrong
// without quoting the URL.
func ParseURL(s string) (Target, error) {
	bad := func(reason string) (Target, error) {
		return Target{}, linkis.Errorf(linkis.ErrInvalidArgument, KeyURL, "%s", reason)
	}
	if len(s) > maxURLLen {
		return bad("longer than " + strconv.Itoa(maxURLLen) + " bytes")
	}
	s = strings.TrimSpace(s)
	rest := strings.TrimPrefix(s, "jdbc:")
	scheme, _, ok := strings.Cut(rest, "://")
	if !ok {
		return bad("must look like jdbc:postgresql://host:port/database or jdbc:mysql://host:port/database")
	}
	var t Target
	port := 0
	switch strings.ToLower(scheme) {
	case "postgresql", "postgres", "pgsql":
		t.Dialect, port = PostgreSQL, 5432
	case "mysql", "mariadb":
		t.Dialect, port = MySQL, 3306
	default:
		return bad("the scheme " + quoteName(scheme) + " is not one this engine speaks: want postgresql, mysql or mariadb")
	}
	u, err := url.Parse(rest)
	if err != nil {
		return bad("malformed (not a URL)") // url.Parse's reason quotes the URL
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return bad("carries a password: put it in " + KeyPassword + " (or a data source), which is kept out of records and logs")
		}
		return bad("carries a user name: put it in " + KeyUsername)
	}
	t.Host = u.Hostname()
	if t.Host == "" {
		return bad("names no host")
	}
	if strings.Contains(u.Host, ",") {
		return bad("names several hosts; give one")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("the port must be from 1 to 65535")
		}
		port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return bad("the port is empty")
	}
	t.Port = port
	t.Database = strings.TrimPrefix(u.Path, "/")
	if strings.Contains(t.Database, "/") || len(t.Database) > 128 {
		return bad("the database name must be one path element of at most 128 bytes")
	}
	if u.Fragment != "" {
		return bad("must not have a fragment (#...)")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("malformed parameters")
	}
	if t.Params, err = translateParams(t.Dialect, q); err != nil {
		return Target{}, err
	}
	return t, nil
}

// quoteName quotes s when it looks like a name (letters, digits, '_',
// '-', '.', at most 40 bytes); anything else might be a secret typed in the
// wrong place, and is not shown.
func quoteName(s string) string {
	if s == "" || len(s) > 40 {
		return "(not shown)"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return "(not shown)"
		}
	}
	return strconv.Quote(s)
}

// paramRule says what happens to a URL parameter: renamed to the driver's
// name (to), dropped as harmless (drop), or refused (refuse: the reason).
type paramRule struct {
	to     string
	drop   bool
	refuse string
}

var secretParam = paramRule{refuse: "carries a password: put it in " + KeyPassword}

// pgParams: the JDBC driver's names and libpq's own.
var pgParams = map[string]paramRule{
	"sslmode": {to: "sslmode"}, "ssl": {to: "ssl"}, "sslrootcert": {to: "sslrootcert"},
	"application_name": {to: "application_name"}, "ApplicationName": {to: "application_name"},
	"search_path": {to: "search_path"}, "currentSchema": {to: "search_path"},
	"connect_timeout": {to: "connect_timeout"}, "connectTimeout": {to: "connect_timeout"},
	"target_session_attrs": {to: "target_session_attrs"}, "options": {to: "options"},
	"TimeZone": {to: "TimeZone"}, "timezone": {to: "TimeZone"},
	"loginTimeout": {drop: true}, "socketTimeout": {drop: true}, "prepareThreshold": {drop: true},
	"password": secretParam, "user": {refuse: "carries a user name: put it in " + KeyUsername},
}

// mysqlParams: Connector/J's names and go-sql-driver's own.
var mysqlParams = map[string]paramRule{
	"charset": {to: "charset"}, "characterEncoding": {to: "charset"},
	"collation": {to: "collation"}, "tls": {to: "tls"}, "useSSL": {to: "tls"},
	"timeout": {to: "timeout"}, "connectTimeout": {to: "timeout"},
	"readTimeout": {to: "readTimeout"}, "socketTimeout": {to: "readTimeout"}, "writeTimeout": {to: "writeTimeout"},
	"time_zone": {to: "time_zone"}, "serverTimezone": {drop: true},
	"useUnicode": {drop: true}, "zeroDateTimeBehavior": {drop: true}, "autoReconnect": {drop: true},
	"allowMultiQueries": {drop: true}, "rewriteBatchedStatements": {drop: true}, "allowPublicKeyRetrieval": {drop: true},
	"useServerPrepStmts": {drop: true}, "cachePrepStmts": {drop: true},
	"allowLoadLocalInfile": {refuse: "LOCAL INFILE is never allowed (it lets the server read the engine's files)"},
	"allowAllFiles":        {refuse: "LOCAL INFILE is never allowed (it lets the server read the engine's files)"},
	"autoDeserialize":      {refuse: "autoDeserialize is never allowed"},
	"password":             secretParam, "user": {refuse: "carries a user name: put it in " + KeyUsername},
}

// translateParams renames a URL's parameters to the driver's names,
// dropping the harmless JDBC-only ones and refusing the rest by name.
func translateParams(dialect string, q url.Values) (map[string]string, error) {
	rules := pgParams
	if dialect == MySQL {
		rules = mysqlParams
	}
	out := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		r, ok := rules[k]
		if !ok {
			for name := range rules {
				if strings.EqualFold(name, k) && (rules[name].refuse != "") {
					r, ok = rules[name], true // a refusal cannot be dodged by case
				}
			}
		}
		switch {
		case !ok:
			return nil, linkis.Errorf(linkis.ErrInvalidArgument, KeyURL, "the parameter %s is not one this engine understands for %s", quoteName(k), dialect)
		case r.refuse != "":
			return nil, linkis.Errorf(linkis.ErrInvalidArgument, KeyURL, "%s", r.refuse)
		case r.drop:
			continue
		}
		v := q.Get(k)
		if len(q[k]) > 1 {
			return nil, linkis.Errorf(linkis.ErrInvalidArgument, KeyURL, "the parameter %s is given more than once", quoteName(k))
		}
		switch {
		case r.to == "ssl": // PostgreSQL JDBC: ssl=true
			if v == "true" {
				out["sslmode"] = "require"
			}
			continue
		case dialect == MySQL && k == "useSSL":
			if v != "false" {
				v = "true"
			}
		case dialect == MySQL && k == "characterEncoding" && strings.EqualFold(v, "utf8"), dialect == MySQL && k == "characterEncoding" && strings.EqualFold(v, "utf-8"):
			v = "utf8mb4"
		case dialect == MySQL && (k == "connectTimeout" || k == "socketTimeout"):
			n, err := strconv.Atoi(v) // Connector/J: milliseconds
			if err != nil || n < 0 {
				return nil, linkis.Errorf(linkis.ErrInvalidArgument, KeyURL, "the parameter %s must be milliseconds", k)
			}
			v = strconv.Itoa(n) + "ms"
		}
		out[r.to] = v
	}
	return out, nil
}
