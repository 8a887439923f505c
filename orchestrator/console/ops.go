package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/admin"
)

// The operator's pages: every call goes to Operations with the visitor as
// the caller, which decides what the visitor may see and change.

func (v *visit) caller() admin.Caller { return admin.Caller{User: v.user, Admin: v.admin} }

// ops returns the operator's calls, or the error saying this server has
// none.
func (c *Console) ops() (Operations, error) {
	if c.cfg.Operations == nil {
		return nil, linkis.Errorf(linkis.ErrUnavailable, "operations", "this server does not serve the management pages")
	}
	return c.cfg.Operations, nil
}

// Operations are the operator's calls the pages make (admin.Operator is
// one; so is anything that serves restapi.Operations).
type Operations interface {
	ECMs(ctx context.Context, c admin.Caller, q manager.ECMQuery) (admin.Page[admin.ECM], error)
	ModifyECM(ctx context.Context, c admin.Caller, instance string, ch admin.ECMChange) (admin.ECM, error)
	Engines(ctx context.Context, c admin.Caller, q manager.EngineQuery) (admin.Page[admin.Engine], error)
	Kill(ctx context.Context, c admin.Caller, instances []string, reason string) ([]string, error)
	EngineLog(ctx context.Context, c admin.Caller, instance string, from, size int) (admin.EngineLog, error)
	Resources(ctx context.Context, c admin.Caller, q manager.KeyQuery) (admin.Page[manager.KeyInfo], error)
	ConfigTree(ctx context.Context, c admin.Caller, l manager.ConfLevel) ([]manager.ConfSetting, error)
	SetConfig(ctx context.Context, c admin.Caller, l manager.ConfLevel, set map[string]string, remove []string) error
	ConfigLevels(ctx context.Context, c admin.Caller) ([]manager.ConfLevel, error)
	EngineTypes(ctx context.Context) ([]string, error)
	Variables(ctx context.Context, c admin.Caller, user string) (map[string]string, error)
	SetVariables(ctx context.Context, c admin.Caller, user string, vars map[string]string) error
}

// offsetOf is a list page's offset.
func offsetOf(page, per int) int { return (page - 1) * per }

type resourceRow struct {
	Key                    string
	Engines, Free, Waiting int
	Memory, Cores, Inst    barData
}

func rowOf(key string, l manager.Ledger) resourceRow {
	return resourceRow{Key: key,
		Memory: bar(l.Used.Memory, l.Locked.Memory, l.Max.Memory, fmtMem),
		Cores:  bar(l.Used.MilliCores, l.Locked.MilliCores, l.Max.MilliCores, fmtCores),
		Inst:   bar(l.Used.Instances, l.Locked.Instances, l.Max.Instances, func(n int64) string { return strconv.FormatInt(n, 10) })}
}

type resourcesData struct {
	User      string
	Rows      []resourceRow
	RowsPager pager
	ECMs      []resourceRow
	ECMsNote  string // why the ECMs are not shown
	ECMsPager pager
	Charts    []chartData
}

func (c *Console) resourcesPage(v *visit) error {
	o, err := c.ops()
	if err != nil {
		return err
	}
	ctx := orchestrator.AllowStale(v.r.Context())
	qs := v.r.URL.Query()
	d := resourcesData{User: clip(qs.Get("user"), maxShortField)}
	pg := pageParam(qs)
	rows, err := o.Resources(ctx, v.caller(), manager.KeyQuery{User: d.User, Offset: offsetOf(pg, EnginesPerPage), Limit: EnginesPerPage})
	if err != nil {
		return err
	}
	for _, k := range rows.Items {
		r := rowOf(k.Key, k.Ledger)
		r.Engines, r.Free, r.Waiting = k.Engines, k.Free, k.Waiting
		d.Rows = append(d.Rows, r)
	}
	d.RowsPager = newPager(v.r.URL, "page", pg, EnginesPerPage, rows.Total)
	// The ECMs and the cluster's totals: shown to whom the operator shows
	// the ECMs.
	epg, _ := strconv.Atoi(qs.Get("ecmpage"))
	epg = max(1, min(epg, 1<<20))
	ecms, err := o.ECMs(ctx, v.caller(), manager.ECMQuery{Offset: offsetOf(epg, EnginesPerPage), Limit: EnginesPerPage})
	switch {
	case errors.Is(err, linkis.ErrPermission):
		_, d.ECMsNote = c.explain(v.r, err)
	case err != nil:
		return err
	default:
		for _, m := range ecms.Items {
			d.ECMs = append(d.ECMs, rowOf(m.ID, m.Ledger))
		}
		d.ECMsPager = newPager(v.r.URL, "ecmpage", epg, EnginesPerPage, ecms.Total)
		now := c.now()
		var latest *sample
		if l, err := c.totals(ctx); err == nil {
			latest = &sample{at: now, ledger: l}
		}
		d.Charts = c.series.charts(now, now.Add(-c.cfg.History), latest)
	}
	c.render(v.w, http.StatusOK, "resources", v.view("Resources", "resources", d))
	return nil
}

