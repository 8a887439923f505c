package identity

import (
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/golinkis/golinkis/linkis"
)

// LDAPConfig is a directory to bind against, as Linkis's
// wds.linkis.ldap.proxy.* keys say it: a user logs in when a simple bind
// as UserNameFormat (with %s replaced by the user name, escaped for a DN)
// succeeds with the password. An empty format binds as the bare user name
// (Active Directory's user principal names), as Linkis does.
type LDAPConfig struct {
	// URL is ldap://host:port or ldaps://host:port
	// (wds.linkis.ldap.proxy.url).
	URL string
	// BaseDN is appended to the bind DN when UserNameFormat holds no
	// base of its own (wds.linkis.ldap.proxy.baseDN), e.g. dc=example,dc=com.
	BaseDN string
	// UserNameFormat is the bind DN with %s for the user name
	// (wds.linkis.ldap.proxy.userNameFormat), e.g.
	// uid=%s,ou=people,dc=example,dc=com.
	UserNameFormat string
	// StartTLS upgrades an ldap:// connection before binding.
	StartTLS bool
	// TLS configures ldaps:// and StartTLS (nil: the system's roots).
	TLS *tls.Config
	// Timeout bounds a login's dial and bind (default 5 s).
	Timeout time.Duration
}

// Validate checks the configuration.
func (c LDAPConfig) Validate() error {
	if !strings.HasPrefix(c.URL, "ldap://") && !strings.HasPrefix(c.URL, "ldaps://") {
		return linkis.ValueError(linkis.ErrInvalidArgument, "LDAP.URL", c.URL, "want ldap://host:port or ldaps://host:port")
	}
	if u, err := url.Parse(c.URL); err != nil || u.Hostname() == "" {
		return linkis.ValueError(linkis.ErrInvalidArgument, "LDAP.URL", c.URL, "names no host; want ldap://host:port or ldaps://host:port")
	}
	if c.StartTLS && strings.HasPrefix(c.URL, "ldaps://") {
		return linkis.ValueError(linkis.ErrInvalidArgument, "LDAP.StartTLS", c.URL, "an ldaps:// connection is TLS already; StartTLS upgrades an ldap:// one")
	}
	if strings.Count(c.UserNameFormat, "%s") > 1 {
		return linkis.ValueError(linkis.ErrInvalidArgument, "LDAP.UserNameFormat", c.UserNameFormat, "at most one %s")
	}
	if c.Timeout < 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "LDAP.Timeout", "must not be negative")
	}
	return nil
}

// bindDN is the DN user binds as.
func (c LDAPConfig) bindDN(user string) string {
	if c.UserNameFormat == "" {
		return user
	}
	dn := strings.ReplaceAll(c.UserNameFormat, "%s", ldap.EscapeDN(user))
	if c.BaseDN != "" && !strings.Contains(strings.ToLower(dn), strings.ToLower(c.BaseDN)) {
		dn += "," + c.BaseDN
	}
	return dn
}

// errLDAPUnavailable says the directory could not be asked.
var errLDAPUnavailable = errors.New("the LDAP directory cannot be reached")

// ldapLogin binds as user with password: nil when the directory accepts
// them, linkis.ErrPermission when it refuses them, an error wrapping
// linkis.ErrUnavailable when it cannot be reached.
func ldapLogin(c LDAPConfig, user, password string) error {
	if password == "" {
		// An empty password would be an unauthenticated bind, which most
		// servers accept for any name.
		return linkis.Errorf(linkis.ErrPermission, "password", "empty")
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Timeout: timeout})}
	if c.TLS != nil {
		opts = append(opts, ldap.DialWithTLSConfig(c.TLS))
	}
	conn, err := ldap.DialURL(c.URL, opts...)
	if err != nil {
		return linkis.Errorf(linkis.ErrUnavailable, "ldap", "%v: %v", errLDAPUnavailable, err)
	}
	defer conn.Close()
	conn.SetTimeout(timeout)
	if c.StartTLS {
		// The certificate is checked against the URL's host: a URL may
		// leave the port to its default (389), and a --ldap-tls
		// configuration need not repeat the name.
		var tc *tls.Config
		if c.TLS != nil {
			tc = c.TLS.Clone()
		} else {
			tc = &tls.Config{}
		}
		if tc.ServerName == "" {
			if u, err := url.Parse(c.URL); err == nil {
				tc.ServerName = u.Hostname()
			}
		}
		if err := conn.StartTLS(tc); err != nil {
			return linkis.Errorf(linkis.ErrUnavailable, "ldap", "%v: StartTLS: %v", errLDAPUnavailable, err)
		}
	}
	if err := conn.Bind(c.bindDN(user), password); err != nil {
		if ldap.IsErrorAnyOf(err, ldap.LDAPResultInvalidCredentials, ldap.LDAPResultNoSuchObject,
			ldap.LDAPResultInvalidDNSyntax, ldap.LDAPResultInappropriateAuthentication, ldap.LDAPResultUnwillingToPerform) {
			return linkis.Errorf(linkis.ErrPermission, "password", "refused by the directory")
		}
		return linkis.Errorf(linkis.ErrUnavailable, "ldap", "%v: bind: %v", errLDAPUnavailable, err)
	}
	return nil
}
