package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/golinkis/golinkis/datasource"
	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/orchestrator/identity"
	"github.com/golinkis/golinkis/orchestrator/restapi"
	"github.com/golinkis/golinkis/raftstore"
)

// runServer is `linkis server --data-dir DIR [--http-addr HOST:PORT]
// [--users FILE] [--admins U,...] [--datasources FILE] [--memory M --cores
// C --instances N] [--engine-idle-time D]`: a manager, an ECM and the
// entrance in one process for a team,
// serving Linkis's REST API (and /metrics) until SIGINT/SIGTERM. The
// manager's state is a single-node Raft log in DIR, so a restart keeps
// the job history, the queues and the engines' books. With --id,
// --raft-addr and --bootstrap or --join URL it is one member of a cluster
// of servers instead: state replicated among them, every API on every
// member at --http-addr, an ECM for its own host unless --no-ecm.
func runServer(out io.Writer, args []string) error {
	s, err := parseServer(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return s.serve(ctx, out, nil)
}

// server is what `linkis server`'s flags say.
type server struct {
	dataDir, addr string
	users         *identity.Directory
	admins        []string
	ldap          *identity.LDAPConfig
	sessionIdle   time.Duration
	trusted       []netip.Prefix // reverse proxies whose X-Forwarded-* are believed
	inMemory      bool
	capacity      linkis.Resource
	idle          time.Duration
	member        *embedded.Member // the cluster form
	logStore      raftstore.LogStore
	sources       *datasource.Set
}

func parseServer(args []string) (*server, error) {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	s := &server{}
	fs.StringVar(&s.dataDir, "data-dir", "", "the server's files: job history, results, engines, the manager's log (required)")
	fs.StringVar(&s.addr, "http-addr", "127.0.0.1:8088", "where the REST API listens")
	usersFile := fs.String("users", "", "the users file: 'user NAME password=HASH' and 'token sha256:HEX users=... hosts=...' lines, or the old 'user token-code' ones (default: $LINKIS_USERS, 'user:code,user:code'); linkis users writes it")
	admins := fs.String("admins", "", "administrators, comma-separated users (default $LINKIS_ADMINS): they see and kill every user's jobs; ECMs, every user's engines and resources, and other users' configuration are theirs only")
	ldapURL := fs.String("ldap-url", "", "log users in by a bind to this LDAP directory, ldap://HOST:PORT or ldaps://... (Linkis's wds.linkis.ldap.proxy.url)")
	ldapBase := fs.String("ldap-base-dn", "", "the directory's base DN (wds.linkis.ldap.proxy.baseDN)")
	ldapFormat := fs.String("ldap-user-format", "", "the bind DN with %s for the user name, e.g. uid=%s,ou=people (wds.linkis.ldap.proxy.userNameFormat; empty: the bare name)")
	ldapStartTLS := fs.Bool("ldap-starttls", false, "upgrade an ldap:// connection with StartTLS before the password is sent (the directory's certificate is checked against the system's roots; SSL_CERT_FILE names others)")
	trustedProxies := fs.String("trusted-proxy", "", "reverse proxies in front of the server, addresses or CIDR prefixes, comma-separated: from them X-Forwarded-For names the client (login limits, token hosts=) and X-Forwarded-Proto https makes the session cookie Secure (default: none, the headers are ignored)")
	fs.DurationVar(&s.sessionIdle, "session-timeout", identity.DefaultConfig().SessionTimeout, "a login session unused for this long ends")
	fs.BoolVar(&s.inMemory, "in-memory", false, "keep the manager's state in memory (engines are forgotten at a restart)")
	sourcesFile := fs.String("datasources", "", "the data source file for jdbc jobs, mode 0600 (default $LINKIS_DATASOURCES)")
	fs.StringVar((*string)(&s.logStore), "log-store", string(raftstore.LogStoreWAL), `where the manager's Raft log is kept: "wal" or "bolt" (see linkis manager)`)
	capf := capacityFlags(fs)
	fs.DurationVar(&s.idle, "engine-idle-time", defaultServerEngineIdle, "engines exit after this long without work, giving their room back (a job's engineconn.max.free.time wins)")
	var m embedded.Member
	fs.StringVar(&m.ID, "id", "", "cluster member id: with --raft-addr and --bootstrap or --join, run as one member of a cluster of servers")
	fs.StringVar(&m.RaftAddr, "raft-addr", "", "a cluster member's host:port for Raft traffic")
	fs.BoolVar(&m.Bootstrap, "bootstrap", false, "start a new cluster with this member")
	join := fs.String("join", "", "API URLs of members of the cluster to join, comma-separated")
	fs.BoolVar(&m.NoECM, "no-ecm", false, "a cluster member that runs no ECM (engines run on ECM hosts that join)")
	fs.StringVar(&m.ECMAddr, "ecm-addr", "", "where a cluster member's ECM listens (default: --http-addr's host, a port kept in the data directory)")
	token := clusterTokenFlags(fs)
	heartbeat := fs.Duration("heartbeat-timeout", 0, "a cluster member's Raft heartbeat and election timeout (default 1s)")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return nil, err
	}
	if m.ID != "" || m.RaftAddr != "" || m.Bootstrap || *join != "" {
		var err error
		if m.Token, err = token.value(os.Stderr); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		if err := missing("server", map[string]bool{"--id ID": m.ID != "", "--raft-addr HOST:PORT": m.RaftAddr != "",
			tokenFlagNeeded: m.Token != ""}); err != nil {
			return nil, fmt.Errorf("%w (a cluster member); the first member of a new cluster also takes --bootstrap, the others --join URL", err)
		}
		m.HTTPAddr, m.Join = s.addr, splitList(*join)
		if d := *heartbeat; d > 0 {
			m.Raft = func(c *raftstore.Config) {
				c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = d, d, d/2
			}
		}
		s.member = &m
	}
	if s.dataDir == "" {
		return nil, errors.New("server needs --data-dir DIR (linkis help server shows every flag with an example)")
	}
	if s.idle <= 0 {
		return nil, fmt.Errorf("server: --engine-idle-time must be positive, got %v", s.idle)
	}
	var err error
	if s.capacity, err = capf.resource(); err != nil {
		return nil, err
	}
	if s.users, err = loadUsers(*usersFile, os.Getenv("LINKIS_USERS"), *ldapURL != ""); err != nil {
		return nil, err
	}
	if *sourcesFile == "" {
		*sourcesFile = os.Getenv("LINKIS_DATASOURCES")
	}
	if s.sources, err = loadDataSources(*sourcesFile); err != nil {
		return nil, err
	}
	if *admins == "" {
		*admins = os.Getenv("LINKIS_ADMINS")
	}
	s.admins = splitList(*admins)
	if s.trusted, err = restapi.ParseTrustedProxies(*trustedProxies); err != nil {
		return nil, fmt.Errorf("server: --trusted-proxy: %w", err)
	}
	if *ldapURL != "" {
		s.ldap = &identity.LDAPConfig{URL: *ldapURL, BaseDN: *ldapBase, UserNameFormat: *ldapFormat, StartTLS: *ldapStartTLS}
		if err := s.ldap.Validate(); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	} else if *ldapStartTLS {
		return nil, errors.New("server: --ldap-starttls needs --ldap-url ldap://HOST:PORT")
	}
	return s, nil
}

