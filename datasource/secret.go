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
// key, with a random nonce (so a handle says nothing of its secret: two
// users' equal passwords give different handles, and a guess cannot be
// checked by sealing it) and with the user and the setting it was sealed
// for as associated data. A handle is therefore no bearer token: it opens
// only for the same user under the same setting (Canonical: either name
// of a jdbc setting) - copied into another user's job, or under another
// key of the same user's (where it would be sent somewhere else), it is
// refused. Every process holding the same key - the members of a cluster
// derive it from the cluster token (VaultKeyFrom) - reveals it, so a job
// accepted by one member runs on another, and after a restart. It is safe
// for concurrent use; the zero value is not ready: use NewVault.
type Vault struct {
	aead cipher.AEAD
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
	return &Vault{aead: aead}, nil
}

// VaultKeyFrom derives a vault key from a shared secret (the cluster
// token): not the token itself, and of no use for anything else.
func VaultKeyFrom(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("golinkis job secrets v1"))
	return m.Sum(nil)
}

// boundTo is the associated data of a handle: what it may be opened for.
func boundTo(user, key string) []byte {
	return []byte("golinkis vault v2\x00" + user + "\x00" + Canonical(key))
}

// Keep seals secret for user's setting key and returns its handle. A
// value that already is a handle is returned as it is (it opens only if
// it was sealed for the same user and key).
func (v *Vault) Keep(user, key, secret string) string {
	if IsRedacted(secret) {
		return secret
	}
	nonce := make([]byte, v.aead.NonceSize(), v.aead.NonceSize()+len(secret)+v.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("datasource: no randomness for a vault nonce: " + err.Error()) // crypto/rand does not fail on Linux
	}
	return RedactedPrefix + base64.RawURLEncoding.EncodeToString(v.aead.Seal(nonce, nonce, []byte(secret), boundTo(user, key)))
}

// Reveal returns the secret of a handle sealed for user's setting key (a
// value that is not a handle is returned as it is). A handle this vault
// cannot open - sealed under another vault key (another cluster token, or
// a single process's own key before it restarted), for another user or
// another setting, or damaged - is an error naming key.
func (v *Vault) Reveal(user, key, value string) (string, error) {
	if !IsRedacted(value) {
		return value, nil
	}
	fail := linkis.Errorf(linkis.ErrInvalidArgument, key,
		"the job's secret cannot be opened here (a secret is sealed for one user and one setting, under the cluster's key: this one was sealed for another user or setting, under another cluster token, or in the memory of a process that has restarted); submit the job again with the secret itself, or name a data source (%s) instead", KeyDataSource)
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(value, RedactedPrefix))
	if err != nil || len(b) < v.aead.NonceSize() {
		return "", fail
	}
	out, err := v.aead.Open(nil, b[:v.aead.NonceSize()], b[v.aead.NonceSize():], boundTo(user, key))
	if err != nil {
		return "", fail
	}
	return string(out), nil
}

// RedactMaps replaces, in place, every secret value of ms
// (linkis.IsSecretKey) by a handle sealed for user and its key, keeping the
// secret in the vault. One secret under both names of a setting (or in two
// of the maps) gets one handle, so they still read as equal. It returns how
// many values it replaced.
func (v *Vault) RedactMaps(user string, ms ...map[string]string) int {
	n := 0
	var sealed map[[2]string]string
	for _, m := range ms {
		for k, val := range m {
			if !linkis.IsSecretKey(k) || val == "" || IsRedacted(val) {
				continue
			}
			id := [2]string{Canonical(k), val}
			h, ok := sealed[id]
			if !ok {
				h = v.Keep(user, k, val)
				if sealed == nil {
					sealed = map[[2]string]string{}
				}
				sealed[id] = h
			}
			m[k] = h
			n++
		}
	}
	return n
}

// RevealMap returns a copy of m with every handle replaced by its secret
// (each must have been sealed for user and its key).
func (v *Vault) RevealMap(user string, m map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(m))
	for k, val := range m {
		s, err := v.Reveal(user, k, val)
		if err != nil {
			return nil, err
		}
		out[k] = s
	}
	return out, nil
}
