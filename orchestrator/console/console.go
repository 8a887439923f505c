package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Cluster is what the cluster page reads of the member serving it
// (raftstore.Node and raftstore.Memory are ones).
type Cluster interface {
	Status(ctx context.Context) api.Status
}

// Config configures a Console. Jobs, Auth and IsAdmin are required.
type Config struct {
	// Jobs is the entrance: jobs, logs and result sets.
	Jobs restapi.Jobs
	// Auth logs users in and checks their sessions (identity.Service).
	Auth restapi.Authenticator
	// IsAdmin says whether a user is an administrator: the REST API's
	// list (restapi.Config.IsAdmin), so both edges agree.
	IsAdmin func(user string) bool
	// Operations are the operator's calls (admin.Operator); nil: the
	// resources, ECM, engine and settings pages say they are not served.
	Operations Operations
	// Cluster is the member's view of the cluster (nil: the cluster page
	// says it is not known).
	Cluster Cluster
	// SampleEvery is how often the resource totals are sampled (default
	// 10 s, at least MinSampleEvery); History how far back the chart goes
	// (default 1 h, at most MaxSamples samples).
	SampleEvery, History time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto are believed: the REST API's
	// (restapi.Config.TrustedProxies), so that both edges see the same
	// client - to the failed-login limit - and the same TLS.
	TrustedProxies restapi.Proxies
	// MaxFormBytes bounds a form's body (default 1 MiB, the REST API's
	// body limit; the code of a job is the largest field).
	MaxFormBytes int64
	// Logger hears internal errors (default slog.Default()).
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultSampleEvery  = 10 * time.Second
	DefaultHistory      = time.Hour
	DefaultMaxFormBytes = 1 << 20
	// MinSampleEvery and MaxSamples bound the chart's series: the ring of
	// History/SampleEvery samples is allocated up front.
	MinSampleEvery = time.Second
	MaxSamples     = 10_000
	// JobsPerPage and EnginesPerPage are the rows of a list page.
	JobsPerPage    = 50
	EnginesPerPage = 50
	// LogPageLines are the log lines a page shows at once.
	LogPageLines = 2000
	// ResultPageRows are the rows of a result set a page shows at once.
	ResultPageRows     = 100
	maxResultPageBytes = 8 << 20
	maxShortField      = 256  // names, labels, filters
	maxValueField      = 4096 // a configuration value, a variable's value
)

// Console serves the web console. Close stops its sampler.
type Console struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	pages   map[string]*template.Template
	static  http.Handler
	assets  map[string]string // file name -> content hash, for cache-busting URLs
	series  *series
	stop    context.CancelFunc
	wg      sync.WaitGroup
	now     func() time.Time
}

// New returns a Console and starts its resource sampler (when Operations
// is set).
func New(cfg Config) (*Console, error) {
	switch {
	case cfg.Jobs == nil:
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "Jobs", "the console needs the entrance")
	case cfg.Auth == nil:
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "Auth", "the console needs the identity service: it logs users in")
	case cfg.IsAdmin == nil:
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "IsAdmin", "the console needs the administrators' list")
	case cfg.SampleEvery < 0 || cfg.History < 0 || cfg.MaxFormBytes < 0:
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "SampleEvery", "durations and limits must not be negative")
	}
	if cfg.SampleEvery == 0 {
		cfg.SampleEvery = DefaultSampleEvery
	}
	if cfg.History == 0 {
		cfg.History = DefaultHistory
	}
	if cfg.MaxFormBytes == 0 {
		cfg.MaxFormBytes = DefaultMaxFormBytes
	}
	if cfg.SampleEvery < MinSampleEvery {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "SampleEvery", "must be at least %v, got %v", MinSampleEvery, cfg.SampleEvery)
	}
	if n := cfg.History / cfg.SampleEvery; n > MaxSamples {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "History", "%v sampled every %v is %d samples, more than %d: sample less often or keep less",
			cfg.History, cfg.SampleEvery, n, MaxSamples)
	}
	c := &Console{cfg: cfg, log: cfg.Logger, now: time.Now}
	if c.log == nil {
		c.log = slog.Default()
	}
	if err := c.parse(); err != nil {
		return nil, err
	}
	c.routes()
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, http.StatusForbidden, "This form was sent from another site; nothing was done.")
	}))
	c.handler = cop.Handler(c.mux)
	c.series = newSeries(int(cfg.History/cfg.SampleEvery) + 1)
	if cfg.Operations != nil {
		ctx, stop := context.WithCancel(context.Background())
		c.stop = stop
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.sample(ctx)
		}()
	}
	return c, nil
}

// Close stops the sampler and waits for it. It is safe to call more than
// once.
func (c *Console) Close() error {
	if c.stop != nil {
		c.stop()
	}
	c.wg.Wait()
	return nil
}

