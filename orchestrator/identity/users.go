package identity

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// The users file, one entry per line ('#' starts a comment line):
//
//	user alice password=$2a$10$...            a login user and its password's hash (bcrypt or argon2id)
//	user carol sessions=2                     a count that ends the user's sessions when it changes
//	                                          (`linkis users logout`; with or without password=)
//	token sha256:HEX users=alice,bob hosts=10.0.0.0/8,127.0.0.1 expires=2027-01-01
//	                                          a Token-Code, by the SHA-256 of the code: whom it may
//	                                          act as (users=*: anyone), from where (hosts=*: anywhere,
//	                                          the default), until when (default: for ever)
//	alice CODE                                the form before logins: alice's own token code, in plain
//	alice:CODE                                text, from anywhere; still read (with a warning), and
//	                                          rewritten as a token line by Migrate
//
// A line is of the new form when its first word is "user" or "token" and it
// has at least three words; anything else is of the old form.

// A login's user name is lower-cased (LoginName), as Linkis's gateway
// does: a user line names a user in lower case, or could never log in.
// Token-User is taken as sent, as Linkis's token authentication takes it:
// a token's users= names are matched exactly.
const errUpperCase = "logins are lower-cased (as Linkis's are), so a login user's name is written in lower case"

// User is a login user of the users file.
type User struct {
	Name string
	// Hash is the password's hash; empty: no password login (the user may
	// still have tokens, or log in through LDAP).
	Hash string
	// Sessions is a count whose change ends the user's sessions, as a
	// change of password does (the sessions= key).
	Sessions uint64
}

// Token is an auth token, as Linkis's gateway keeps them: a code some
// clients send as Token-Code, the users it may act as and the hosts it may
// come from.
type Token struct {
	Hash     [sha256.Size]byte // of the code
	AnyUser  bool
	Users    []string
	AnyHost  bool
	Hosts    []netip.Prefix
	Expires  time.Time // zero: never
	Legacy   bool      // read from an old "user code" line (the code is in the file in plain text)
	lineName string    // where it was read, for messages
}

// allows reports whether the token may act as user from addr at now.
func (t *Token) allows(user string, addr netip.Addr, now time.Time) error {
	if !t.Expires.IsZero() && !now.Before(t.Expires) {
		return linkis.Errorf(linkis.ErrPermission, "token", "the token expired")
	}
	if !t.AnyUser && !slices.Contains(t.Users, user) {
		return linkis.Errorf(linkis.ErrPermission, "token", "the token may not act as this user")
	}
	if t.AnyHost {
		return nil
	}
	addr = addr.Unmap()
	for _, p := range t.Hosts {
		if p.Contains(addr) {
			return nil
		}
	}
	return linkis.Errorf(linkis.ErrPermission, "token", "the token may not be used from this host")
}

// Directory is what a users file says: users and tokens.
type Directory struct {
	users  map[string]*User
	tokens map[[sha256.Size]byte]*Token
	lines  []fileLine // the file as read, for rewriting it
	// Warnings lists what the file holds that works but should change (a
	// token code in plain text). They never quote a secret.
	Warnings []string
}

type fileLine struct {
	raw   string
	user  *User
	token *Token
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	return &Directory{users: map[string]*User{}, tokens: map[[sha256.Size]byte]*Token{}}
}

// User returns a user of the directory.
func (d *Directory) User(name string) (*User, bool) {
	u, ok := d.users[name]
	return u, ok
}

// Users lists the users' names, sorted.
func (d *Directory) Users() []string {
	out := make([]string, 0, len(d.users))
	for n := range d.users {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Tokens returns the number of tokens.
func (d *Directory) Tokens() int { return len(d.tokens) }

// HashCode is the hash a token line keeps of a code.
func HashCode(code string) [sha256.Size]byte { return sha256.Sum256([]byte(code)) }

// token returns the token of a code.
func (d *Directory) token(code string) (*Token, bool) {
	t, ok := d.tokens[HashCode(code)]
	return t, ok
}

// AddUser adds (or replaces) a user.
func (d *Directory) AddUser(u User) error {
	if !ValidUserName(u.Name) {
		return linkis.ValueError(linkis.ErrInvalidArgument, "user", u.Name, "a user name must be 1-64 letters, digits, '_', '.' or '@', not dots only")
	}
	if u.Name != LoginName(u.Name) {
		return linkis.ValueError(linkis.ErrInvalidArgument, "user", u.Name, errUpperCase)
	}
	if u.Hash != "" {
		if err := checkHash(u.Hash); err != nil {
			return err
		}
	}
	if old, ok := d.users[u.Name]; ok {
		*old = u
		return nil
	}
	x := u
	d.users[u.Name] = &x
	d.lines = append(d.lines, fileLine{user: &x})
	return nil
}

// AddToken adds a token.
func (d *Directory) AddToken(t Token) error {
	if _, dup := d.tokens[t.Hash]; dup {
		return linkis.Errorf(linkis.ErrDuplicate, "token", "a token with this code is listed already")
	}
	for _, u := range t.Users {
		if !ValidUserName(u) {
			return linkis.ValueError(linkis.ErrInvalidArgument, "users", u, "not a user name")
		}
	}
	if !t.AnyUser && len(t.Users) == 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "users", "a token acts as some users (users=a,b) or any (users=*)")
	}
	x := t
	d.tokens[t.Hash] = &x
	d.lines = append(d.lines, fileLine{token: &x})
	return nil
}

