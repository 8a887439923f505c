package datasource

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Target
	}{
		{"jdbc:postgresql://db1:5433/sales", Target{Dialect: PostgreSQL, Host: "db1", Port: 5433, Database: "sales", Params: map[string]string{}}},
		{"jdbc:postgresql://db1/sales?currentSchema=s1&ApplicationName=bi&ssl=true&loginTimeout=5",
			Target{Dialect: PostgreSQL, Host: "db1", Port: 5432, Database: "sales", Params: map[string]string{"search_path": "s1", "application_name": "bi", "sslmode": "require"}}},
		{"postgres://[::1]:6000/x?sslmode=disable", Target{Dialect: PostgreSQL, Host: "::1", Port: 6000, Database: "x", Params: map[string]string{"sslmode": "disable"}}},
		{"jdbc:mysql://10.0.0.5/shop?useUnicode=true&characterEncoding=utf8&useSSL=false&connectTimeout=3000",
			Target{Dialect: MySQL, Host: "10.0.0.5", Port: 3306, Database: "shop", Params: map[string]string{"charset": "utf8mb4", "tls": "false", "timeout": "3000ms"}}},
		{"jdbc:mariadb://h:3307/", Target{Dialect: MySQL, Host: "h", Port: 3307, Database: "", Params: map[string]string{}}},
	} {
		got, err := ParseURL(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, c := range []struct{ in, says string }{
		{"jdbc:oracle:thin:@h:1521:x", "must look like"},
		{"jdbc:oracle://h:1521/x", `scheme "oracle"`},
		{"jdbc:postgresql://alice:S3cret-pw@h/db", "carries a password"},
		{"jdbc:mysql://h/db?user=a&password=S3cret-pw", "carries a password"},
		{"jdbc:mysql://h/db?PASSWORD=S3cret-pw", "carries a password"},
		{"jdbc:mysql://h/db?allowLoadLocalInfile=true", "LOCAL INFILE"},
		{"jdbc:postgresql://h:99999/db", "port"},
		{"jdbc:postgresql://h:/db", "port is empty"},
		{"jdbc:postgresql:///db", "no host"},
		{"jdbc:postgresql://h1,h2/db", "several hosts"},
		{"jdbc:postgresql://h/db?prepareThresholdX=1", "prepareThresholdX"},
		{"jdbc:postgresql://h/a/b", "one path element"},
		{"jdbc:postgresql://h/db#frag", "fragment"},
		{"jdbc:postgresql://h\x00/db", "malformed"},
		{strings.Repeat("x", 3000), "longer than"},
	} {
		_, err := ParseURL(c.in)
		if !errors.Is(err, linkis.ErrInvalidArgument) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ParseURL(%q): want an error saying %q, got %v", c.in, c.says, err)
			continue
		}
		if strings.Contains(err.Error(), "S3cret") {
			t.Errorf("ParseURL(%q) quotes the password: %v", c.in, err)
		}
	}
}

