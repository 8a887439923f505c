package ecm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// Manager is what an ECM needs of the manager API; *api.Client implements
// it.
type Manager interface {
	RegisterECM(ctx context.Context, r api.RegisterECMRequest) error
	ECMHeartbeat(ctx context.Context, r api.ECMHeartbeatRequest) error
	DeregisterECM(ctx context.Context, r api.DeregisterECMRequest) error
	ECEnded(ctx context.Context, r api.ECEndedRequest) error
}

var _ Manager = (*api.Client)(nil)

// ECM is the host agent. Create it with New, then call Run once; Launch
// and Kill are also callable directly (the HTTP API calls them).
type ECM struct {
	cfg      Config
	mgr      Manager
	log      *slog.Logger
	binary   string
	capacity linkis.Resource

	metrics *metrics
	data    *hostData // serves the engines' logs and results

	ctx    context.Context // the ECM's lifetime: watchers and reporters stop with it
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the ECM starts

	mu       sync.Mutex
	engines  map[string]*engine
	starting int
	addr     string
	closed   bool
}

// New checks cfg and prepares the data directory; mgr is the manager API.
func New(cfg Config, mgr Manager, log *slog.Logger) (*ECM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if mgr == nil {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "manager", "an ECM needs the manager API")
	}
	if log == nil {
		log = slog.Default()
	}
	bin := cfg.Binary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("ecm: own executable: %w", err)
		}
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, linkis.ValueError(linkis.ErrInvalidArgument, "binary", bin, "the linkis binary is not there")
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	cfg.DataDir = dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ecm: data dir: %w", err)
	}
	if os.Geteuid() == 0 {
		// Engines run as their users: they run a copy those users cannot
		// read, which makes them non-dumpable from the exec on.
		if bin, err = privateBinary(dir, bin); err != nil {
			return nil, err
		}
	}
	capacity := DetectCapacity()
	if cfg.Capacity != nil {
		capacity = *cfg.Capacity
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &ECM{cfg: cfg, mgr: mgr, log: log.With("ecm", cfg.ID), binary: bin, capacity: capacity,
		ctx: ctx, cancel: cancel, engines: map[string]*engine{}, data: newHostData()}
	m.metrics = newMetrics(m)
	return m, nil
}

// Capacity is what the ECM registers.
func (m *ECM) Capacity() linkis.Resource { return m.capacity }

// Addr is the API address registered with the manager ("" before Run
// listens).
func (m *ECM) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addr
}

// Handler returns the ECM API (launch, kill, its engines' logs and
// results, and metrics) behind the cluster token.
func (m *ECM) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathLaunch, func(w http.ResponseWriter, r *http.Request) {
		var req api.LaunchRequest
		if err := api.DecodeBody(w, r, api.MaxLaunchBytes, &req); err != nil {
			api.WriteError(w, err)
			return
		}
		out, err := m.Launch(req)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST "+api.PathKill, func(w http.ResponseWriter, r *http.Request) {
		var req api.KillRequest
		if err := api.DecodeBody(w, r, api.MaxBodyBytes, &req); err != nil {
			api.WriteError(w, err)
			return
		}
		out, err := m.Kill(r.Context(), req)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, out)
	})
	m.hostDataRoutes(mux)
	m.engineRoutes(mux) // its process and output log (engineproc.go)
	mux.Handle("GET "+api.PathMetrics, promhttp.HandlerFor(m.metrics.reg, promhttp.HandlerOpts{}))
	return api.RequireToken(m.cfg.Token, mux)
}

// Gatherer returns the ECM's metrics (also served at /metrics).
func (m *ECM) Gatherer() prometheus.Gatherer { return m.metrics.reg }

// Run serves the ECM API, registers with the manager, heartbeats and
// cleans old directories until ctx is done; then it stops every engine it
// runs (each reported ended), deregisters and returns. ready, if not nil,
// is closed once the ECM is registered.
func (m *ECM) Run(ctx context.Context, ready chan<- struct{}) error {
	ln, err := net.Listen("tcp", m.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("ecm: listen: %w", err)
	}
	addr := m.cfg.Addr
	if addr == "" {
		addr = advertised(ln.Addr().(*net.TCPAddr))
	}
	m.mu.Lock()
	m.addr = addr
	m.mu.Unlock()
	m.adopt() // before serving: a launch must find the engines it already has
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn)}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("ECM API stopped", "err", err)
		}
	}()
	m.cleanOld(time.Now(), true)
	err = m.register(ctx)
	if err == nil {
		m.log.Info("ECM registered", "addr", addr, "capacity", m.capacity.String())
		if ready != nil {
			close(ready)
		}
		m.loop(ctx)
	}
	m.shutdown(srv)
	return err
}

func advertised(a *net.TCPAddr) string {
	if a.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", fmt.Sprint(a.Port))
	}
	return a.String()
}

