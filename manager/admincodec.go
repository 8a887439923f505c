package manager

import (
	"cmp"
	"sort"
	"strings"

	"github.com/golinkis/golinkis/linkis"
)

// appendAdminCommand encodes the body of an operator command (after the
// header and time); it reports false for a command that is not one.
func appendAdminCommand(e *enc, c Command) bool {
	switch c := c.(type) {
	case ModifyECM:
		e.str(c.ID)
		e.bool(c.SetHealth)
		e.byte(byte(c.Health))
		e.bool(c.SetLabels)
		e.labels(c.Labels)
	case KillEngines:
		e.u(uint64(len(c.ECs)))
		for _, id := range c.ECs {
			e.u(uint64(id))
		}
		e.str(c.ECM)
		e.str(c.User)
		e.bool(c.IdleOnly)
		e.str(c.Reason)
	case SetConfig:
		e.str(c.User)
		e.str(c.Creator)
		e.str(c.EngineType)
		e.params(c.Set)
		e.strs(c.Remove)
		e.bool(c.Admin)
	case SetVariables:
		e.str(c.User)
		e.vars(c.Vars)
	default:
		return false
	}
	return true
}

// decodeAdminCommand decodes the body of an operator command of type typ;
// nil for a type that is not one.
func decodeAdminCommand(d *dec, typ CommandType, t int64) Command {
	switch typ {
	case CmdModifyECM:
		return ModifyECM{Time: t, ID: d.str("id", 128), SetHealth: d.bool(), Health: linkis.NodeHealth(d.byte()), SetLabels: d.bool(), Labels: d.labels()}
	case CmdKillEngines:
		c := KillEngines{Time: t}
		if n := d.count("ecs", MaxKillEngines, 1); n > 0 {
			c.ECs = make([]ECID, n)
			for i := range c.ECs {
				c.ECs[i] = ECID(d.u())
			}
		}
		c.ECM, c.User, c.IdleOnly, c.Reason = d.str("ecm", 128), d.str("user", maxJobName), d.bool(), d.str("reason", MaxReasonLen)
		return c
	case CmdSetConfig:
		return SetConfig{Time: t, User: d.str("user", maxOperatorRef), Creator: d.str("creator", maxOperatorRef), EngineType: d.str("engineType", maxOperatorRef),
			Set: d.params(), Remove: d.strs("remove", 64, MaxParamKeyLen), Admin: d.bool()}
	case CmdSetVariables:
		return SetVariables{Time: t, User: d.str("user", maxOperatorRef), Vars: d.vars()}
	}
	return nil
}

// vars writes a variable set in name order (values may be longer than a
// param's).
func (e *enc) vars(m map[string]string) {
	names := paramNames(m)
	e.u(uint64(len(names)))
	for _, k := range names {
		e.str(k)
		e.str(m[k])
	}
}

func (d *dec) vars() map[string]string {
	n := d.count("vars", MaxVariables, 2)
	if n == 0 || d.err != nil {
		return nil
	}
	m := make(map[string]string, n)
	prev := ""
	for j := 0; j < n; j++ {
		k := d.str("var.name", linkis.MaxVariableName)
		if j > 0 && k <= prev && d.err == nil {
			d.err = linkis.Errorf(linkis.ErrMalformed, "vars", "names not sorted and unique")
		}
		m[k] = d.str("var.value", MaxVariableValue)
		prev = k
	}
	return m
}

