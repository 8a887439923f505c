package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/datasource"
	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/engineconn/engines"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/admin"
	"github.com/golinkis/golinkis/orchestrator/console"
	"github.com/golinkis/golinkis/orchestrator/entrance"
	"github.com/golinkis/golinkis/orchestrator/restapi"
	"github.com/golinkis/golinkis/raftstore"
)

// Config configures an embedded system. The zero Config works: a temporary
// data directory, the manager in memory, one ECM offering the host's
// memory and cores, engines run by this program's own executable.
type Config struct {
	// DataDir holds the manager's Raft log (Durable), the ECM's engine
	// directories and the entrance's job history and results. Empty: a
	// temporary directory that Close removes.
	DataDir string
	// Durable keeps the manager's state in a single-node Raft log in
	// DataDir, so a restarted system knows its engines and reservations;
	// false keeps it in memory.
	Durable bool
	// LogStore is where a durable manager keeps its Raft log (see
	// raftstore.Config.LogStore; "": raftstore's default, the WAL). A log
	// in the other store moves over when the system starts.
	LogStore raftstore.LogStore
	// EngineBinary is the program the ECM starts engines with, as
	// `EngineBinary engineconn --ticket ...` (default: this process's own
	// executable, whose main must call ServeEngine first; the linkis binary
	// does).
	EngineBinary string
	// Capacity is what the ECM offers (nil: the host's memory and cores,
	// 50 engines).
	Capacity *linkis.Resource

	// Manager, Plugins and Reconciler configure the manager (nil: defaults
	// suited to one host: ticks every second, no standby engines).
	Manager    *manager.Config
	Plugins    *manager.Plugins
	Reconciler *raftstore.ReconcilerConfig
	// ECM adjusts the ECM's configuration after the system has filled it
	// in (nil: leave it).
	ECM func(*ecm.Config)
	// Entrance and Orchestrator configure the job side (nil: defaults;
	// the entrance's DataDir - where an older version kept its job
	// history, imported once - is always DataDir/entrance).
	Entrance     *entrance.Config
	Orchestrator *orchestrator.Config
	// Member, when set, makes the system one member of a cluster of
	// servers (Raft over TCP among them) rather than a single-node
	// system: see Member. Durable is then implied.
	Member *Member

	// DataSources are the named data sources jdbc jobs may use (see
	// datasource.Load); they override Orchestrator.DataSources when set.
	DataSources *datasource.Set

	Logger *slog.Logger // nil: warnings and errors to stderr
}

// System is a manager, an ECM and the entrance with its orchestrator in one
// process; engines are real child processes. Close stops everything.
type System struct {
	cfg     Config
	dir     string
	tempDir bool
	token   string
	log     *slog.Logger

	mgr         managerStore
	mgrURL      string
	stopMgr     func()
	node        *raftstore.Node // a cluster member's (Config.Member)
	api         *memberAPI      // what a cluster member serves
	stopRefresh func()
	client      *api.Client
	ecm         *ecm.ECM
	stopECM     context.CancelFunc
	ecmDone     chan error
	ent         *entrance.Entrance
	consoles    []*console.Console // each Handler's web console (its sampler runs until Close)
	closeErr    error
}