// register registers the ECM. While no manager answers (none is up yet,
// or there is no leader) it tries again, backing off from 100 ms to 5 s,
// for up to RegisterWait, saying so each time; then it gives up with the
// last error. An id another ECM holds is an error naming that ECM, unless
// Replace; the id registered at this very address means this ECM
// restarted (or a retried call went through): it carries on.
func (m *ECM) register(ctx context.Context) error {
	cap := api.FromResource(m.capacity)
	req := api.RegisterECMRequest{ID: m.cfg.ID, Addr: m.Addr(), Labels: m.cfg.Labels, Max: &cap, Replace: m.cfg.Replace}
	backoff := 100 * time.Millisecond
	deadline := time.Now().Add(m.cfg.RegisterWait)
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := m.mgr.RegisterECM(cctx, req)
		cancel()
		var le *linkis.Error
		switch {
		case err == nil:
			if m.cfg.Replace {
				m.log.Warn("registered, replacing any ECM registered as "+m.cfg.ID+" at another address", "addr", req.Addr)
			}
			return nil
		case errors.Is(err, linkis.ErrDuplicate) && errors.As(err, &le) && le.Field == "addr":
			return fmt.Errorf("ecm: register: %w (--id names this one, --replace takes the id over)", err)
		case errors.Is(err, linkis.ErrDuplicate):
			// Registered at this address already: this ECM restarted (or
			// the manager applied a call whose answer was lost).
			m.log.Info("already registered at this address; carrying on (a restart?)")
			return nil
		case !retryable(err):
			return fmt.Errorf("ecm: register: %w", err)
		case ctx.Err() != nil:
			return fmt.Errorf("ecm: register: %w", ctx.Err())
		case time.Now().Add(backoff).After(deadline):
			return fmt.Errorf("ecm: no manager at %s accepted the registration within %v (%d tries): %w",
				strings.Join(m.cfg.Managers, ", "), m.cfg.RegisterWait, attempt, err)
		}
		m.log.Warn("no manager answers yet; trying again", "in", backoff, "until", deadline.Format(time.TimeOnly), "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("ecm: register: %w", ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// retryable reports whether a call to the manager may succeed later: a
// retryable error kind, or a manager that could not be reached (the API
// client's transport errors say so with a Retryable method).
func retryable(err error) bool {
	var r interface{ Retryable() bool }
	return linkis.IsRetryable(err) || errors.As(err, &r) && r.Retryable()
}

// loop heartbeats and cleans until ctx is done.
func (m *ECM) loop(ctx context.Context) {
	hb := time.NewTicker(m.cfg.HeartbeatInterval)
	defer hb.Stop()
	clean := time.NewTicker(m.cfg.CleanInterval)
	defer clean.Stop()
	m.heartbeat(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
			m.heartbeat(ctx)
		case now := <-clean.C:
			m.cleanOld(now, false)
		}
	}
}

func (m *ECM) heartbeat(ctx context.Context) {
	m.mu.Lock()
	live := 0
	for _, e := range m.engines {
		if !e.isExited() {
			live++
		}
	}
	m.mu.Unlock()
	load, health := hostLoad(live)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := m.mgr.ECMHeartbeat(cctx, api.ECMHeartbeatRequest{ID: m.cfg.ID, Health: health.String(), Load: load, Addr: m.Addr()})
	switch {
	case err == nil:
	case errors.Is(err, linkis.ErrUnknownNode):
		m.log.Warn("the manager no longer knows this ECM; registering again")
		if err := m.register(ctx); err != nil {
			m.log.Error("register again failed", "err", err)
		}
	case ctx.Err() == nil:
		m.log.Warn("heartbeat failed", "err", err)
	}
}

// shutdown stops the API, kills every engine, waits for their reports and
// deregisters.
func (m *ECM) shutdown(srv *http.Server) {
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Shutdown(sctx)
	cancel()
	m.mu.Lock()
	m.closed = true
	var live []*engine
	for _, e := range m.engines {
		live = append(live, e)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.stop(context.Background(), e, m.cfg.KillGrace, "its ECM is shutting down")
		}()
	}
	wg.Wait()
	// Reporters get a last chance to tell the manager, then stop.
	waitTimeout(&m.wg, 10*time.Second, m.cancel)
	m.cancel()
	m.wg.Wait()
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.mgr.DeregisterECM(dctx, api.DeregisterECMRequest{ID: m.cfg.ID, Addr: m.Addr()}); err != nil && !errors.Is(err, linkis.ErrUnknownNode) {
		m.log.Warn("deregister failed", "err", err)
	}
}

// waitTimeout waits for wg, calling onTimeout once d passed first.
func waitTimeout(wg *sync.WaitGroup, d time.Duration, onTimeout func()) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		onTimeout()
		<-done
	}
}

// cleanOld removes the directories of engines that ended more than the
// retention ago (and, at start-up, those no engine of this ECM owns).
func (m *ECM) cleanOld(now time.Time, startup bool) {
	cutoff := now.Add(-m.cfg.Retention)
	m.mu.Lock()
	var gone []*engine
	for id, e := range m.engines {
		if e.isExited() && e.endedBefore(cutoff) {
			delete(m.engines, id)
			gone = append(gone, e)
		}
	}
	m.mu.Unlock()
	for _, e := range gone {
		if err := os.RemoveAll(e.dir); err != nil {
			m.log.Warn("removing an old engine directory", "dir", e.dir, "err", err)
		}
	}
	if !startup {
		return
	}
	ents, err := os.ReadDir(m.cfg.DataDir)
	if err != nil {
		return
	}
	for _, d := range ents {
		if !d.IsDir() || !strings.HasPrefix(d.Name(), "ec-") {
			continue
		}
		m.mu.Lock()
		_, live := m.engines[d.Name()]
		m.mu.Unlock()
		if live {
			continue
		}
		if info, err := d.Info(); err == nil && info.ModTime().Before(cutoff) {
			_ = os.RemoveAll(filepath.Join(m.cfg.DataDir, d.Name()))
		}
	}
}
