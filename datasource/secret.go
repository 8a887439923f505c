package datasource

import (
	"container/list"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"

	"github.com/golinkis/golinkis/linkis"
)

// RedactedPrefix starts every vault handle.
const RedactedPrefix = "redacted:"

// IsRedacted reports whether v is a vault handle.
func IsRedacted(v string) bool { return strings.HasPrefix(v, RedactedPrefix) }

// DefaultVaultSize is how many distinct secrets a vault keeps.
const DefaultVaultSize = 10_000

// Vault keeps secrets in memory, each under a handle that can be stored
// where the secret cannot: the handle is "redacted:" and an HMAC-SHA256 of
// the secret under a random key of the vault (so it reveals nothing of the
// secret and the same secret always gets the same handle). It holds at
// most its size of distinct secrets, forgetting the least recently used
// one beyond that. It is safe for concurrent use; the zero value is not
// ready: use NewVault.
type Vault struct {
	key  [32]byte
	size int

	mu       sync.Mutex
	byHandle map[string]*list.Element // of vaultEntry
	lru      *list.List               // most recently used first
}

type vaultEntry struct{ handle, secret string }

// NewVault returns an empty vault holding up to size secrets (size ≤ 0:
// DefaultVaultSize).
func NewVault(size int) *Vault {
	if size <= 0 {
		size = DefaultVaultSize
	}
	v := &Vault{size: size, byHandle: map[string]*list.Element{}, lru: list.New()}
	if _, err := rand.Read(v.key[:]); err != nil {
		panic("datasource: no randomness for the vault key: " + err.Error())
	}
	return v
}

// Keep stores secret and returns its handle. A value that already is a
// handle is returned as it is.
func (v *Vault) Keep(secret string) string {
	if IsRedacted(secret) {
		return secret
	}
	m := hmac.New(sha256.New, v.key[:])
	m.Write([]byte(secret))
	h := RedactedPrefix + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:20])
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.byHandle[h]; ok {
		v.lru.MoveToFront(e)
		return h
	}
	v.byHandle[h] = v.lru.PushFront(vaultEntry{h, secret})
	for v.lru.Len() > v.size {
		old := v.lru.Back()
		v.lru.Remove(old)
		delete(v.byHandle, old.Value.(vaultEntry).handle)
	}
	return h
}

// Reveal returns the secret of a handle (a value that is not a handle is
// returned as it is). A handle the vault does not hold is an error naming
// key: the secret was held in the memory of a process that has since
// restarted, or was evicted.
func (v *Vault) Reveal(key, value string) (string, error) {
	if !IsRedacted(value) {
		return value, nil
	}
	v.mu.Lock()
	e, ok := v.byHandle[value]
	if ok {
		v.lru.MoveToFront(e)
	}
	v.mu.Unlock()
	if !ok {
		return "", linkis.Errorf(linkis.ErrInvalidArgument, key,
			"the job's secret was kept only in the memory of the process that accepted it, which no longer holds it (restarted); submit the job again, or name a data source (%s) instead", KeyDataSource)
	}
	return e.Value.(vaultEntry).secret, nil
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