type ecmRow struct {
	admin.ECM
	Drained             bool
	Memory, Cores, Inst barData
	Labels              string
}

type ecmsData struct {
	Filter string
	ECMs   []ecmRow
	Pager  pager
}

func (c *Console) ecmsPage(v *visit) error {
	o, err := c.ops()
	if err != nil {
		return err
	}
	qs := v.r.URL.Query()
	d := ecmsData{Filter: clip(qs.Get("instance"), maxShortField)}
	pg := pageParam(qs)
	p, err := o.ECMs(orchestrator.AllowStale(v.r.Context()), v.caller(), manager.ECMQuery{Instance: d.Filter, Offset: offsetOf(pg, EnginesPerPage), Limit: EnginesPerPage})
	if err != nil {
		return err
	}
	for _, m := range p.Items {
		r := rowOf(m.ID, m.Ledger)
		d.ECMs = append(d.ECMs, ecmRow{ECM: m, Drained: m.HealthSet && m.Health != linkis.HealthHealthy, Memory: r.Memory, Cores: r.Cores, Inst: r.Inst, Labels: m.Labels.String()})
	}
	d.Pager = newPager(v.r.URL, "page", pg, EnginesPerPage, p.Total)
	c.render(v.w, http.StatusOK, "ecms", v.view("ECMs", "ecms", d))
	return nil
}

// ecmHealth drains (UnHealthy) or undrains (Healthy) an ECM.
func (c *Console) ecmHealth(v *visit) error {
	o, err := c.ops()
	if err != nil {
		return err
	}
	f := v.r.PostForm
	inst := f.Get("instance")
	var h linkis.NodeHealth
	var done string
	switch f.Get("action") {
	case "drain":
		h, done = linkis.HealthUnHealthy, "drained"
	case "undrain":
		h, done = linkis.HealthHealthy, "undrained"
	default:
		return linkis.ValueError(linkis.ErrInvalidArgument, "action", clip(f.Get("action"), 32), "drain or undrain")
	}
	if inst == "" || len(inst) > maxShortField {
		return linkis.Errorf(linkis.ErrInvalidArgument, "instance", "name the ECM (1-%d bytes)", maxShortField)
	}
	if _, err := o.ModifyECM(v.r.Context(), v.caller(), inst, admin.ECMChange{Health: &h}); err != nil {
		return err
	}
	http.Redirect(v.w, v.r, "/ecms?"+url.Values{"done": {done}, "instance": {f.Get("filter")}}.Encode(), http.StatusSeeOther)
	return nil
}

type engineRow struct {
	admin.Engine
	Idle string
}

type enginesData struct {
	ECM, Owner string
	Engines    []engineRow
	Total      int
	Pager      pager
}

