package datasource

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// ResolveTimeout bounds the name lookups TrustedFor makes.
const ResolveTimeout = 2 * time.Second

// TrustedFor returns the name of a SIMPLE data source - one whose
// database trusts the engines' hosts for its user, with no password -
// that user may not name and that inline settings in reach as it does:
// the same server and database user, whatever the database or the
// password (a server that trusts the host does not check it). "" when
// there is none.
//
// The same server is the same port (the dialect's default applied, as
// ParseURL does) on the same host, however it is written: the names are
// compared without case, brackets or a trailing dot, then by address -
// both resolved (within ResolveTimeout), and any two addresses in common,
// or a loopback or unspecified address on both sides (127.0.0.0/8, ::1,
// 0.0.0.0 and :: all reach this host), make them the same host. When
// there is a SIMPLE data source to tell the job's host from and that host
// does not resolve here, the settings are refused (linkis.ErrInvalidArgument
// naming KeyURL): what this server cannot resolve it cannot tell apart,
// and an engine's host might resolve it to the data source's server.
//
// Not covered: another address of the server's host that its database
// trusts too (a data source on localhost, the job on the host's LAN
// address), and a name that resolves differently on the engine's host or
// later (DNS rebinding) - the database should trust the engines' hosts for
// nothing but data sources' users on the addresses they name.
func (s *Set) TrustedFor(ctx context.Context, in Settings, user string) (string, error) {
	if s == nil {
		return "", nil
	}
	var (
		job      []netip.Addr
		resolved bool
	)
	for _, name := range s.Names() {
		d := s.byName[name]
		if !strings.EqualFold(d.AuthType, AuthSimple) || d.Allows(user) || d.Username != in.Username {
			continue
		}
		t, err := ParseURL(d.URL)
		if err != nil || t.Port != in.Target.Port {
			continue
		}
		if normalHost(t.Host) == normalHost(in.Target.Host) {
			return name, nil
		}
		if !resolved {
			if job, err = resolveHost(ctx, in.Target.Host); err != nil {
				return "", linkis.Errorf(linkis.ErrInvalidArgument, KeyURL,
					"the host %s does not resolve here (%v), so it cannot be told apart from the server of a data source that trusts this cluster's hosts: write the server's address or a name this server resolves, or name a data source (%s)",
					quoteName(normalHost(in.Target.Host)), lookupReason(err), KeyDataSource)
			}
			resolved = true
		}
		if ds, err := resolveHost(ctx, t.Host); err == nil && sameHost(job, ds) {
			return name, nil
		}
	}
	return "", nil
}

// normalHost is a host as a name lookup sees it: no brackets, no
// trailing dot, lower case.
func normalHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// resolveHost returns the addresses of host: itself when it is an
// address, loopback for localhost and its subdomains (RFC 6761, whatever
// /etc/hosts says), else what the resolver says within ResolveTimeout.
func resolveHost(ctx context.Context, host string) ([]netip.Addr, error) {
	h := normalHost(host)
	if a, err := netip.ParseAddr(h); err == nil {
		return []netip.Addr{a.Unmap().WithZone("")}, nil
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return []netip.Addr{netip.IPv6Loopback()}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, ResolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", h)
	if err != nil {
		return nil, err
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap().WithZone("")
	}
	return addrs, nil
}

// sameHost reports whether two address lists name one host.
func sameHost(a, b []netip.Addr) bool {
	local := func(l []netip.Addr) bool {
		for _, x := range l {
			if x.IsLoopback() || x.IsUnspecified() {
				return true
			}
		}
		return false
	}
	if local(a) && local(b) {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// lookupReason says why a lookup failed without repeating the name.
func lookupReason(err error) string {
	var de *net.DNSError
	switch {
	case errors.As(err, &de) && de.IsNotFound:
		return "no such host"
	case errors.As(err, &de) && de.IsTimeout, errors.Is(err, context.DeadlineExceeded):
		return "no answer within " + strconv.Itoa(int(ResolveTimeout/time.Second)) + "s"
	}
	return "the lookup failed"
}
