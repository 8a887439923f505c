package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/golinkis/golinkis/linkis"
)

// Passwords are kept as bcrypt hashes ($2a$, $2b$, $2y$; HashPassword
// makes them at DefaultCost) or argon2id hashes in the PHC form
// ($argon2id$v=19$m=KiB,t=N,p=N$SALT$HASH, as other tools write them).
// bcrypt is the default: a login costs ~50 ms of one core and no memory
// to speak of, where argon2id's memory hardness would let a login flood
// take gigabytes.

// DefaultCost is the bcrypt cost of HashPassword.
const DefaultCost = 10

// hashCost is the cost HashPassword uses (tests lower it).
var hashCost = DefaultCost

// MaxPasswordBytes bounds a password (bcrypt reads 72 bytes).
const MaxPasswordBytes = 72

// HashPassword hashes a password with bcrypt.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", linkis.Errorf(linkis.ErrInvalidArgument, "password", "empty")
	}
	if len(password) > MaxPasswordBytes {
		return "", linkis.Errorf(linkis.ErrInvalidArgument, "password", "longer than %d bytes (bcrypt reads no more)", MaxPasswordBytes)
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), hashCost)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Bounds of the argon2id parameters a hash may ask for.
const (
	maxArgonMemoryKiB = 256 << 10
	maxArgonTime      = 16
	maxArgonThreads   = 16
)

// checkHash checks that a stored hash is one this package can verify.
func checkHash(h string) error {
	switch {
	case strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"), strings.HasPrefix(h, "$2y$"):
		if _, err := bcrypt.Cost([]byte(h)); err != nil {
			return fmt.Errorf("not a bcrypt hash: %v", err)
		}
		return nil
	case strings.HasPrefix(h, "$argon2id$"):
		_, err := parseArgon2id(h)
		return err
	}
	return errors.New("want a bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$) hash; `linkis users passwd` makes one")
}

type argon2idHash struct {
	memory      uint32
	time        uint32
	threads     uint8
	salt, value []byte
}

func parseArgon2id(h string) (argon2idHash, error) {
	var a argon2idHash
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" {
		return a, errors.New("want $argon2id$v=19$m=KiB,t=N,p=N$SALT$HASH")
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &a.memory, &a.time, &threads); err != nil {
		return a, errors.New("want m=KiB,t=N,p=N in an argon2id hash")
	}
	if a.memory < 8 || a.memory > maxArgonMemoryKiB || a.time < 1 || a.time > maxArgonTime || threads < 1 || threads > maxArgonThreads {
		return a, fmt.Errorf("argon2id parameters out of bounds (m ≤ %d KiB, t ≤ %d, p ≤ %d)", maxArgonMemoryKiB, maxArgonTime, maxArgonThreads)
	}
	a.threads = uint8(threads)
	var err error
	if a.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(a.salt) < 8 {
		return a, errors.New("bad salt in an argon2id hash")
	}
	if a.value, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(a.value) < 16 || len(a.value) > 64 {
		return a, errors.New("bad hash in an argon2id hash")
	}
	return a, nil
}

// verifyPassword reports whether password matches hash (in constant time
// for a given hash).
func verifyPassword(hash, password string) bool {
	if strings.HasPrefix(hash, "$argon2id$") {
		a, err := parseArgon2id(hash)
		if err != nil {
			return false
		}
		got := argon2.IDKey([]byte(password), a.salt, a.time, a.memory, a.threads, uint32(len(a.value)))
		return subtle.ConstantTimeCompare(got, a.value) == 1
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// dummyHash returns the hash a password is compared against when the
// user is unknown (or cannot log in by password), so that an unknown name
// costs what a known one does: of the algorithm most of the directory's
// hashes use, at the highest cost among them (bcrypt at HashPassword's
// cost when the directory holds none). A users file of cost-12 hashes
// with a dummy of cost 10 would tell its users from unknown names by the
// answer's time.
func (d *Directory) dummyHash() string {
	var bcrypts, argons, cost int
	var a argon2idHash
	for _, u := range d.users {
		switch {
		case u.Hash == "":
		case strings.HasPrefix(u.Hash, "$argon2id$"):
			p, err := parseArgon2id(u.Hash)
			if err != nil {
				continue
			}
			argons++
			a.memory, a.time, a.threads = max(a.memory, p.memory), max(a.time, p.time), max(a.threads, p.threads)
			a.value = make([]byte, max(len(a.value), len(p.value)))
		default:
			if c, err := bcrypt.Cost([]byte(u.Hash)); err == nil {
				bcrypts++
				cost = max(cost, c)
			}
		}
	}
	if argons > bcrypts {
		return dummies.get(fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%d", a.memory, a.time, a.threads, len(a.value)), func() string {
			salt := make([]byte, 16)
			_, _ = rand.Read(salt)
			key := argon2.IDKey([]byte("not a password anyone has"), salt, a.time, a.memory, a.threads, uint32(len(a.value)))
			return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", a.memory, a.time, a.threads,
				base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
		})
	}
	if bcrypts == 0 {
		cost = hashCost
	}
	return dummies.get("bcrypt "+strconv.Itoa(cost), func() string {
		h, _ := bcrypt.GenerateFromPassword([]byte("not a password anyone has"), cost)
		return string(h)
	})
}

// dummies keeps the dummy hashes made, by algorithm and cost: a process
// makes each once.
var dummies = dummyCache{m: map[string]string{}}

type dummyCache struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *dummyCache) get(key string, mk func() string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.m[key]
	if !ok {
		h = mk()
		c.m[key] = h
	}
	return h
}