func (c *Console) enginesPage(v *visit) error {
	o, err := c.ops()
	if err != nil {
		return err
	}
	qs := v.r.URL.Query()
	d := enginesData{ECM: clip(qs.Get("ecm"), maxShortField), Owner: clip(qs.Get("owner"), maxShortField)}
	q := manager.EngineQuery{ECM: d.ECM}
	if d.Owner != "" {
		q.Users = []string{d.Owner}
	}
	pg := pageParam(qs)
	q.Offset, q.Limit = offsetOf(pg, EnginesPerPage), EnginesPerPage
	p, err := o.Engines(orchestrator.AllowStale(v.r.Context()), v.caller(), q)
	if err != nil {
		return err
	}
	now := c.now().UnixNano()
	for _, e := range p.Items {
		r := engineRow{Engine: e}
		if e.IdleSince > 0 && (e.Status == linkis.StatusUnlock || e.Status == linkis.StatusIdle) {
			r.Idle = fmtDuration(now - e.IdleSince)
		}
		d.Engines = append(d.Engines, r)
	}
	d.Total = p.Total
	d.Pager = newPager(v.r.URL, "page", pg, EnginesPerPage, p.Total)
	c.render(v.w, http.StatusOK, "engines", v.view("Engines", "engines", d))
	return nil
}

func (c *Console) killEngine(v *visit) error {
	o, err := c.ops()
	if err != nil {
		return err
	}
	inst := v.r.PostForm.Get("instance")
	if inst == "" || len(inst) > maxShortField {
		return linkis.Errorf(linkis.ErrInvalidArgument, "instance", "name the engine (1-%d bytes)", maxShortField)
	}
	if _, err := o.Kill(v.r.Context(), v.caller(), []string{inst}, "killed by "+v.user+" in the console"); err != nil {
		return err
	}
	http.Redirect(v.w, v.r, "/engines?done=ekilled", http.StatusSeeOther)
	return nil
}

type engineLogData struct {
	Instance string
	Log      admin.EngineLog
	Prev     int
	Next     int
}

func (c *Console) engineLogPage(v *visit) error {
	o, err := c.ops()
	if err != nil {
		return err
	}
	inst := v.r.PathValue("instance")
	from, _ := strconv.Atoi(v.r.URL.Query().Get("from"))
	from = max(0, from)
	l, err := o.EngineLog(v.r.Context(), v.caller(), inst, from, min(LogPageLines, api.MaxLogPageSize))
	if err != nil {
		return err
	}
	d := engineLogData{Instance: inst, Log: l, Prev: -1, Next: -1}
	if from > 0 {
		d.Prev = max(0, from-LogPageLines)
	}
	if l.More {
		d.Next = l.Next
	}
	c.render(v.w, http.StatusOK, "enginelog", v.view("Engine "+clip(inst, 64)+": log", "engines", d))
	return nil
}

type settingsData struct {
	Level     manager.ConfLevel
	Levels    []manager.ConfLevel
	Engines   []string
	Trees     []settingsTree
	Variables string
}

type settingsTree struct {
	Name     string
	Settings []manager.ConfSetting
}

// levelOf reads a configuration level from a query or form: the visitor's
// own unless an administrator names another user ("*": every user).
func levelOf(v *visit, get func(string) string) (manager.ConfLevel, error) {
	l := manager.ConfLevel{User: get("user"), Creator: get("creator"), EngineType: get("engine")}
	if l.User == "" {
		l.User = v.user
	}
	if l.Creator == "" {
		l.Creator = "*"
	}
	if l.EngineType == "" {
		l.EngineType = "*"
	}
	if len(l.User) > maxShortField || len(l.Creator) > maxShortField || len(l.EngineType) > maxShortField {
		return l, linkis.Errorf(linkis.ErrInvalidArgument, "level", "user, creator and engine type are at most %d bytes each", maxShortField)
	}
	return l, nil
}

// settings renders the settings page of a level; msg and code, when set,
// are a refused change's reason (the form shows what was sent: vars).
func (c *Console) settings(v *visit, o Operations, l manager.ConfLevel, code int, msg, vars string) error {
	ctx := v.r.Context()
	d := settingsData{Level: l, Engines: c.engineNames(ctx)}
	tree, err := o.ConfigTree(ctx, v.caller(), l)
	if err != nil {
		return err
	}
	at := map[string]int{}
	for _, s := range tree {
		i, ok := at[s.Tree]
		if !ok {
			i = len(d.Trees)
			at[s.Tree] = i
			d.Trees = append(d.Trees, settingsTree{Name: s.Tree})
		}
		d.Trees[i].Settings = append(d.Trees[i].Settings, s)
	}
	if d.Levels, err = o.ConfigLevels(ctx, v.caller()); err != nil {
		return err
	}
	if code != 0 && vars != "" {
		d.Variables = vars
	} else if l.User != "*" {
		vs, err := o.Variables(ctx, v.caller(), l.User)
		if err != nil {
			return err
		}
		var b strings.Builder
		for _, p := range sortedKV(vs) {
			fmt.Fprintf(&b, "%s=%s\n", p.Key, p.Value)
		}
		d.Variables = b.String()
	}
	pv := v.view("Settings", "settings", d)
	if code == 0 {
		code = http.StatusOK
	} else {
		pv.Error = msg
	}
	c.render(v.w, code, "settings", pv)
	return nil
}