// ServeHTTP serves a console page, form or asset.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "+
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	c.handler.ServeHTTP(w, r)
}

func (c *Console) routes() {
	m := http.NewServeMux()
	m.Handle("GET /static/", c.static)
	m.HandleFunc("GET /login", c.loginPage)
	m.HandleFunc("POST /login", c.login)
	m.HandleFunc("POST /logout", c.form(c.logout))
	m.HandleFunc("GET /{$}", c.page(func(v *visit) error { http.Redirect(v.w, v.r, "/jobs", http.StatusSeeOther); return nil }))
	m.HandleFunc("GET /jobs", c.page(c.jobsPage))
	m.HandleFunc("GET /jobs/{id}", c.page(c.jobPage))
	m.HandleFunc("GET /jobs/{id}/follow", c.follow)
	m.HandleFunc("GET /jobs/{id}/results/{n}", c.page(c.resultPage))
	m.HandleFunc("POST /jobs/{id}/kill", c.form(c.killJob))
	m.HandleFunc("POST /jobs/{id}/rerun", c.form(c.rerun))
	m.HandleFunc("GET /run", c.page(c.runPage))
	m.HandleFunc("POST /run", c.form(c.run))
	m.HandleFunc("GET /resources", c.page(c.resourcesPage))
	m.HandleFunc("GET /ecms", c.page(c.ecmsPage))
	m.HandleFunc("POST /ecms/health", c.form(c.ecmHealth))
	m.HandleFunc("GET /engines", c.page(c.enginesPage))
	m.HandleFunc("GET /engines/{instance}/log", c.page(c.engineLogPage))
	m.HandleFunc("POST /engines/kill", c.form(c.killEngine))
	m.HandleFunc("GET /settings", c.page(c.settingsPage))
	m.HandleFunc("POST /settings/config", c.form(c.saveConfig))
	m.HandleFunc("POST /settings/variables", c.form(c.saveVariables))
	m.HandleFunc("GET /cluster", c.page(c.clusterPage))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, http.StatusNotFound, "No such page.")
	})
	c.mux = m
}

// parse reads the templates (each page with the layout) and the assets.
func (c *Console) parse() error {
	funcs := template.FuncMap{
		"time": fmtTime, "nanos": fmtNanos, "ago": c.ago, "mem": fmtMem, "cores": fmtCores,
		"pct": pct, "asset": func(name string) string { return "/static/" + name + "?v=" + c.assets[name] },
		"add":      func(a, b int) int { return a + b },
		"permille": func(n int64) float64 { return float64(n) / 10 },
	}
	c.assets = map[string]string{}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		c.assets[path.Base(p)] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return err
	}
	sub, _ := fs.Sub(staticFiles, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	c.static = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return err
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return err
	}
	c.pages = map[string]*template.Template{}
	for _, n := range names {
		name := path.Base(n)
		if name == "layout.html" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, n)
		if err != nil {
			return err
		}
		c.pages[strings.TrimSuffix(name, ".html")] = t
	}
	return nil
}

// view is what every page gets: the visitor and the page's own data.
type view struct {
	Title   string
	Nav     string // the menu entry to mark
	User    string
	Admin   bool
	CSRF    string
	Message string // a notice at the top (a flash)
	Error   string // an error at the top
	Refresh bool   // a running job's page: refresh without scripts
	Data    any
}

// render writes a page with status code.
func (c *Console) render(w http.ResponseWriter, code int, name string, v view) {
	t, ok := c.pages[name]
	if !ok {
		panic("console: no template " + name)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout.html", v); err != nil {
		c.log.Error("console: rendering a page", "page", name, "err", err)
		http.Error(w, "internal error; the server's log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

// fail renders an error page: code and a message (v, when known, keeps
// the menu of a logged-in visitor).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *visit, code int, msg string) {
	pv := view{Title: http.StatusText(code), Error: msg}
	if v != nil {
		pv.User, pv.Admin, pv.CSRF = v.user, v.admin, v.csrf
	}
	c.render(w, code, "error", pv)
}

// failErr renders the page of an error a backend returned: its message,
// and a status by its kind. An error of no known kind is logged and shown
// as an internal error, never with its text.
func (c *Console) failErr(v *visit, err error) {
	code, msg := c.explain(v.r, err)
	c.fail(v.w, v.r, v, code, msg)
}

// explain maps an error to a status code and a message for a page.
func (c *Console) explain(r *http.Request, err error) (int, string) {
	b := api.BodyOf(err)
	if b.Kind == "internal" {
		if !errors.Is(err, context.Canceled) {
			c.log.Error("console: internal error", "path", r.URL.Path, "err", err)
		}
		return http.StatusInternalServerError, "internal error; the server's log has the details"
	}
	code := api.StatusOf(err)
	if errors.Is(err, linkis.ErrPermission) {
		code = http.StatusForbidden
	}
	return code, err.Error()
}
