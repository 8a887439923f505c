package restapi

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/golinkis/golinkis/linkis"
)

// Who a request comes from. Behind a reverse proxy - the README puts the
// console behind one, and TLS in front - every request's peer is the
// proxy: one address for every client, to the failed-login limit (twenty
// wrong passwords from anyone would lock everyone out) and to a token's
// hosts=; and the connection is not TLS although the client's was.
// Config.TrustedProxies names the proxies whose word is taken: a request
// whose peer is one of them comes from the rightmost address of
// X-Forwarded-For that is not a trusted proxy (what a client writes there
// itself is further left, and never reached), and was made over TLS when
// X-Forwarded-Proto says https. From any other peer those headers are
// ignored. By default no proxy is trusted.

// maxForwardedHops bounds the X-Forwarded-For entries read.
const maxForwardedHops = 32

// Proxies are the trusted reverse proxies in front of the server
// (Config.TrustedProxies, linkis server --trusted-proxy): the REST API
// and the web console (package console) read who a request comes from,
// and whether over TLS, through the same ones.
type Proxies []netip.Prefix

// ClientAddr returns the address a request comes from, as the
// authenticator takes it ("host:port" of the peer, or "host").
func (p Proxies) ClientAddr(r *http.Request) string {
	peer := peerAddr(r)
	if !p.trusted(peer) {
		return r.RemoteAddr
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i, n := len(hops)-1, 0; i >= 0 && n < maxForwardedHops && p.trusted(client); i, n = i-1, n+1 {
		a, ok := parseHop(hops[i])
		if !ok {
			break // a proxy wrote what is not an address: the last good hop stands
		}
		client = a
	}
	if client == peer {
		return r.RemoteAddr
	}
	return client.String()
}

// Secure reports whether the client's connection is TLS: this one, or a
// trusted proxy's saying so.
func (p Proxies) Secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !p.trusted(peerAddr(r)) {
		return false
	}
	for _, v := range r.Header.Values("X-Forwarded-Proto") {
		for _, proto := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(proto), "https") {
				return true
			}
		}
	}
	return false
}

func (p Proxies) trusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, prefix := range p {
		if prefix.Contains(a) {
			return true
		}
	}
	return false
}

func peerAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(r.RemoteAddr)
	return a.Unmap()
}

// parseHop reads an X-Forwarded-For entry: an address, with a port or not
// (IPv6 with a port in brackets).
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	return a.Unmap(), err == nil && a.Zone() == ""
}

// ParseTrustedProxies reads "CIDR,ADDR,..." (linkis server
// --trusted-proxy): addresses or CIDR prefixes of the reverse proxies
// whose X-Forwarded-For and X-Forwarded-Proto are believed.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, linkis.ValueError(linkis.ErrInvalidArgument, "trusted proxy", clip(f), "want an address or a CIDR prefix, e.g. 127.0.0.1 or 10.0.0.0/8")
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
