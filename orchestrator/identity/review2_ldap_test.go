package identity

// From the second security review of --ldap-starttls (458ade5), which
// this test failed on.

import (
	"net"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// linkis server --ldap-url ldap://HOST --ldap-starttls (the port left to
// its default, 389, as LDAP URLs allow and as directories are usually
// named): ldapLogin takes the certificate's name from the URL with
// net.SplitHostPort, which fails without a port, so the StartTLS
// configuration has no ServerName and every login fails ("either
// ServerName or InsecureSkipVerify must be specified") - the directory
// is "unavailable" for good. The test's directory answers StartTLS on
// 127.0.0.77:389 (root: the test runs as root, as CI does).
func TestStartTLSWithTheDefaultPortNamesTheServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.77:389")
	if err != nil {
		t.Fatalf("a directory on the default port: %v", err)
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		req, err := ber.ReadPacket(conn)
		if err != nil || len(req.Children) < 1 {
			return
		}
		// ExtendedResponse (application 24), success, to the StartTLS
		// request's message id.
		resp := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Response")
		resp.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, req.Children[0].Value, "MessageID"))
		ext := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 24, nil, "Extended Response")
		ext.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, "resultCode"))
		ext.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matchedDN"))
		ext.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "diagnosticMessage"))
		resp.AppendChild(ext)
		_, _ = conn.Write(resp.Bytes())
		// The client's TLS hello, if it sends one; then the connection ends.
		buf := make([]byte, 1024)
		_, _ = conn.Read(buf)
	}()
	cfg := LDAPConfig{URL: "ldap://127.0.0.77", UserNameFormat: "uid=%s,ou=people", StartTLS: true}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the URL is refused up front: %v", err)
	}
	err = ldapLogin(cfg, "carol", "carol-pw")
	<-served
	if err != nil && strings.Contains(err.Error(), "ServerName") {
		t.Errorf("StartTLS to ldap://127.0.0.77 (default port): %v - the directory's name was lost, every login fails", err)
	}
}
