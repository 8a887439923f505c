package datasource

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/golinkis/golinkis/linkis"
)

// RedactedPrefix starts every vault handle.
const RedactedPrefix = "redacted:"

// IsRedacted reports whether v is a vault handle.
func IsRedacted(v string) bool { return strings.HasPrefix(v, RedactedPrefix) }

// Vault seals secrets into handles that can be stored where the secret
// cannot - a job's replicated record, its log of commands: a handle is
// "redacted:" and the secret encrypted with AES-256-GCM under the vault's
// key. The nonce is derived from the secret (an HMAC under a second key,
// as SIV does), so one secret always gives one handle - a request naming
// a password under both of its keys still shows them equal - and distinct
// secrets never share a nonce. Every process holding the same key
// - the members of a cluster derive it from the cluster token
// (VaultKeyFrom) - reveals it, so a job accepted by one member runs on
// another, and after a restart. It is safe for concurrent use; the zero
// value is not ready: use NewVault.
type Vault struct {
	aead     cipher.AEAD
	nonceKey []byte
}

// NewVault returns a vault sealing with key (32 bytes); a nil key draws a
// random one, good for this process only.
func NewVault(key []byte) (*Vault, error) {
	if key == nil {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
	}
	if len(key) != 32 {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "key", "a vault key is 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("nonce"))
	return &Vault{aead: aead, nonceKey: m.Sum(nil)}, nil
}

// VaultKeyFrom derives a vault key from a shared secret (the cluster
// token): not the token itself, and of no use for anything else.
func VaultKeyFrom(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("golinkis job secrets v1"))
	return m.Sum(nil)
}

// Keep seals secret and returns its handle. A value that already is a
// handle is returned as it is.
func (v *Vault) Keep(secret string) string {
	if IsRedacted(secret) {
		return secret
	}
	m := hmac.New(sha256.New, v.nonceKey)
	m.Write([]byte(secret))
	nonce := make([]byte, v.aead.NonceSize(), v.aead.NonceSize()+len(secret)+v.aead.Overhead())
	copy(nonce, m.Sum(nil))
	return RedactedPrefix + base64.RawURLEncoding.EncodeToString(v.aead.Seal(nonce, nonce, []byte(secret), nil))
}

// Reveal returns the secret of a handle (a value that is not a handle is
// returned as it is). A handle this vault cannot open - sealed under
// another key (another cluster's token, or a single process's own key
// before it restarted) or damaged - is an error naming key.
func (v *Vault) Reveal(key, value string) (string, error) {
	if !IsRedacted(value) {
		return value, nil
	}
	fail := linkis.Errorf(linkis.ErrInvalidArgument, key,
		"the job's secret cannot be opened here (it was sealed under another key: another cluster token, or the memory of a process that has restarted); submit the job again, or name a data source (%s) instead", KeyDataSource)
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(value, RedactedPrefix))
	if err != nil || len(b) < v.aead.NonceSize() {
		return "", fail
	}
	out, err := v.aead.Open(nil, b[:v.aead.NonceSize()], b[v.aead.NonceSize():], nil)
	if err != nil {
		return "", fail
	}
	return string(out), nil
}

// RedactMap replaces, in place, every secret value of m (linkis.IsSecretKey) by
// its handle, keeping the secret in the vault. It returns how many values
// it replaced.
func (v *Vault) RedactMap(m map[string]string) int {
	n := 0
	for k, val := range m {
		if linkis.IsSecretKey(k) && val != "" && !IsRedacted(val) {
			m[k] = v.Keep(val)
			n++
		}
	}
	return n
}

// RevealMap returns a copy of m with every handle replaced by its secret.
func (v *Vault) RevealMap(m map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(m))
	for k, val := range m {
		s, err := v.Reveal(k, val)
		if err != nil {
			return nil, err
		}
		out[k] = s
	}
	return out, nil
}
