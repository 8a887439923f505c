package admin

import (
	"context"
	"errors"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
)

// Store is what the operator needs of the replicated state
// (raftstore.Node and raftstore.Memory are ones).
type Store interface {
	Apply(ctx context.Context, cmd manager.Command) (manager.Result, error)
	Read(ctx context.Context, consistent bool, fn func(*manager.State)) error
}

// Hosts reads engine data from the ECM at addr (api.ECMClient does).
type Hosts interface {
	EngineProcess(ctx context.Context, addr, ec string) (api.EngineProcess, error)
	EngineLog(ctx context.Context, addr, ec string, from, size int) (api.EngineLogPage, error)
}

// Caller is who asks: an authenticated user, administrator or not.
type Caller struct {
	User  string
	Admin bool
}

// Limits of a page.
const (
	DefaultPageSize = 100
	MaxPageSize     = 10_000
)

// Operator carries out the operator's calls. It keeps nothing between
// calls; it is safe for concurrent use.
type Operator struct {
	store Store
	hosts Hosts
	now   func() time.Time
}

// New returns an operator over store, reading engine data through hosts
// (nil: no ECM is asked; the calls that need one say so).
func New(store Store, hosts Hosts) *Operator {
	if hosts == nil {
		hosts = noHosts{}
	}
	return &Operator{store: store, hosts: hosts, now: time.Now}
}

// noHosts is Hosts when there is no way to the ECMs.
type noHosts struct{}

func (noHosts) EngineProcess(context.Context, string, string) (api.EngineProcess, error) {
	return api.EngineProcess{}, linkis.Errorf(linkis.ErrUnavailable, "ecm", "this server does not reach the ECMs")
}

func (noHosts) EngineLog(context.Context, string, string, int, int) (api.EngineLogPage, error) {
	return api.EngineLogPage{}, linkis.Errorf(linkis.ErrUnavailable, "ecm", "this server does not reach the ECMs")
}

// Page is a page of a list and how many items match in all.
type Page[T any] struct {
	Items []T
	Total int
}

// read runs fn on the state, linearizably unless ctx allows stale reads.
func (o *Operator) read(ctx context.Context, fn func(*manager.State)) error {
	return o.store.Read(ctx, !orchestrator.StaleAllowed(ctx), fn)
}

// propose checks cmd against the current state and applies it only when
// the state would accept it: bad input never reaches the log.
func (o *Operator) propose(ctx context.Context, cmd manager.Command) (manager.Result, error) {
	var err error
	if rerr := o.store.Read(ctx, true, func(s *manager.State) { err = s.CheckAdmin(cmd) }); rerr != nil {
		return manager.Result{}, rerr
	}
	if err != nil {
		return manager.Result{}, err
	}
	return o.store.Apply(ctx, cmd)
}

func (o *Operator) nowNanos() int64 { return o.now().UnixNano() }

// mustAdmin refuses a caller who is not an administrator.
func mustAdmin(c Caller, what string) error {
	if c.Admin {
		return nil
	}
	return linkis.ValueError(linkis.ErrPermission, "user", c.User, "only an administrator may "+what)
}

// checkPage checks an offset and a limit (0: the default).
func checkPage(offset, limit *int) error {
	if *offset < 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "pageNow", "must be at least 1")
	}
	if *limit == 0 {
		*limit = DefaultPageSize
	}
	if *limit < 1 || *limit > MaxPageSize {
		return linkis.Errorf(linkis.ErrInvalidArgument, "pageSize", "must be from 1 to %d, got %d", MaxPageSize, *limit)
	}
	return nil
}

// ECM is an ECM as the operator sees it.
type ECM struct {
	manager.ECMInfo
	// HealthSet says an operator set its health (a drain): it holds
	// whatever the ECM reports.
	HealthSet bool
}