func TestFromParams(t *testing.T) {
	s, err := FromParams(map[string]string{"wds.linkis.jdbc.connect.url": "jdbc:postgresql://h/db", KeyUsername: "u", "wds.linkis.jdbc.password": "pw",
		KeyConnectMax: "3", KeyResultMax: "100", KeyQueryTimeout: "0", "unrelated": "x"})
	if err != nil || s.Target.Database != "db" || s.Username != "u" || s.Password != "pw" || s.AuthType != AuthUsername ||
		s.ConnectMax != 3 || s.ResultMax != 100 || s.QueryTimeout != 0 || s.ConnectTimeout != DefaultConnectTimeout {
		t.Fatalf("%+v %v", s, err)
	}
	back, err := FromParams(s.Params())
	if err != nil || !reflect.DeepEqual(back, s) {
		t.Fatalf("Params does not round-trip: %+v %v", back, err)
	}
	if strings.Contains(s.String(), "pw") {
		t.Fatalf("String shows the password: %s", s)
	}
	base := func() map[string]string {
		return map[string]string{KeyURL: "jdbc:mysql://h/db", KeyUsername: "u", KeyPassword: "pw-9Zq"}
	}
	for _, c := range []struct {
		set   map[string]string
		field string
	}{
		{map[string]string{KeyURL: ""}, KeyURL},
		{map[string]string{KeyUsername: ""}, KeyUsername},
		{map[string]string{KeyPassword: ""}, KeyPassword},
		{map[string]string{KeyAuthType: "KERBEROS"}, KeyAuthType},
		{map[string]string{KeyAuthType: "simple"}, KeyPassword}, // SIMPLE takes no password
		{map[string]string{KeyConnectMax: "0"}, KeyConnectMax},
		{map[string]string{KeyResultMax: "0"}, KeyResultMax},
		{map[string]string{KeyResultMax: "-5"}, KeyResultMax},
		{map[string]string{KeyQueryTimeout: "-1"}, KeyQueryTimeout},
		{map[string]string{KeyConnectTimeout: "0"}, KeyConnectTimeout},
		{map[string]string{"wds.linkis.jdbc.password": "other"}, KeyPassword},
	} {
		p := base()
		for k, v := range c.set {
			p[k] = v
		}
		_, err := FromParams(p)
		var le *linkis.Error
		if !errors.As(err, &le) || !strings.HasPrefix(le.Field, c.field) {
			t.Errorf("%v: want an error about %s, got %v", c.set, c.field, err)
		} else if strings.Contains(err.Error(), "pw-9Zq") || strings.Contains(err.Error(), "other") {
			t.Errorf("%v: the error quotes the password: %v", c.set, err)
		}
	}
	s, err = FromParams(map[string]string{KeyURL: "jdbc:mysql://h/db", KeyUsername: "u", KeyAuthType: "simple"})
	if err != nil || s.AuthType != AuthSimple {
		t.Fatalf("SIMPLE without a password: %+v %v", s, err)
	}
}