func (c *Console) settingsPage(v *visit) error {
	o, err := c.ops()
	if err != nil {
		return err
	}
	l, err := levelOf(v, v.r.URL.Query().Get)
	if err != nil {
		return err
	}
	return c.settings(v, o, l, 0, "", "")
}

// settingsURL is the settings page of a level.
func settingsURL(l manager.ConfLevel, done string) string {
	q := url.Values{"user": {l.User}, "creator": {l.Creator}, "engine": {l.EngineType}}
	if done != "" {
		q.Set("done", done)
	}
	return "/settings?" + q.Encode()
}

// saveConfig sets the level's values the form changed ("k.KEY" fields,
// beside "was.KEY" with the value the page showed) and removes those
// emptied. The operator checks them; a refused value is shown with its
// reason and nothing is changed.
func (c *Console) saveConfig(v *visit) error {
	o, err := c.ops()
	if err != nil {
		return err
	}
	f := v.r.PostForm
	l, err := levelOf(v, f.Get)
	if err != nil {
		return err
	}
	set := map[string]string{}
	var remove []string
	for name, vals := range f {
		key, ok := strings.CutPrefix(name, "k.")
		if !ok || len(vals) != 1 {
			continue
		}
		val := strings.TrimSpace(vals[0])
		if len(key) > maxShortField || len(val) > maxValueField {
			return c.settings(v, o, l, http.StatusBadRequest, fmt.Sprintf("A key is at most %d bytes and a value %d; nothing was changed.", maxShortField, maxValueField), "")
		}
		if val == f.Get("was."+key) {
			continue
		}
		if val == "" {
			remove = append(remove, key)
		} else {
			set[key] = val
		}
	}
	if len(set)+len(remove) > 0 {
		if err := o.SetConfig(v.r.Context(), v.caller(), l, set, remove); err != nil {
			if errors.Is(err, linkis.ErrPermission) {
				return err
			}
			code, msg := c.explain(v.r, err)
			return c.settings(v, o, l, code, msg+" - nothing was changed.", "")
		}
	}
	http.Redirect(v.w, v.r, settingsURL(l, "saved"), http.StatusSeeOther)
	return nil
}

// saveVariables replaces the level user's global variables with the
// form's name=value lines.
func (c *Console) saveVariables(v *visit) error {
	o, err := c.ops()
	if err != nil {
		return err
	}
	f := v.r.PostForm
	l, err := levelOf(v, f.Get)
	if err != nil {
		return err
	}
	text := f.Get("variables")
	vars, err := parsePairs("variables", text)
	if err == nil {
		err = o.SetVariables(v.r.Context(), v.caller(), l.User, vars)
	}
	if err != nil {
		if errors.Is(err, linkis.ErrPermission) {
			return err
		}
		code, msg := c.explain(v.r, err)
		return c.settings(v, o, l, code, msg+" - nothing was changed.", text)
	}
	http.Redirect(v.w, v.r, settingsURL(l, "saved"), http.StatusSeeOther)
	return nil
}

type clusterData struct {
	Known  bool
	Status api.Status
	Host   string // the address the browser reached
}

func (c *Console) clusterPage(v *visit) error {
	d := clusterData{Host: v.r.Host}
	if c.cfg.Cluster != nil {
		d.Known, d.Status = true, c.cfg.Cluster.Status(v.r.Context())
	}
	c.render(v.w, http.StatusOK, "cluster", v.view("Cluster", "cluster", d))
	return nil
}