// serve runs the server until ctx ends; ready, if not nil, is called with
// the REST API's address once it serves.
func (s *server) serve(ctx context.Context, out io.Writer, ready func(addr string)) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	sys, err := embedded.Start(embedded.Config{DataDir: s.dataDir, Durable: !s.inMemory, LogStore: s.logStore, Logger: log, Capacity: &s.capacity,
		ECM: func(c *ecm.Config) { c.EngineMaxFreeTime = s.idle }, Member: s.member, DataSources: s.sources})
	if err != nil {
		return err
	}
	defer sys.Close()
	for _, w := range s.users.Warnings {
		log.Warn("linkis server: users file: " + w)
	}
	ic := identity.DefaultConfig()
	ic.Directory, ic.LDAP, ic.Store, ic.Logger, ic.SessionTimeout = s.users, s.ldap, sys.Store(), log, s.sessionIdle
	if ic.SessionMaxAge < ic.SessionTimeout {
		ic.SessionMaxAge = ic.SessionTimeout
	}
	auth, err := identity.New(ic)
	if err != nil {
		return err
	}
	rc := restapi.DefaultConfig()
	rc.Auth, rc.Admins, rc.TrustedProxies = auth, s.admins, s.trusted
	rc.Logger = log
	h, err := sys.Handler(rc)
	if err != nil {
		return err
	}
	if m := s.member; m != nil {
		// A member serves every API itself, on its own address.
		fmt.Fprintf(out, "linkis server: member %s of the cluster, every API on http://%s (the web console at /, REST under /api/rest_j/v1), %s, data in %s\n",
			m.ID, m.HTTPAddr, auth, s.dataDir)
		if ready != nil {
			ready(m.HTTPAddr)
		}
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	srv := newAPIServer(h)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(out, "linkis server: web console on http://%[1]s/, REST API on http://%[1]s/api/rest_j/v1, metrics on /metrics, %s, %d data sources, data in %s\n"+
		"engines get %s; an engine without work for %v exits\n", ln.Addr(), auth, len(s.sources.Names()), s.dataDir, s.capacity, s.idle)
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// defaultServerEngineIdle is how long a server's engines wait for work
// before they exit: long enough for the next job of a working session to
// reuse its engine, short enough that a small host's cores come back
// within minutes (an engine's own default, as Linkis's, is an hour).
const defaultServerEngineIdle = 10 * time.Minute

// loadUsers reads the users file (see identity: login users, tokens, and
// the old "user token-code" lines), or else spec ("user:code,user:code",
// old-form entries). No user at all is refused unless LDAP logs users in.
func loadUsers(file, spec string, ldap bool) (*identity.Directory, error) {
	var d *identity.Directory
	var err error
	if file != "" {
		d, err = identity.LoadDirectory(file)
	} else {
		d, err = identity.ParseSpec(spec)
	}
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if len(d.Users()) == 0 && d.Tokens() == 0 && !ldap {
		return nil, errors.New("server: no users: give --users FILE (linkis users passwd FILE NAME makes one), $LINKIS_USERS=user:code,... or --ldap-url")
	}
	return d, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
