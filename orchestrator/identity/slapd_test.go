package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// slapd is a real OpenLDAP server (Debian's slapd package, installed by
// scripts/install-slapd.sh, which make test runs when it is missing) on a
// loopback port, with a directory of dc=example,dc=com holding people.
// A test that cannot start it fails.
type slapd struct {
	URL string
	cmd *exec.Cmd
}

const ldapSuffix = "dc=example,dc=com"

func findSlapd(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := "/usr/sbin/" + name; fileExists(p) {
		return p
	}
	t.Fatalf("%s is not installed: run scripts/install-slapd.sh (make test does) - the LDAP tests need a real server", name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// startSlapd starts a slapd whose people are given as uid → password.
func startSlapd(t *testing.T, people map[string]string) *slapd {
	t.Helper()
	return startSlapdWith(t, people, "")
}

// startSlapdTLS starts a slapd that offers StartTLS with a certificate
// for 127.0.0.1 of a CA made for the test, and returns the CA's pool.
func startSlapdTLS(t *testing.T, people map[string]string) (*slapd, *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})))
	write(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return startSlapdWith(t, people, fmt.Sprintf("TLSCertificateFile %s\nTLSCertificateKeyFile %s\n", certFile, keyFile)), pool
}

// startSlapdWith starts a slapd with global configuration lines.
func startSlapdWith(t *testing.T, people map[string]string, global string) *slapd {
	t.Helper()
	bin, add := findSlapd(t, "slapd"), findSlapd(t, "slapadd")
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "slapd.conf")
	write(t, conf, fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %s/slapd.pid
%s
database mdb
maxsize 10485760
suffix "%s"
rootdn "cn=admin,%s"
rootpw admin-secret
directory %s/db
`, dir, global, ldapSuffix, ldapSuffix, dir))
	var ldif strings.Builder
	fmt.Fprintf(&ldif, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: example\ndc: example\n\n", ldapSuffix)
	fmt.Fprintf(&ldif, "dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n", ldapSuffix)
	for uid, pw := range people {
		fmt.Fprintf(&ldif, "dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n\n", uid, ldapSuffix, uid, uid, uid, pw)
	}
	data := filepath.Join(dir, "data.ldif")
	write(t, data, ldif.String())
	if out, err := exec.Command(add, "-f", conf, "-l", data).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
	for try := 0; try < 5; try++ {
		port := freePort(t)
		url := fmt.Sprintf("ldap://127.0.0.1:%d", port)
		cmd := exec.Command(bin, "-f", conf, "-h", url+"/", "-d", "0")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("slapd: %v", err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		stop := func() {
			cmd.Process.Kill()
			<-done
		}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-done:
				deadline = time.Time{} // exited: maybe the port was taken; try another
				continue
			default:
			}
			if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond); err == nil {
				c.Close()
				t.Cleanup(stop)
				return &slapd{URL: url, cmd: cmd}
			}
			time.Sleep(50 * time.Millisecond)
		}
		stop()
		t.Logf("slapd did not serve on port %d: %s", port, out.String())
	}
	t.Fatal("slapd could not be started")
	return nil
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