func writeFile(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "datasources.json")
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	const good = `{"dataSources": [
		{"name": "sales", "url": "jdbc:postgresql://db1/sales", "username": "report", "password": "Pw-sales-1", "users": ["alice", "bob"]},
		{"name": "open", "url": "jdbc:mysql://db2/x", "username": "ro", "authType": "SIMPLE", "connectMax": 2, "users": ["*"]}]}`
	s, err := Load(writeFile(t, good, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Names(); !reflect.DeepEqual(got, []string{"open", "sales"}) {
		t.Fatalf("names %v", got)
	}
	st, err := s.Lookup("sales", "alice")
	if err != nil || st.Password != "Pw-sales-1" || st.DataSource != "sales" || st.Target.Host != "db1" {
		t.Fatalf("%+v %v", st, err)
	}
	if _, err := s.Lookup("sales", "carol"); !errors.Is(err, linkis.ErrPermission) {
		t.Fatalf("carol is not allowed: %v", err)
	}
	if st, err := s.Lookup("open", "carol"); err != nil || st.ConnectMax != 2 {
		t.Fatalf("* allows everyone: %+v %v", st, err)
	}
	if _, err := s.Lookup("nope", "alice"); !errors.Is(err, linkis.ErrInvalidArgument) || !strings.Contains(err.Error(), "no data source") {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := (*Set)(nil).Lookup("sales", "alice"); err == nil {
		t.Fatal("a nil set holds nothing")
	}
	if _, err := Load(writeFile(t, good, 0o644)); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a file others can read is refused: %v", err)
	}
	for _, c := range []struct{ body, says string }{
		{`{"dataSources": [{"name": "a", "url": "jdbc:postgresql://h/d", "username": "u", "password": "Pw-x-1", "users": ["a"]},
		                   {"name": "a", "url": "jdbc:postgresql://h/d", "username": "u", "password": "Pw-x-1", "users": ["a"]}]}`, "defined twice"},
		{`{"dataSources": [{"name": "a b", "url": "jdbc:postgresql://h/d", "username": "u", "password": "Pw-x-1", "users": ["a"]}]}`, "name"},
		{`{"dataSources": [{"name": "a", "url": "jdbc:db2://h/d", "username": "u", "password": "Pw-x-1", "users": ["a"]}]}`, "db2"},
		{`{"dataSources": [{"name": "a", "url": "jdbc:postgresql://h/d", "username": "u", "users": ["a"]}]}`, "jdbc.password"},
		{`{"dataSources": [{"name": "a", "url": "jdbc:postgresql://h/d", "username": "u", "password": "Pw-x-1", "users": []}]}`, "users"},
		{`{"dataSources": [{"name": "a", "url": "jdbc:postgresql://h/d", "username": "u", "password": "Pw-x-1", "users": ["bad user"]}]}`, "users"},
		{`{"dataSources": [{"name": "a", "url": "jdbc:postgresql://h/d", "username": "u", "pasword": "Pw-x-1", "users": ["a"]}]}`, "unknown field"},
		{`{"dataSources": [{"name": "a", "password": "Pw-x-1" `, "not valid JSON"},
		{`{"dataSources": [{"name": "a", "password": 5}]}`, "password"},
		{`{} {}`, "trailing"},
	} {
		_, err := Load(writeFile(t, c.body, 0o600))
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: want an error saying %q, got %v", c.body, c.says, err)
		} else if strings.Contains(err.Error(), "Pw-x-1") {
			t.Errorf("the error quotes a password: %v", err)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing file is an error")
	}
}

func TestVault(t *testing.T) {
	key := VaultKeyFrom("a cluster token")
	v, err := NewVault(key)
	if err != nil {
		t.Fatal(err)
	}
	h := v.Keep("alice", "jdbc.password", "s3cret")
	if !IsRedacted(h) || strings.Contains(h, "s3cret") || v.Keep("alice", "jdbc.password", h) != h {
		t.Fatalf("handle %q", h)
	}
	// A random nonce: one secret sealed twice - for one user or two - gives
	// two handles, so a handle tells nothing of its secret (the data review
	// found equal passwords giving equal handles).
	if v.Keep("alice", "jdbc.password", "s3cret") == h || v.Keep("bob", "jdbc.password", "s3cret") == h {
		t.Fatal("one secret sealed twice gave one handle")
	}
	// Another process with the same key (another member) opens it, for the
	// same user and setting (under either of its names).
	other, _ := NewVault(VaultKeyFrom("a cluster token"))
	for _, k := range []string{"jdbc.password", "wds.linkis.jdbc.password"} {
		if s, err := other.Reveal("alice", k, h); err != nil || s != "s3cret" {
			t.Fatalf("%s: %q %v", k, s, err)
		}
	}
	// For another user, under another setting: refused, naming the key and
	// no secret (the data review replayed alice's handle in mallory's job).
	for _, c := range [][2]string{{"mallory", "jdbc.password"}, {"alice", "note"}, {"alice", "other.password"}} {
		if s, err := other.Reveal(c[0], c[1], h); err == nil || s != "" || !strings.Contains(err.Error(), c[1]) || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("%v opened a handle sealed for alice's jdbc.password: %q %v", c, s, err)
		}
	}
	// Another key, a damaged handle: refused, naming the key and no secret.
	stranger, _ := NewVault(nil)
	for _, bad := range []string{h, h[:len(h)-2], RedactedPrefix + "!!", RedactedPrefix} {
		if s, err := stranger.Reveal("alice", "jdbc.password", bad); err == nil || s != "" || !strings.Contains(err.Error(), "jdbc.password") {
			t.Fatalf("%q opened under another key or damaged: %q %v", bad, s, err)
		}
	}
	if _, err := NewVault([]byte("short")); err == nil {
		t.Fatal("a short key was accepted")
	}
	m := map[string]string{"jdbc.password": "p1", "wds.linkis.jdbc.password": "p2", "jdbc.username": "u", "x.Secret": ""}
	if n := v.RedactMaps("alice", m); n != 2 || m["jdbc.username"] != "u" || !IsRedacted(m["jdbc.password"]) || !IsRedacted(m["wds.linkis.jdbc.password"]) {
		t.Fatalf("%d %v", n, m)
	}
	back, err := other.RevealMap("alice", m)
	if err != nil || back["jdbc.password"] != "p1" || back["wds.linkis.jdbc.password"] != "p2" {
		t.Fatalf("%v %v", back, err)
	}
	if _, err := other.RevealMap("bob", m); err == nil {
		t.Fatal("bob opened alice's handles")
	}
	// One secret under both names of a setting, in one map or two, keeps
	// one handle: the settings still read as equal.
	m1, m2 := map[string]string{"jdbc.password": "p"}, map[string]string{"wds.linkis.jdbc.password": "p"}
	v.RedactMaps("alice", m1, m2)
	if m1["jdbc.password"] != m2["wds.linkis.jdbc.password"] {
		t.Fatalf("one secret under both names got two handles: %v %v", m1, m2)
	}
}