// Start starts a system. Engines start on demand when jobs need them.
func Start(cfg Config) (_ *System, err error) {
	s := &System{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	// s, not the result: every failing return sets the result to nil
	// before this runs.
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if cfg.Member != nil {
		if err := cfg.Member.validate(); err != nil {
			return nil, err
		}
		s.cfg.Durable = true
	}
	if s.dir = cfg.DataDir; s.dir == "" {
		if s.cfg.Durable {
			return nil, linkis.Errorf(linkis.ErrInvalidArgument, "DataDir", "a durable system needs a data directory")
		}
		if s.dir, err = os.MkdirTemp("", "linkis-embedded-"); err != nil {
			return nil, err
		}
		s.tempDir = true
	}
	for _, d := range []string{"manager", "ecm", "entrance"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("embedded: %w", err)
		}
	}
	if cfg.Member != nil {
		s.token = cfg.Member.Token
	} else if s.token, err = secret(cfg.Durable, s.dir); err != nil {
		return nil, fmt.Errorf("embedded: cluster token: %w", err)
	}
	if err := s.startManager(); err != nil {
		return nil, err
	}
	if cfg.Member == nil || !cfg.Member.NoECM {
		if err := s.startECM(); err != nil {
			return nil, err
		}
	}
	if err := s.startEntrance(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *System) startManager() error {
	mc := manager.DefaultConfig()
	mc.TickInterval = time.Second
	mc.NewECMStandby = 0
	if s.cfg.Manager != nil {
		mc = *s.cfg.Manager
	}
	if s.cfg.Member != nil {
		return s.startMember(mc)
	}
	rc := raftstore.DefaultReconcilerConfig()
	if s.cfg.Reconciler != nil {
		rc = *s.cfg.Reconciler
	}
	ln, err := listen(s.cfg.Durable, s.dir, "manager")
	if err != nil {
		return err
	}
	m, err := openManager(s.cfg.Durable, s.cfg.LogStore, mc, s.cfg.Plugins, rc, filepath.Join(s.dir, "manager"), s.token, s.log.With("part", "manager"))
	if err != nil {
		ln.Close()
		return err
	}
	s.mgr = m
	h, err := raftstore.NewHandler(m, raftstore.HandlerConfig{Token: s.token, Logger: s.log})
	if err != nil {
		ln.Close()
		return err
	}
	s.mgrURL = "http://" + ln.Addr().String()
	s.stopMgr = serve(ln, h, s.log)
	s.client, err = api.NewClient([]string{s.mgrURL}, s.token, nil)
	return err
}

func (s *System) startECM() error {
	var addr string
	ec := ecm.DefaultConfig()
	ec.ID = "ecm-embedded"
	if s.cfg.Member != nil {
		a, err := s.memberECMAddr()
		if err != nil {
			return err
		}
		addr, ec.ID = a, "ecm-"+s.cfg.Member.ID
	} else {
		ln, err := listen(s.cfg.Durable, s.dir, "ecm")
		if err != nil {
			return err
		}
		addr = ln.Addr().String()
		ln.Close() // the ECM listens itself; in a durable system the port is kept for the next run
	}
	ec.HTTPAddr = addr
	ec.Managers = []string{s.mgrURL}
	ec.Token = s.token
	ec.DataDir = filepath.Join(s.dir, "ecm")
	ec.Binary = s.cfg.EngineBinary
	ec.HeartbeatInterval = 2 * time.Second
	ec.KillGrace = 2 * time.Second
	ec.Capacity = s.cfg.Capacity
	ec.AllowRootEngines = true // one host, one operator: engines run as this process's user
	if s.cfg.ECM != nil {
		s.cfg.ECM(&ec)
	}
	m, err := ecm.New(ec, s.client, s.log.With("part", "ecm"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.ecm, s.stopECM, s.ecmDone = m, cancel, make(chan error, 1)
	ready := make(chan struct{})
	go func() { s.ecmDone <- m.Run(ctx, ready) }()
	select {
	case <-ready:
		return nil
	case err := <-s.ecmDone:
		s.ecmDone <- err
		return fmt.Errorf("embedded: the ECM stopped: %w", err)
	case <-time.After(30 * time.Second):
		return errors.New("embedded: the ECM did not register in 30 s")
	}
}

func (s *System) startEntrance() error {
	oc := orchestrator.DefaultConfig()
	if s.cfg.Orchestrator != nil {
		oc = *s.cfg.Orchestrator
	}
	if oc.Logger == nil {
		oc.Logger = s.log.With("part", "orchestrator")
	}
	if oc.Vault == nil {
		// Every member seals and opens jobs' secrets with one key: the
		// member that runs a job need not be the one that accepted it.
		v, err := datasource.NewVault(datasource.VaultKeyFrom(s.token))
		if err != nil {
			return err
		}
		oc.Vault = v
	}
	if s.cfg.DataSources != nil {
		oc.DataSources = s.cfg.DataSources
	}
	// No engine is kept between jobs outside the state: the state makes
	// each job's first ask as it dispatches it (manager.SubmitJob.Ask), so
	// a job's engine costs no commit of its own, and a new leader sees
	// every grant (an engine pool in the leader's memory ran jobs twice
	// after a kill -9 of the leader).
	asker := orchestrator.NewStoreAsker(s.mgr, nil)
	orch, err := orchestrator.New(oc, asker, orchestrator.NewHTTPTaskClients(s.token, nil).Client)
	if err != nil {
		return err
	}
	ec := entrance.DefaultConfig()
	if s.cfg.Entrance != nil {
		ec = *s.cfg.Entrance
	}
	ec.DataDir = filepath.Join(s.dir, "entrance")
	s.ent, err = entrance.Open(ec, s.mgr, orch, api.NewECMClient(s.token, nil), s.log.With("part", "entrance"))
	return err
}

// Submit accepts a job of user's: once it returns, the job is committed
// and queued. See entrance.Entrance.Submit.
func (s *System) Submit(ctx context.Context, user string, req orchestrator.JobRequest) (orchestrator.Job, error) {
	return s.ent.Submit(ctx, user, req)
}

// Wait waits for a job of user's to end and returns its record.
func (s *System) Wait(ctx context.Context, user, execID string) (orchestrator.Job, error) {
	return s.ent.Wait(ctx, user, execID)
}

// Jobs returns the entrance: status, logs, kill, history, result files.
func (s *System) Jobs() *entrance.Entrance { return s.ent }

// ReadResult reads one of user's result-set files (a path of
// Job.Results), with at most maxRows rows (≤ 0: all).
func (s *System) ReadResult(ctx context.Context, user, path string, maxRows int) (api.ResultSet, error) {
	f, _, err := s.ent.OpenResult(ctx, user, path)
	if err != nil {
		return api.ResultSet{}, err
	}
	defer f.Close()
	return api.ReadResultSet(f, maxRows)
}

// Handler serves the Linkis REST API (restapi) for the users of cfg
// under restapi.Prefix, the Prometheus metrics of the entrance and the
// manager at /metrics, and - when cfg.Auth logs users in - the web console
// (package console) at every other path. A cluster member
// (Config.Member) serves them itself from then on, on its address beside
// the manager's API; the handler returned serves them all.
func (s *System) Handler(cfg restapi.Config) (http.Handler, error) {
	if s.mgr == nil {
		return nil, linkis.Errorf(linkis.ErrUnavailable, "system", "closed")
	}
	if cfg.Operations == nil {
		cfg.Operations = s.Operator()
	}
	rest, err := restapi.NewHandler(s.ent, cfg)
	if err != nil {
		return nil, err
	}
	// Without logins (a token-only API) there is no console: its paths
	// stay the API's, answered with envelopes.
	ui := rest
	if cfg.Auth != nil {
		ops, _ := cfg.Operations.(console.Operations)
		c, err := console.New(console.Config{Jobs: s.ent, Auth: cfg.Auth, IsAdmin: cfg.IsAdmin, Operations: ops, Cluster: s.mgr,
			TrustedProxies: cfg.TrustedProxies, Logger: s.log.With("part", "console")})
		if err != nil {
			return nil, err
		}
		s.consoles = append(s.consoles, c)
		ui = c
	}
	var metrics http.Handler = promhttp.HandlerFor(prometheus.Gatherers{s.ent.Registry(), s.mgr.Gatherer()}, promhttp.HandlerOpts{})
	if s.api != nil {
		// A cluster member serves them itself, beside the manager's API.
		s.api.rest.Store(&rest)
		s.api.console.Store(&ui)
		s.api.metrics.Store(&metrics)
		return s.api, nil
	}
	// Not an http.ServeMux: it would answer an unclean path ("//", "..")
	// of the API with a bare redirect, where the API's answers are all
	// envelopes.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/metrics":
			metrics.ServeHTTP(w, r)
		case isAPIPath(r.URL.Path):
			rest.ServeHTTP(w, r)
		default:
			ui.ServeHTTP(w, r)
		}
	}), nil
}