// ValidUserName reports whether name can be a user: what the entrance
// accepts (the user of a userCreator label), not dots only.
func ValidUserName(name string) bool {
	if _, err := linkis.ParseUserCreator(name + "-x"); err != nil {
		return false
	}
	return strings.Trim(name, ".") != ""
}

// maxUsersFile bounds a users file.
const maxUsersFile = 16 << 20

// ReadDirectory reads a users file.
func ReadDirectory(r io.Reader, name string) (*Directory, error) {
	d := NewDirectory()
	sc := bufio.NewScanner(io.LimitReader(r, maxUsersFile))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		where := fmt.Sprintf("%s line %d", name, n)
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			d.lines = append(d.lines, fileLine{raw: raw})
			continue
		}
		if err := d.parseLine(where, line); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}

// LoadDirectory reads a users file from disk.
func LoadDirectory(path string) (*Directory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadDirectory(f, path)
}

// ParseSpec reads users and token codes from "user:code,user:code" (the
// LINKIS_USERS variable): each is an old-form line.
func ParseSpec(spec string) (*Directory, error) {
	d := NewDirectory()
	for i, p := range strings.Split(spec, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if err := d.parseLine(fmt.Sprintf("$LINKIS_USERS entry %d", i+1), p); err != nil {
			return nil, err
		}
	}
	d.Warnings = nil // the variable is the operator's choice, said once in the docs
	return d, nil
}

func (d *Directory) parseLine(where, line string) error {
	fields := strings.Fields(line)
	if len(fields) >= 3 && (fields[0] == "user" || fields[0] == "token") {
		kv := map[string]string{}
		for _, f := range fields[2:] {
			k, v, ok := strings.Cut(f, "=")
			if !ok || k == "" {
				return fmt.Errorf("%s: want key=value after the %s's name, got a word without '=' (the line is not shown: it may hold a secret)", where, fields[0])
			}
			if _, dup := kv[k]; dup {
				return fmt.Errorf("%s: %s= is given twice", where, k)
			}
			kv[k] = v
		}
		if fields[0] == "user" {
			return d.parseUser(where, fields[1], kv)
		}
		return d.parseToken(where, fields[1], kv)
	}
	// The old form: the user ends at the first ':' or blank.
	i := strings.IndexFunc(line, func(r rune) bool { return r == ':' || r == ' ' || r == '\t' })
	if i <= 0 || strings.TrimSpace(line[i+1:]) == "" {
		return fmt.Errorf("%s: want 'user NAME password=HASH', 'token sha256:HEX users=...' or the old 'user token-code' (the line is not shown: it may hold a secret)", where)
	}
	name, code := line[:i], strings.TrimSpace(line[i+1:])
	if !ValidUserName(name) {
		return fmt.Errorf("%s: %q is not a user name (1-64 letters, digits, '_', '.' or '@')", where, clip(name))
	}
	if _, dup := d.tokens[HashCode(code)]; dup {
		return fmt.Errorf("%s: this token code is listed twice", where)
	}
	for _, t := range d.tokens {
		if t.Legacy && !t.AnyUser && len(t.Users) == 1 && t.Users[0] == name {
			return fmt.Errorf("%s: user %q is listed twice", where, name)
		}
	}
	t := &Token{Hash: HashCode(code), Users: []string{name}, AnyHost: true, Legacy: true, lineName: where}
	d.tokens[t.Hash] = t
	d.lines = append(d.lines, fileLine{token: t})
	d.Warnings = append(d.Warnings, where+": a token code in plain text (the form before logins); `linkis users migrate` keeps only its hash")
	return nil
}

func (d *Directory) parseUser(where, name string, kv map[string]string) error {
	if !ValidUserName(name) {
		return fmt.Errorf("%s: %q is not a user name (1-64 letters, digits, '_', '.' or '@')", where, clip(name))
	}
	if name != LoginName(name) {
		return fmt.Errorf("%s: user %q: %s", where, name, errUpperCase)
	}
	if _, dup := d.users[name]; dup {
		return fmt.Errorf("%s: user %q is listed twice", where, name)
	}
	u := &User{Name: name}
	for k, v := range kv {
		switch k {
		case "password":
			if err := checkHash(v); err != nil {
				return fmt.Errorf("%s: password=: %v", where, err)
			}
			u.Hash = v
		case "sessions":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%s: sessions=: want a whole number", where)
			}
			u.Sessions = n
		default:
			return fmt.Errorf("%s: unknown key %q (a user line takes password=HASH and sessions=N)", where, clip(k))
		}
	}
	d.users[name] = u
	d.lines = append(d.lines, fileLine{user: u})
	return nil
}