// ECMs returns a page of the ECMs q selects, by id. Administrators only,
// as in Linkis.
func (o *Operator) ECMs(ctx context.Context, c Caller, q manager.ECMQuery) (Page[ECM], error) {
	if err := mustAdmin(c, "list the ECMs"); err != nil {
		return Page[ECM]{}, err
	}
	if err := checkPage(&q.Offset, &q.Limit); err != nil {
		return Page[ECM]{}, err
	}
	var p Page[ECM]
	err := o.read(ctx, func(s *manager.State) {
		ms, n := s.ListECMs(q)
		p.Total, p.Items = n, make([]ECM, len(ms))
		for i, m := range ms {
			_, set := s.OperatorHealth(m.ID)
			p.Items[i] = ECM{ECMInfo: m, HealthSet: set}
		}
	})
	return p, err
}

// ResolveECM returns the id of the ECM an instance names: its id or its
// address.
func (o *Operator) ResolveECM(ctx context.Context, instance string) (string, error) {
	var m manager.ECMInfo
	var ok bool
	if err := o.read(ctx, func(s *manager.State) { m, ok = s.ECMByInstance(instance) }); err != nil {
		return "", err
	}
	if !ok {
		return "", linkis.ValueError(linkis.ErrUnknownNode, "instance", clip(instance), "no such ECM (give its id or its address)")
	}
	return m.ID, nil
}

// ECMChange is what an operator changes of an ECM: its health (Healthy
// lifts a drain) and its labels.
type ECMChange struct {
	Health *linkis.NodeHealth
	Labels *linkis.Labels
}

// ModifyECM changes an ECM named by id or address. Administrators only.
func (o *Operator) ModifyECM(ctx context.Context, c Caller, instance string, ch ECMChange) (ECM, error) {
	if err := mustAdmin(c, "modify an ECM"); err != nil {
		return ECM{}, err
	}
	id, err := o.ResolveECM(ctx, instance)
	if err != nil {
		return ECM{}, err
	}
	cmd := manager.ModifyECM{Time: o.nowNanos(), ID: id}
	if ch.Health != nil {
		cmd.SetHealth, cmd.Health = true, *ch.Health
	}
	if ch.Labels != nil {
		cmd.SetLabels, cmd.Labels = true, *ch.Labels
	}
	if _, err := o.propose(ctx, cmd); err != nil {
		return ECM{}, err
	}
	var out ECM
	err = o.read(ctx, func(s *manager.State) {
		out.ECMInfo, _ = s.ECM(id)
		_, out.HealthSet = s.OperatorHealth(id)
	})
	return out, err
}

// Engine is a live engine as the operator sees it.
type Engine struct {
	manager.ECInfo
	ECMAddr string // its ECM's address
}

// Engines returns a page of the live engines q selects, by id. A user
// who is not an administrator sees only their own.
func (o *Operator) Engines(ctx context.Context, c Caller, q manager.EngineQuery) (Page[Engine], error) {
	if !c.Admin {
		for _, u := range q.Users {
			if u != c.User {
				return Page[Engine]{}, linkis.ValueError(linkis.ErrPermission, "creators", u, "only an administrator may list another user's engines")
			}
		}
		q.Users = []string{c.User}
	}
	if err := checkPage(&q.Offset, &q.Limit); err != nil {
		return Page[Engine]{}, err
	}
	var p Page[Engine]
	err := o.read(ctx, func(s *manager.State) {
		es, n := s.ListEngines(q)
		p.Total, p.Items = n, make([]Engine, len(es))
		for i, e := range es {
			p.Items[i] = engineOf(s, e)
		}
	})
	return p, err
}

func engineOf(s *manager.State, e manager.ECInfo) Engine {
	m, _ := s.ECM(e.ECM)
	return Engine{ECInfo: e, ECMAddr: m.Addr}
}

// EngineDetail is an engine live or ended, with what its ECM says of its
// process when the ECM could be asked.
type EngineDetail struct {
	Live    *Engine
	Ended   *manager.EngineRecord
	Process *api.EngineProcess
	// ProcessErr says why the ECM could not tell (it is gone, say).
	ProcessErr error
}

// ECM returns the id and address of the ECM that hosts (hosted) it.
func (d EngineDetail) ECM() (id, addr string) {
	if d.Live != nil {
		return d.Live.ECM, d.Live.ECMAddr
	}
	return d.Ended.ECM, d.Ended.ECMAddr
}

// Ticket returns its ticket.
func (d EngineDetail) Ticket() manager.ECID {
	if d.Live != nil {
		return d.Live.ID
	}
	return d.Ended.ID
}

