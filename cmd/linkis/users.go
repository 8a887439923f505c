package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/golinkis/golinkis/orchestrator/identity"
)

// runUsers is `linkis users passwd|token|migrate FILE ...`: it edits a
// server's users file (see identity for its form).
//
//	linkis users passwd FILE NAME          set NAME's password (read from stdin), hashed with bcrypt
//	linkis users token FILE --users a,b [--hosts 10.0.0.0/8] [--expires 2027-01-01]
//	                                       add a token and print its code, once
//	linkis users migrate FILE              rewrite old 'user token-code' lines keeping only hashes
//	linkis users logout FILE NAME          end NAME's sessions (a password change ends them too)
//
// A server reads the file when it starts: a changed password, a removed
// user or a logout takes effect when the servers restart with the file,
// ending the sessions opened before.
func runUsers(out io.Writer, args []string) error {
	return runUsersIn(out, os.Stdin, args)
}

func runUsersIn(out io.Writer, in io.Reader, args []string) error {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs, _, _, _ := tokenFlags()
			return newHelpRequest(fs)
		}
	}
	if len(args) < 2 {
		return errors.New("users needs passwd FILE NAME, token FILE --users NAMES, migrate FILE or logout FILE NAME (linkis help users)")
	}
	sub, file, rest := args[0], args[1], args[2:]
	switch sub {
	case "passwd":
		if len(rest) != 1 {
			return errors.New("users passwd FILE NAME: the password is read from standard input, never from the command line")
		}
		pw, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && err != io.EOF {
			return err
		}
		pw = strings.TrimRight(pw, "\r\n")
		hash, err := identity.HashPassword(pw)
		if err != nil {
			return fmt.Errorf("users passwd: %w", err)
		}
		d, err := openOrNew(file)
		if err != nil {
			return err
		}
		u, _ := d.User(rest[0])
		if u == nil {
			u = &identity.User{Name: rest[0]}
		}
		nu := *u
		nu.Hash = hash
		if err := d.AddUser(nu); err != nil {
			return fmt.Errorf("users passwd: %w", err)
		}
		if err := d.WriteFile(file); err != nil {
			return err
		}
		fmt.Fprintf(out, "password of %s set in %s (a server reads it when it starts; %s's sessions opened before end then)\n", rest[0], file, rest[0])
		return nil
	case "logout":
		if len(rest) != 1 {
			return errors.New("users logout FILE NAME: one user")
		}
		d, err := openOrNew(file)
		if err != nil {
			return err
		}
		u, _ := d.User(rest[0])
		if u == nil {
			u = &identity.User{Name: rest[0]} // an LDAP user: a line of its own, without a password
		}
		nu := *u
		nu.Sessions++
		if err := d.AddUser(nu); err != nil {
			return fmt.Errorf("users logout: %w", err)
		}
		if err := d.WriteFile(file); err != nil {
			return err
		}
		fmt.Fprintf(out, "sessions of %s end when a server restarts with %s\n", rest[0], file)
		return nil
	case "token":
		fs, users, hosts, expires := tokenFlags()
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if *users == "" {
			return errors.New("users token needs --users NAME,NAME (or --users '*')")
		}
		d, err := openOrNew(file)
		if err != nil {
			return err
		}
		code := identity.NewCode()
		line := fmt.Sprintf("token sha256:%x users=%s hosts=%s", identity.HashCode(code), *users, *hosts)
		if *expires != "" {
			if _, err := time.Parse(time.DateOnly, *expires); err != nil {
				return fmt.Errorf("users token: --expires %q is not YYYY-MM-DD", *expires)
			}
			line += " expires=" + *expires
		}
		one, err := identity.ReadDirectory(strings.NewReader(line+"\n"), "the new token")
		if err != nil {
			return fmt.Errorf("users token: %w", err)
		}
		if err := d.Merge(one); err != nil {
			return err
		}
		if err := d.WriteFile(file); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s\n", code)
		fmt.Fprintf(os.Stderr, "the token code above is shown once; %s keeps only its hash\n", file)
		return nil
	case "migrate":
		n, err := identity.Migrate(file)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%d line(s) of %s rewritten: token codes are kept as SHA-256 hashes; the same codes work\n", n, file)
		return nil
	}
	return fmt.Errorf("users: unknown %q: want passwd, token, migrate or logout", sub)
}

// openOrNew reads a users file, or starts an empty one.
func openOrNew(file string) (*identity.Directory, error) {
	d, err := identity.LoadDirectory(file)
	if errors.Is(err, os.ErrNotExist) {
		return identity.NewDirectory(), nil
	}
	return d, err
}

// tokenFlags are the flags of users token.
func tokenFlags() (fs *flag.FlagSet, users, hosts, expires *string) {
	fs = flag.NewFlagSet("users token", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	users = fs.String("users", "", "token: the users the token may act as, comma-separated, or * for any")
	hosts = fs.String("hosts", "*", "token: the addresses or CIDR prefixes it may come from, comma-separated, or * for any")
	expires = fs.String("expires", "", "token: when it stops working, YYYY-MM-DD (default: never)")
	return fs, users, hosts, expires
}
