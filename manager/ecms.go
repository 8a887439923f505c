package manager

import (
	"strings"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// registerECM adds an ECM in status Running: an ECM registers when it is
// ready to launch engines. One that replaces another (RegisterECM.Replace)
// ends the other's engines first.
func (s *State) registerECM(t int64, c RegisterECM) (Result, error) {
	if err := s.checkRegistration(t, c); err != nil {
		return Result{}, err
	}
	var r Result
	if old := s.ecms[c.ID]; old != nil { // checked: c replaces it
		s.dropECM(t, old, "ECM "+old.id+" at "+old.addr+" was replaced by the one at "+c.Addr, &r.Notices)
	}
	max := c.Max
	if max.IsZero() {
		max = s.cfg.DefaultECMResource
	}
	m := &ecm{
		id: c.ID, addr: c.Addr, labels: c.Labels, status: linkis.StatusStarting,
		registeredAt: t, lastSeen: t, row: row{max: max}, ecs: map[ECID]*ec{},
		health: s.operatorHealth(c.ID, linkis.HealthHealthy), // a drained host stays drained (admin.go)
	}
	s.setECMStatus(m, linkis.StatusRunning)
	s.addECM(m)
	s.retryStarved(t, &r.Notices)
	return r, nil
}

func (s *State) checkRegistration(t int64, c RegisterECM) error {
	if !validNodeID(c.ID) {
		return linkis.ValueError(linkis.ErrInvalidArgument, "id", c.ID, "ECM ids are 1-128 letters, digits, '_', '.', ':' or '-'")
	}
	if err := linkis.ValidateAddress("addr", c.Addr); err != nil {
		return err
	}
	if m := s.ecms[c.ID]; m != nil {
		switch {
		case m.addr == c.Addr:
			return linkis.ValueError(linkis.ErrDuplicate, "id", c.ID, "this ECM is registered already, at this address")
		case !c.Replace:
			heard := time.Duration(max(t-m.lastSeen, 0)).Round(time.Second)
			return linkis.ValueError(linkis.ErrDuplicate, "addr", m.addr, "another ECM is registered as "+c.ID+" at this address (last heard from "+
				heard.String()+" ago): give this one another id, or let it replace that one if that one is gone (its engines end)")
		}
	}
	if err := c.Labels.Validate(); err != nil {
		return err
	}
	for _, l := range c.Labels {
		if l.Key == linkis.LabelUserCreator || l.Key == linkis.LabelEngineType {
			return linkis.ValueError(linkis.ErrInvalidLabel, l.Key, l.Value, "an ECM serves every user and engine type; only tenant isolates ECMs")
		}
	}
	max := c.Max
	if max.IsZero() {
		max = s.cfg.DefaultECMResource
	}
	if err := max.Validate(); err != nil {
		return err
	}
	if max.Instances < 1 {
		return linkis.ValueError(linkis.ErrInvalidResource, "instances", "0", "an ECM must be able to host at least one engine")
	}
	return nil
}

func validNodeID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func (s *State) ecmByID(id string) (*ecm, error) {
	if m := s.ecms[id]; m != nil {
		return m, nil
	}
	return nil, linkis.ValueError(linkis.ErrUnknownNode, "ecm", id, "no such ECM")
}

// ecmAt returns the ECM registered as id, at addr unless addr is empty:
// an ECM that another one replaced is not known any more.
func (s *State) ecmAt(id, addr string) (*ecm, error) {
	m, err := s.ecmByID(id)
	if err == nil && addr != "" && m.addr != addr {
		return nil, linkis.ValueError(linkis.ErrUnknownNode, "ecm", id, "the ECM registered as "+id+" is at "+m.addr+", not "+addr+" (this one was replaced)")
	}
	return m, err
}

// deregisterECM removes an ECM gracefully or at once.
func (s *State) deregisterECM(t int64, c DeregisterECM) (Result, error) {
	m, err := s.ecmAt(c.ID, c.Addr)
	if err != nil {
		return Result{}, err
	}
	var r Result
	if c.Force {
		s.dropECM(t, m, "ECM "+m.id+" was deregistered", &r.Notices)
		return r, nil
	}
	if m.status == linkis.StatusShuttingDown {
		return r, nil
	}
	s.setECMStatus(m, linkis.StatusShuttingDown)
	s.reindexECM(m)
	if len(m.ecs) == 0 {
		s.setECMStatus(m, linkis.StatusSuccess)
		s.removeECM(m)
		return r, nil
	}
	for _, e := range sortedECs(m.ecs) {
		s.stopEC(t, e, "its ECM is shutting down", true, &r.Notices)
	}
	return r, nil
}

// dropECM fails an ECM and ends every engine on it: the ECM is lost or
// forcibly removed, so nothing it held can be in use any more.
func (s *State) dropECM(t int64, m *ecm, reason string, notes *[]AskResult) {
	s.failECM(m)
	s.drainECM(t, m, reason, notes)
}

// failECM takes a failed ECM out of service: nothing may be placed on it.
func (s *State) failECM(m *ecm) {
	s.setECMStatus(m, linkis.StatusFailed)
	s.reindexECM(m)
}

// drainECM ends every engine of a failed ECM and forgets it.
func (s *State) drainECM(t int64, m *ecm, reason string, notes *[]AskResult) {
	for _, e := range sortedECs(m.ecs) {
		s.endEC(t, e, true, reason, true, notes)
	}
	if s.ecms[m.id] == m {
		s.removeECM(m)
	}
}

// ecmHeartbeat records an ECM's health and load.
func (s *State) ecmHeartbeat(t int64, c ECMHeartbeat) (Result, error) {
	m, err := s.ecmAt(c.ID, c.Addr)
	if err != nil {
		return Result{}, err
	}
	if !c.Health.Valid() {
		return Result{}, linkis.ValueError(linkis.ErrInvalidArgument, "health", c.Health.String(), "not a node health")
	}
	if err := c.Load.Validate(); err != nil {
		return Result{}, err
	}
	health := s.operatorHealth(m.id, c.Health) // an operator's wins (admin.go)
	refile := m.health != health || m.load.RunningTasks != c.Load.RunningTasks
	m.lastSeen, m.load, m.health = t, c.Load, health
	var r Result
	if refile {
		wasEligible := m.inTree
		s.reindexECM(m)
		// Only an ECM that became usable adds room for starved keys; a
		// new task count reorders ECMs but frees nothing, and retrying
		// every starved key on every heartbeat costs O(waiting asks).
		if m.inTree && !wasEligible {
			s.retryStarved(t, &r.Notices)
		}
	}
	return r, nil
}

// setQuota sets or resets a combined label's max, refusing one below what
// the label already holds.
func (s *State) setQuota(t int64, c SetQuota) (Result, error) {
	if err := s.checkQuota(c); err != nil {
		return Result{}, err
	}
	switch {
	case c.Key == "":
		s.cfg.DefaultQuota = c.Max
	case c.Reset:
		delete(s.quotas, c.Key)
	default:
		s.quotas[c.Key] = c.Max
	}
	var r Result
	s.retryStarved(t, &r.Notices)
	return r, nil
}

func (s *State) checkQuota(c SetQuota) error {
	if err := c.Max.Validate(); err != nil && !c.Reset {
		return err
	}
	if c.Key == "" {
		if c.Reset {
			return linkis.Errorf(linkis.ErrInvalidArgument, "key", "the default quota cannot be reset; set it")
		}
		if c.Max.Instances < 1 {
			return linkis.Errorf(linkis.ErrInvalidResource, "instances", "the default quota must allow at least one engine")
		}
		return s.checkDefaultQuota(c.Max)
	}
	if err := validateKey(c.Key); err != nil {
		return err
	}
	max := c.Max
	if c.Reset {
		max = s.cfg.DefaultQuota
	}
	if k := s.keys[c.Key]; k != nil {
		return fitsQuota(k, max)
	}
	return nil
}

// checkDefaultQuota refuses a default quota below what a key without its
// own quota already holds.
func (s *State) checkDefaultQuota(max linkis.Resource) error {
	for _, k := range sortedKeys(s.keys) {
		if _, own := s.quotas[k.key]; !own {
			if err := fitsQuota(k, max); err != nil {
				return err
			}
		}
	}
	return nil
}

func fitsQuota(k *keyState, max linkis.Resource) error {
	if held := k.row.held(); !held.FitsInQuota(max, max) {
		return linkis.ValueError(linkis.ErrInvalidResource, "key", k.key, "the combined label already holds "+held.String()+", more than "+max.String())
	}
	return nil
}

// validateKey checks "user-creator,type-version[,tenant]".
func validateKey(key string) error {
	parts := strings.Split(key, ",")
	if len(parts) < 2 || len(parts) > 3 {
		return linkis.ValueError(linkis.ErrInvalidLabel, "key", key, "must be user-creator,type-version[,tenant]")
	}
	if _, err := linkis.ParseUserCreator(parts[0]); err != nil {
		return err
	}
	if _, err := linkis.ParseEngineType(parts[1]); err != nil {
		return err
	}
	if len(parts) == 3 {
		return linkis.ValidateLabel(linkis.LabelTenant, parts[2])
	}
	return nil
}

// setPluginParams sets the default startup parameters of an engine type
// ("type") or of one version ("type-version"), after checking that the
// resource factories they reach accept them.
func (s *State) setPluginParams(c SetPluginParams) error {
	var targets []Plugin
	if strings.Contains(c.EngineType, "-") {
		et, err := linkis.ParseEngineType(c.EngineType)
		if err != nil {
			return err
		}
		pl, err := s.plugins.Lookup(et)
		if err != nil {
			return err
		}
		targets = []Plugin{pl}
	} else if targets = s.plugins.ofType(c.EngineType); len(targets) == 0 {
		return linkis.ValueError(linkis.ErrUnknownEngineType, "engineType", c.EngineType, "no engine plugin for this type")
	}
	if err := validateParams(c.Params); err != nil {
		return err
	}
	for _, pl := range targets {
		if _, err := pl.Resources.Resource(c.Params); err != nil {
			return err
		}
	}
	if len(c.Params) == 0 {
		delete(s.pluginParams, c.EngineType)
		return nil
	}
	cp := make(map[string]string, len(c.Params))
	for k, v := range c.Params {
		cp[k] = v
	}
	s.pluginParams[c.EngineType] = cp
	return nil
}

// configure replaces the configuration. Engines and asks already running
// keep the deadlines they were given.
func (s *State) configure(t int64, c Configure) (Result, error) {
	if c.keepExt {
		copyConfigExt(&c.Config, s.cfg)
	}
	if err := c.Config.Validate(); err != nil {
		return Result{}, err
	}
	if err := s.checkDefaultQuota(c.Config.DefaultQuota); err != nil {
		return Result{}, err
	}
	s.cfg = c.Config
	for _, m := range sortedECMs(s.ecms) {
		s.reindexECM(m) // the load bands may have changed
	}
	s.refreshDues() // and the timeouts
	var r Result
	for _, e := range sortedECs(s.ecs) { // and the maximum of tasks per engine
		s.refreshEC(e)
		if e.started() && int(e.tasks) >= s.cfg.MaxTasksPerEC && e.bound == 0 && e.mode == linkis.ModeComputation {
			s.stopEC(t, e, "it served its maximum of tasks", true, &r.Notices)
		}
	}
	for _, k := range sortedKeys(s.keys) { // engines may have become reusable
		if k.waiters.n > 0 {
			s.serveKey(t, k, &r.Notices)
		}
	}
	s.retryStarved(t, &r.Notices)
	return r, nil
}