func TestDefaultsAreSane(t *testing.T) {
	if DefaultQueryTimeout != 1800*time.Second || DefaultConnectMax < 1 || DefaultResultMax < 1 {
		t.Fatal("defaults")
	}
}

// FuzzParseURL: parsing never panics, accepts only what the engine can
// reach, and an error quotes no part of the URL but its scheme and the
// names of its parameters (never a user, password, host or value).
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"jdbc:postgresql://h:5432/db?sslmode=disable", "jdbc:mysql://u:PwQ@h/db", "postgres://[::1]/x?password=PwQ", "jdbc:mariadb://h/?charset=utf8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseURL(s)
		if err != nil {
			scheme, rest, _ := strings.Cut(strings.TrimPrefix(s, "jdbc:"), "://")
			_, query, _ := strings.Cut(rest, "?")
			named := strings.Contains(scheme, "PwQ")
			for _, kv := range strings.Split(query, "&") {
				k, _, _ := strings.Cut(kv, "=")
				named = named || strings.Contains(k, "PwQ")
			}
			if strings.Contains(err.Error(), "PwQ") && !named {
				t.Fatalf("the error quotes the URL: %v", err)
			}
			return
		}
		if tg.Dialect != PostgreSQL && tg.Dialect != MySQL || tg.Port < 1 || tg.Port > 65535 || tg.Host == "" {
			t.Fatalf("accepted %q as %+v", s, tg)
		}
	})
}

// FuzzParse: the data source file decoder never panics, accepts only
// entries that check, and never quotes a password in its errors.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"dataSources": [{"name": "a", "url": "jdbc:postgresql://h/d", "username": "u", "password": "PwQ-1", "users": ["*"]}]}`))
	f.Add([]byte(`{"dataSources": [{"name": "a", "password": "PwQ-1"`))
	f.Add([]byte(`{"dataSources": [{"name": "b", "url": "jdbc:mysql://u:PwQ-1@h/d", "username": "u", "password": "PwQ-1", "users": ["x"]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			var f File
			json.Unmarshal(b, &f) // as far as it goes
			for _, d := range f.DataSources {
				if len(d.Password) >= 4 && strings.Contains(err.Error(), d.Password) {
					t.Fatalf("the error quotes a password: %v", err)
				}
			}
			if strings.Contains(err.Error(), "PwQ-1") {
				t.Fatalf("the error quotes a password: %v", err)
			}
			return
		}
		for _, n := range s.Names() {
			if !validName(n) {
				t.Fatalf("accepted the name %q", n)
			}
		}
	})
}
