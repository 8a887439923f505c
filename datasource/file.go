package datasource

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/golinkis/golinkis/linkis"
)

// DataSource is one named database an administrator defines: where it is,
// the credentials jobs reach it with, and which users may name it.
type DataSource struct {
	Name       string   `json:"name"`
	URL        string   `json:"url"`
	Username   string   `json:"username"`
	Password   string   `json:"password,omitempty"`
	AuthType   string   `json:"authType,omitempty"`   // USERNAME (default) or SIMPLE
	ConnectMax int      `json:"connectMax,omitempty"` // connections per engine (default 10)
	Users      []string `json:"users"`                // who may name it; "*": every user
}

// File is the data source file's shape:
//
//	{"dataSources": [{"name": "sales", "url": "jdbc:postgresql://db1:5432/sales",
//	  "username": "report", "password": "...", "users": ["alice", "bob"]}]}
type File struct {
	DataSources []DataSource `json:"dataSources"`
}

// Set is a checked collection of data sources, read-only once built. The
// zero value (and nil) holds none.
type Set struct {
	byName map[string]DataSource
}

// maxFileBytes bounds the data source file.
const maxFileBytes = 1 << 20

// Load reads a data source file (see File). It must be a regular file
// that only its owner can read or write (mode 0600 or stricter): it holds
// passwords. Every entry is checked; errors name the file and the entry
// and never quote a password or a URL.
func Load(path string) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data sources: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("data sources: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("data sources: %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("data sources: %s holds passwords but is open to others (mode %04o): chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("data sources: %w", err)
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("data sources: %s is larger than %d bytes", path, maxFileBytes)
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("data sources: %s: %w", path, err)
	}
	return s, nil
}

// Parse decodes and checks the contents of a data source file.
func Parse(b []byte) (*Set, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, linkis.Errorf(linkis.ErrMalformed, "dataSources", "%s", jsonReason(err))
	}
	if dec.More() {
		return nil, linkis.Errorf(linkis.ErrMalformed, "dataSources", "trailing data after the JSON object")
	}
	return NewSet(f.DataSources)
}

// jsonReason is a decoding error without the text it quotes (a value in
// the file may be a password).
func jsonReason(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return "not valid JSON at byte " + strconv.FormatInt(e.Offset, 10)
	case *json.UnmarshalTypeError:
		return "field " + e.Field + " must be " + e.Type.String()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "not valid JSON: it ends too early"
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return msg[len("json: "):]
	}
	return "not a data source file"
}

// NewSet checks data sources and collects them: names are unique and
// well-formed, URLs parse, credentials fit the auth type, users are user
// names or "*".
func NewSet(list []DataSource) (*Set, error) {
	s := &Set{byName: make(map[string]DataSource, len(list))}
	for i, d := range list {
		where := "dataSources[" + strconv.Itoa(i) + "]"
		if !validName(d.Name) {
			return nil, linkis.ValueError(linkis.ErrInvalidArgument, where+".name", d.Name, "must be 1-64 letters, digits, '_', '.' or '-'")
		}
		where = "data source " + strconv.Quote(d.Name)
		if _, dup := s.byName[d.Name]; dup {
			return nil, linkis.Errorf(linkis.ErrDuplicate, where, "defined twice")
		}
		if _, err := d.settings(); err != nil {
			return nil, prefixed(where, err)
		}
		if len(d.Users) == 0 {
			return nil, linkis.Errorf(linkis.ErrInvalidArgument, where+".users", "list the users who may use it (\"*\": everyone)")
		}
		for _, u := range d.Users {
			if u != "*" && !validUser(u) {
				return nil, linkis.ValueError(linkis.ErrInvalidArgument, where+".users", u, "not a user name")
			}
		}
		d.Users = slices.Clone(d.Users)
		s.byName[d.Name] = d
	}
	return s, nil
}

// settings checks the data source as a job's settings would be checked.
func (d DataSource) settings() (Settings, error) {
	p := map[string]string{KeyURL: d.URL, KeyUsername: d.Username, KeyPassword: d.Password, KeyAuthType: d.AuthType}
	if d.ConnectMax != 0 {
		p[KeyConnectMax] = strconv.Itoa(d.ConnectMax)
	}
	s, err := FromParams(p)
	s.DataSource = d.Name
	return s, err
}

// Allows reports whether user may name the data source.
func (d DataSource) Allows(user string) bool {
	return slices.Contains(d.Users, "*") || slices.Contains(d.Users, user)
}

// Lookup returns the connection settings of data source name for user:
// linkis.ErrInvalidArgument when no data source has that name,
// linkis.ErrPermission when user may not use it.
func (s *Set) Lookup(name, user string) (Settings, error) {
	var d DataSource
	ok := false
	if s != nil {
		d, ok = s.byName[name]
	}
	if !ok {
		return Settings{}, linkis.ValueError(linkis.ErrInvalidArgument, KeyDataSource, name, "no data source of this name is configured on this server")
	}
	if !d.Allows(user) {
		return Settings{}, linkis.ValueError(linkis.ErrPermission, KeyDataSource, name, "user "+strconv.Quote(user)+" is not allowed to use this data source")
	}
	return d.settings()
}

// Names lists the data sources, sorted.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.byName))
	for n := range s.byName {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// validUser: a user name as userCreator allows it.
func validUser(s string) bool {
	_, err := linkis.ParseUserCreator(s + "-x")
	return err == nil && !strings.Contains(s, "-")
}

// prefixed puts where in front of a *linkis.Error's field.
func prefixed(where string, err error) error {
	if le, ok := err.(*linkis.Error); ok {
		cp := *le
		cp.Field = where + ": " + cp.Field
		return &cp
	}
	return fmt.Errorf("%s: %w", where, err)
}