// owner returns its user.
func (d EngineDetail) owner() string {
	if d.Live != nil {
		return d.Live.User
	}
	return d.Ended.User
}

// find resolves an engine instance - its address or its ticket ec-N -
// live, else among those that ended. Another user's engine is not found.
func (o *Operator) find(ctx context.Context, c Caller, instance string) (EngineDetail, error) {
	var d EngineDetail
	err := o.read(ctx, func(s *manager.State) {
		if e, ok := s.EngineByInstance(instance); ok {
			en := engineOf(s, e)
			d.Live = &en
			return
		}
		if id, err := manager.ParseECID(instance); err == nil {
			if r, ok := s.EndedEngine(id); ok {
				d.Ended = &r
				return
			}
		}
		recs, _ := s.EngineHistory(manager.HistoryQuery{Instance: instance, Limit: manager.MaxEngineHistory})
		for i := range recs {
			if recs[i].Addr == instance {
				d.Ended = &recs[i]
				return
			}
		}
	})
	if err != nil {
		return d, err
	}
	if d.Live == nil && d.Ended == nil || !c.Admin && d.owner() != c.User {
		return EngineDetail{}, linkis.ValueError(linkis.ErrUnknownNode, "instance", clip(instance), "no such engine of yours (give its address or its ticket ec-N)")
	}
	// Its ECM may have moved: the address it is registered at now.
	if d.Ended != nil {
		_ = o.read(ctx, func(s *manager.State) {
			if m, ok := s.ECM(d.Ended.ECM); ok {
				d.Ended.ECMAddr = m.Addr
			}
		})
	}
	return d, nil
}

// Engine returns an engine live or ended, by address or ticket, with
// what its ECM says of its process. Its owner or an administrator.
func (o *Operator) Engine(ctx context.Context, c Caller, instance string) (EngineDetail, error) {
	d, err := o.find(ctx, c, instance)
	if err != nil {
		return d, err
	}
	_, addr := d.ECM()
	p, err := o.hosts.EngineProcess(ctx, addr, d.Ticket().String())
	if err != nil {
		d.ProcessErr = err
	} else {
		d.Process = &p
	}
	return d, nil
}

// History returns a page of the engines that ended, newest first; a user
// who is not an administrator sees only their own.
func (o *Operator) History(ctx context.Context, c Caller, q manager.HistoryQuery) (Page[manager.EngineRecord], error) {
	if !c.Admin {
		if q.User != "" && q.User != c.User {
			return Page[manager.EngineRecord]{}, linkis.ValueError(linkis.ErrPermission, "creator", q.User, "only an administrator may see another user's engines")
		}
		q.User = c.User
	}
	if err := checkPage(&q.Offset, &q.Limit); err != nil {
		return Page[manager.EngineRecord]{}, err
	}
	var p Page[manager.EngineRecord]
	err := o.read(ctx, func(s *manager.State) { p.Items, p.Total = s.EngineHistory(q) })
	return p, err
}

// Kill stops engines named by address or ticket: all of them, or - when
// one is unknown, ended, or not the caller's while the caller is not an
// administrator - none. It returns their tickets.
func (o *Operator) Kill(ctx context.Context, c Caller, instances []string, reason string) ([]string, error) {
	if len(instances) == 0 {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "instances", "name at least one engine")
	}
	if len(instances) > manager.MaxKillEngines {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "instances", "%d engines, at most %d at once", len(instances), manager.MaxKillEngines)
	}
	var ids []manager.ECID
	var err error
	if rerr := o.read(ctx, func(s *manager.State) {
		for _, in := range instances {
			e, ok := s.EngineByInstance(in)
			if !ok || !c.Admin && e.User != c.User {
				err = linkis.ValueError(linkis.ErrUnknownNode, "instance", clip(in), "no such live engine of yours (give its address or its ticket ec-N); nothing was killed")
				return
			}
			ids = append(ids, e.ID)
		}
	}); rerr != nil {
		return nil, rerr
	}
	if err != nil {
		return nil, err
	}
	if reason == "" {
		reason = "killed by " + c.User
	}
	r, err := o.propose(ctx, manager.KillEngines{Time: o.nowNanos(), ECs: ids, Reason: clip(reason)})
	if err != nil {
		return nil, err
	}
	out := make([]string, len(r.ECs))
	for i, id := range r.ECs {
		out[i] = id.String()
	}
	return out, nil
}