// snapshotAdmin writes the operator's part of the state (snapshot version
// 3): health overrides by ECM id, the configuration levels in order, the
// variables by user, the ended engines oldest first.
func (s *State) snapshotAdmin(e *enc) {
	a := &s.admin
	ids := make([]string, 0, len(a.health))
	for id := range a.health {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	e.u(uint64(len(ids)))
	for _, id := range ids {
		e.str(id)
		e.byte(byte(a.health[id].forced))
		e.byte(byte(a.health[id].reported))
	}
	levels := s.ConfigLevels()
	e.u(uint64(len(levels)))
	for _, l := range levels {
		e.str(l.User)
		e.str(l.Creator)
		e.str(l.EngineType)
		e.params(s.ConfigValues(l))
		var byAdmin []string
		for _, k := range paramNames(s.ConfigValues(l)) {
			if a.conf.levels[l][k].admin {
				byAdmin = append(byAdmin, k)
			}
		}
		e.strs(byAdmin)
	}
	users := make([]string, 0, len(a.vars))
	for u := range a.vars {
		users = append(users, u)
	}
	sort.Strings(users)
	e.u(uint64(len(users)))
	for _, u := range users {
		e.str(u)
		e.vars(a.vars[u])
	}
	h := &a.history
	e.u(uint64(h.len()))
	for i := 0; i < h.len(); i++ {
		r := h.at(i)
		e.u(uint64(r.ID))
		e.str(r.ECM)
		e.str(r.ECMAddr)
		e.str(r.Key)
		e.str(r.User)
		e.str(r.EngineType.Type)
		e.str(r.EngineType.Version)
		e.labels(r.Labels)
		e.str(r.Addr)
		e.res(r.Resource)
		e.bool(r.Started)
		e.i(int64(r.Tasks))
		e.i(r.CreatedAt)
		e.i(r.EndedAt)
		e.bool(r.Failed)
		e.str(r.Reason)
	}
}

// restoreAdmin reads what snapshotAdmin wrote, checking every value as
// the commands that set it would.
func (s *State) restoreAdmin(d *dec) error {
	bad := func(format string, args ...any) error {
		return linkis.Errorf(linkis.ErrMalformed, "snapshot.admin", format, args...)
	}
	a := newAdminState()
	for n := d.count("health", 1<<24, 3); n > 0 && d.err == nil; n-- {
		id, forced, reported := d.str("health.ecm", 128), linkis.NodeHealth(d.byte()), linkis.NodeHealth(d.byte())
		if d.err == nil && (!validNodeID(id) || !forced.Valid() || forced == linkis.HealthHealthy || !reported.Valid() || a.health[id] != nil) {
			return bad("health override of %q is invalid or repeated", id)
		}
		a.health[id] = &healthNote{forced: forced, reported: reported}
	}
	var prev *ConfLevel
	for n := d.count("conf", MaxConfLevels, 4); n > 0 && d.err == nil; n-- {
		l := ConfLevel{d.str("conf.user", maxOperatorRef), d.str("conf.creator", maxOperatorRef), d.str("conf.engineType", maxOperatorRef)}
		raw := d.params()
		byAdmin := d.strs("conf.admin", len(confKeys), MaxParamKeyLen)
		if d.err != nil {
			break
		}
		if prev != nil && cmp.Or(cmp.Compare(prev.User, l.User), cmp.Compare(prev.Creator, l.Creator), cmp.Compare(prev.EngineType, l.EngineType)) >= 0 {
			return bad("configuration levels out of order")
		}
		prev = &l
		if err := s.checkLevel(l); err != nil || len(raw) == 0 {
			return bad("configuration level %v: %v", l, err)
		}
		typ, _, _ := strings.Cut(l.EngineType, "-")
		vals := make(map[string]confValue, len(raw))
		for _, k := range paramNames(raw) {
			v, err := parseConfValue(k, typ, raw[k])
			if err != nil {
				return bad("configuration level %v: %v", l, err)
			}
			vals[k] = v
		}
		for _, k := range byAdmin {
			v, ok := vals[k]
			if !ok || v.admin {
				return bad("configuration level %v: %q set by an administrator is not one of its values, or repeated", l, k)
			}
			v.admin = true
			vals[k] = v
		}
		a.conf.put(l, vals)
	}
	prevUser := ""
	for n := d.count("vars", MaxVariableUsers, 2); n > 0 && d.err == nil; n-- {
		c := SetVariables{User: d.str("vars.user", maxOperatorRef), Vars: d.vars()}
		if d.err != nil {
			break
		}
		if c.User <= prevUser || len(c.Vars) == 0 {
			return bad("variables of %q out of order or empty", c.User)
		}
		prevUser = c.User
		if err := checkVariables(c); err != nil {
			return bad("variables of %q: %v", c.User, err)
		}
		a.vars[c.User] = c.Vars
	}
	for n := d.count("history", MaxEngineHistory, 8); n > 0 && d.err == nil; n-- {
		r := EngineRecord{ID: ECID(d.u()), ECM: d.str("history.ecm", 128), ECMAddr: d.str("history.ecmAddr", linkis.MaxAddressLen),
			Key: d.str("history.key", 512), User: d.str("history.user", maxJobName)}
		r.EngineType = linkis.EngineType{Type: d.str("history.type", 128), Version: d.str("history.version", 128)}
		r.Labels, r.Addr, r.Resource = d.labels(), d.str("history.addr", linkis.MaxAddressLen), d.res()
		r.Started, r.Tasks = d.bool(), int(d.i())
		r.CreatedAt, r.EndedAt, r.Failed, r.Reason = d.i(), d.i(), d.bool(), d.str("history.reason", maxHistoryReason)
		if d.err == nil && (r.ID == 0 || r.ID >= s.nextEC || r.Tasks < 0 || r.Resource.Validate() != nil) {
			return bad("ended engine %v is invalid", r.ID)
		}
		a.history.push(r)
	}
	if d.err != nil {
		return d.err
	}
	s.admin = a // the ECMs were restored with the health in force
	return nil
}
