package datasource

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/linkis"
)

// A SIMPLE data source's server is recognised under any spelling of its
// host that reaches it - and only its server, port and database user.
func TestTrustedForComparesHostsByAddress(t *testing.T) {
	set, err := NewSet([]DataSource{
		{Name: "local", URL: "jdbc:postgresql://localhost/dw", Username: "etl", AuthType: AuthSimple, Users: []string{"alice"}},
		{Name: "byaddr", URL: "jdbc:mysql://[::ffff:192.0.2.7]:3307/dw", Username: "etl2", AuthType: AuthSimple, Users: []string{"alice"}},
		{Name: "named", URL: "jdbc:postgresql://wh.corp.example/dw", Username: "etl3", AuthType: AuthSimple, Users: []string{"alice"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(url, user, as string) (string, error) {
		t.Helper()
		s, err := FromParams(map[string]string{KeyURL: url, KeyUsername: user, KeyPassword: "x"})
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		return set.TrustedFor(context.Background(), s, as)
	}
	for _, c := range []struct{ url, user, want string }{
		{"jdbc:postgresql://LOCALHOST:5432/other", "etl", "local"},
		{"jdbc:postgresql://127.0.0.2/dw", "etl", "local"}, // all of 127/8 is this host
		{"jdbc:postgresql://[::1]/dw", "etl", "local"},
		{"jdbc:postgresql://0.0.0.0/dw", "etl", "local"}, // connects to this host
		{"jdbc:postgresql://[::]:5432/dw", "etl", "local"},
		{"jdbc:postgresql://db.localhost./dw", "etl", "local"},
		{"jdbc:mysql://192.0.2.7:3307/dw", "etl2", "byaddr"},
		{"jdbc:postgresql://WH.corp.example./dw", "etl3", "named"},
		// Not a SIMPLE data source's server and user:
		{"jdbc:postgresql://localhost:5433/dw", "etl", ""},
		{"jdbc:postgresql://localhost/dw", "someone", ""},
		{"jdbc:postgresql://192.0.2.8/dw", "etl", ""},
		{"jdbc:mysql://192.0.2.7/dw", "etl2", ""}, // 3306
		{"jdbc:postgresql://no-such-host.invalid/dw", "nobody-of-a-data-source", ""},
	} {
		got, err := check(c.url, c.user, "mallory")
		if err != nil || got != c.want {
			t.Errorf("%s as %s: TrustedFor = %q, %v; want %q", c.url, c.user, got, err, c.want)
		}
		if got, err := check(c.url, c.user, "alice"); got != "" || err != nil {
			t.Errorf("%s as %s: alice, a user of every data source, is refused: %q, %v", c.url, c.user, got, err)
		}
	}
	// A host this server cannot resolve cannot be told apart from a
	// SIMPLE data source's server of the same port and user.
	_, err = check("jdbc:postgresql://no-such-host.invalid/dw", "etl", "mallory")
	if !errors.Is(err, linkis.ErrInvalidArgument) || !strings.Contains(err.Error(), KeyURL) || !strings.Contains(err.Error(), "does not resolve") {
		t.Errorf("an unresolvable host as a SIMPLE data source's user: %v", err)
	}
}