// isAPIPath reports whether a path is the REST API's (everything under
// /api/, so that a mistyped API path is answered with an envelope, not a
// page).
func isAPIPath(p string) bool { return strings.HasPrefix(p, "/api/") || p == "/api" }

// Operator returns the operator's calls over the system's state: what the
// REST API's management paths serve (Handler wires it in).
func (s *System) Operator() *admin.Operator {
	return admin.New(s.mgr, api.NewECMClient(s.token, nil))
}

// Manager returns a client of the system's manager API (loopback HTTP).
func (s *System) Manager() *api.Client { return s.client }

// ManagerURL returns the manager API's URL, for another ECM to join the
// system (with Token).
func (s *System) ManagerURL() string { return s.mgrURL }

// Token returns the cluster token the manager, the ECM and the engines
// share.
func (s *System) Token() string { return s.token }

// DataDir returns the system's data directory.
func (s *System) DataDir() string { return s.dir }

// Close stops the entrance, the ECM (its engines are stopped with it) and
// the manager, and removes a temporary data directory. It is safe to call
// more than once.
func (s *System) Close() error {
	if s == nil {
		return nil
	}
	if s.ent != nil {
		// Kept after Close: a closed entrance refuses every call with
		// ErrUnavailable, where a nil one would panic.
		if err := s.ent.Close(); err != nil && s.closeErr == nil {
			s.closeErr = err
		}
	}
	for _, c := range s.consoles {
		c.Close()
	}
	s.consoles = nil
	if s.stopECM != nil {
		s.stopECM()
		if err := <-s.ecmDone; err != nil && s.closeErr == nil {
			s.closeErr = err
		}
		s.stopECM = nil
	}
	if s.stopRefresh != nil {
		s.stopRefresh()
		s.stopRefresh = nil
	}
	if s.stopMgr != nil {
		s.stopMgr()
		s.stopMgr = nil
	}
	if s.mgr != nil {
		if err := s.mgr.Close(); err != nil && s.closeErr == nil {
			s.closeErr = err
		}
		s.mgr = nil
	}
	if s.tempDir {
		os.RemoveAll(s.dir)
		s.tempDir = false
	}
	return s.closeErr
}

// ServeEngine makes this program its own engine binary: when an ECM of an
// embedded system started it (`PROGRAM engineconn ...` with a ticket in
// its environment) it runs the engine and exits; otherwise it returns at
// once. Call it first thing in main (or TestMain) of a program that starts
// a System without setting Config.EngineBinary.
func ServeEngine() {
	if len(os.Args) < 2 || os.Args[1] != "engineconn" || os.Getenv(engineconn.EnvTicket) == "" {
		return
	}
	if err := engines.Main(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "engineconn:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Store returns the replicated state the system runs on (the manager's
// store: a single-node Raft log, an in-memory one, or a cluster member's),
// for what keeps state beside it - the REST API's login sessions.
func (s *System) Store() raftstore.Store { return s.mgr }