// KillSummary is what a kill of idle engines stopped.
type KillSummary struct {
	Engines  []string // tickets
	Resource linkis.Resource
}

// KillIdle stops the idle (Unlock) engines of an ECM (by id or address)
// and/or of a user. Emptying an ECM is for administrators; a user may
// stop their own idle engines (on one ECM or everywhere).
func (o *Operator) KillIdle(ctx context.Context, c Caller, ecm, user string) (KillSummary, error) {
	switch {
	case !c.Admin && user == "":
		user = c.User
	case !c.Admin && user != c.User:
		return KillSummary{}, linkis.ValueError(linkis.ErrPermission, "user", user, "only an administrator may kill another user's engines")
	case ecm == "" && user == "":
		return KillSummary{}, linkis.Errorf(linkis.ErrInvalidArgument, "instance", "name the ECM (or the user) whose idle engines to kill")
	}
	cmd := manager.KillEngines{Time: o.nowNanos(), User: user, IdleOnly: true, Reason: "idle; killed by " + c.User}
	held := map[manager.ECID]linkis.Resource{}
	var err error
	if rerr := o.read(ctx, func(s *manager.State) {
		if ecm != "" {
			m, ok := s.ECMByInstance(ecm)
			if !ok {
				err = linkis.ValueError(linkis.ErrUnknownNode, "instance", clip(ecm), "no such ECM (give its id or its address)")
				return
			}
			cmd.ECM = m.ID
		}
		es, _ := s.ListEngines(manager.EngineQuery{ECM: cmd.ECM, Users: usersOf(user), Statuses: []linkis.NodeStatus{linkis.StatusUnlock}, Limit: manager.MaxKillEngines})
		for _, e := range es {
			held[e.ID] = e.Resource
		}
	}); rerr != nil {
		return KillSummary{}, rerr
	}
	if err != nil {
		return KillSummary{}, err
	}
	r, err := o.propose(ctx, cmd)
	if err != nil {
		return KillSummary{}, err
	}
	var sum KillSummary
	for _, id := range r.ECs {
		sum.Engines = append(sum.Engines, id.String())
		if res, ok := held[id]; ok {
			if t, err := sum.Resource.Add(res); err == nil {
				sum.Resource = t
			}
		}
	}
	return sum, nil
}

func usersOf(user string) []string {
	if user == "" {
		return nil
	}
	return []string{user}
}

// EngineLog is a page of an engine's output log and where it is kept.
type EngineLog struct {
	api.EngineLogPage
	ECM, ECMAddr string
}

// EngineLog returns lines [from, from+size) of an engine's output log -
// live or ended, also one that never started - from the ECM that ran it.
// Its owner or an administrator.
func (o *Operator) EngineLog(ctx context.Context, c Caller, instance string, from, size int) (EngineLog, error) {
	if err := api.CheckPage(from, size, api.MaxLogPageSize); err != nil {
		return EngineLog{}, err
	}
	d, err := o.find(ctx, c, instance)
	if err != nil {
		return EngineLog{}, err
	}
	id, addr := d.ECM()
	p, err := o.hosts.EngineLog(ctx, addr, d.Ticket().String(), from, size)
	if err != nil {
		var le *linkis.Error
		if errors.As(err, &le) && errors.Is(err, linkis.ErrUnknownNode) {
			return EngineLog{}, linkis.ValueError(linkis.ErrUnknownNode, "instance", clip(instance),
				"its ECM "+id+" no longer has its log: "+le.Reason)
		}
		if !errors.As(err, &le) {
			return EngineLog{}, linkis.Errorf(linkis.ErrUnavailable, "ecm", "the ECM %s at %s, which keeps the log, cannot be reached: %v", id, addr, err)
		}
		return EngineLog{}, err
	}
	return EngineLog{EngineLogPage: p, ECM: id, ECMAddr: addr}, nil
}

func clip(s string) string {
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}