func (d *Directory) parseToken(where, id string, kv map[string]string) error {
	hexed, ok := strings.CutPrefix(id, "sha256:")
	b, err := hex.DecodeString(hexed)
	if !ok || err != nil || len(b) != sha256.Size {
		return fmt.Errorf("%s: a token is named by sha256:HEX, the SHA-256 of its code in 64 hex digits (`linkis users token` makes one)", where)
	}
	t := &Token{AnyHost: true, lineName: where}
	copy(t.Hash[:], b)
	if _, dup := d.tokens[t.Hash]; dup {
		return fmt.Errorf("%s: this token is listed twice", where)
	}
	for k, v := range kv {
		switch k {
		case "users":
			if v == "*" {
				t.AnyUser = true
				continue
			}
			for _, u := range strings.Split(v, ",") {
				if !ValidUserName(u) {
					return fmt.Errorf("%s: users=: %q is not a user name", where, clip(u))
				}
				t.Users = append(t.Users, u)
			}
		case "hosts":
			if v == "*" {
				continue
			}
			t.AnyHost = false
			for _, h := range strings.Split(v, ",") {
				p, err := parseHost(h)
				if err != nil {
					return fmt.Errorf("%s: hosts=: %v", where, err)
				}
				t.Hosts = append(t.Hosts, p)
			}
		case "expires":
			e, err := parseDate(v)
			if err != nil {
				return fmt.Errorf("%s: expires=: %v", where, err)
			}
			t.Expires = e
		default:
			return fmt.Errorf("%s: unknown key %q (a token line takes users=, hosts= and expires=)", where, clip(k))
		}
	}
	if !t.AnyUser && len(t.Users) == 0 {
		return fmt.Errorf("%s: a token needs users=NAME,NAME (or users=* for any user)", where)
	}
	d.tokens[t.Hash] = t
	d.lines = append(d.lines, fileLine{token: t})
	return nil
}

// parseHost reads an address or a CIDR prefix.
func parseHost(h string) (netip.Prefix, error) {
	if strings.Contains(h, "/") {
		p, err := netip.ParsePrefix(h)
		if err != nil {
			return p, fmt.Errorf("%q is not an address or a CIDR prefix", clip(h))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or a CIDR prefix (host names are not resolved)", clip(h))
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither YYYY-MM-DD nor RFC 3339", clip(s))
}

func clip(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.ToValidUTF8(s, "?")
}

// Format writes the directory as a users file: comment lines as they
// were, every entry in the new form (an old "user code" line becomes a
// token line keeping only the code's hash).
func (d *Directory) Format(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, l := range d.lines {
		switch {
		case l.user != nil:
			if d.users[l.user.Name] != l.user {
				continue
			}
			fmt.Fprintf(bw, "user %s", l.user.Name)
			if l.user.Hash != "" {
				fmt.Fprintf(bw, " password=%s", l.user.Hash)
			}
			if l.user.Sessions != 0 || l.user.Hash == "" {
				// (A line of one key at least: "user NAME" alone reads as an
				// old "user token-code" line.)
				fmt.Fprintf(bw, " sessions=%d", l.user.Sessions)
			}
			bw.WriteByte('\n')
		case l.token != nil:
			t := l.token
			fmt.Fprintf(bw, "token sha256:%x users=", t.Hash[:])
			if t.AnyUser {
				bw.WriteString("*")
			} else {
				bw.WriteString(strings.Join(t.Users, ","))
			}
			bw.WriteString(" hosts=")
			if t.AnyHost {
				bw.WriteString("*")
			} else {
				hs := make([]string, len(t.Hosts))
				for i, p := range t.Hosts {
					hs[i] = p.String()
					if p.IsSingleIP() {
						hs[i] = p.Addr().String()
					}
				}
				bw.WriteString(strings.Join(hs, ","))
			}
			if !t.Expires.IsZero() {
				fmt.Fprintf(bw, " expires=%s", t.Expires.UTC().Format(time.RFC3339))
			}
			bw.WriteByte('\n')
		default:
			bw.WriteString(l.raw)
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

// WriteFile replaces the users file at path with the directory (written
// to a temporary file beside it, mode 0600, then renamed).
func (d *Directory) WriteFile(path string) error {
	var buf bytes.Buffer
	if err := d.Format(&buf); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".users-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Migrate rewrites a users file of the old form ("user token-code" lines)
// in the new one, keeping only the SHA-256 of each code: the same users
// keep working with the same codes. It returns how many lines it changed.
func Migrate(path string) (int, error) {
	d, err := LoadDirectory(path)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range d.tokens {
		if t.Legacy {
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	return n, d.WriteFile(path)
}

// NewCode returns a fresh token code: 24 random bytes in hex.
func NewCode() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Merge adds the users and tokens of other (a user it has replaces
// this one's).
func (d *Directory) Merge(other *Directory) error {
	for _, l := range other.lines {
		switch {
		case l.user != nil:
			if err := d.AddUser(*l.user); err != nil {
				return err
			}
		case l.token != nil:
			if err := d.AddToken(*l.token); err != nil {
				return err
			}
		}
	}
	return nil
}
