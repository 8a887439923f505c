package manager

import (
	"fmt"
	"strconv"

	"github.com/golinkis/golinkis/linkis"
)

// The operator's commands: what Linkis's management console changes,
// replicated like every other change (issue "Operating it"). Values are
// part of the log format: never renumber. 40-47 are this file's; 48-55
// belong to sessions and 16-31 to the warm pools.
const (
	CmdModifyECM    CommandType = 40
	CmdKillEngines  CommandType = 41
	CmdSetConfig    CommandType = 42
	CmdSetVariables CommandType = 43
)

func init() {
	commandNames[CmdModifyECM] = "ModifyECM"
	commandNames[CmdKillEngines] = "KillEngines"
	commandNames[CmdSetConfig] = "SetConfig"
	commandNames[CmdSetVariables] = "SetVariables"
}

// Limits on the operator's commands.
const (
	// MaxKillEngines bounds the engines one KillEngines names.
	MaxKillEngines = 10_000
	maxOperatorRef = 128 // user, creator and engine type names of a level
)

// ModifyECM changes what an operator may change of a registered ECM
// (Linkis's modifyEMInfo): its health and its labels.
//
// A health other than Healthy overrides what the ECM reports until an
// operator sets Healthy again: UnHealthy drains it (no new engine is
// started there; the engines it runs go on, are reused and end as they
// would). The override is kept by ECM id, so a drained host stays drained
// when its ECM restarts.
//
// Labels replace the ECM's labels (the ones an ECM registers: not
// userCreator or engineType). Its tenant can change only while it hosts
// no engine: the engines were placed for the tenant it had.
type ModifyECM struct {
	Time      int64
	ID        string // the ECM's id
	SetHealth bool
	Health    linkis.NodeHealth
	SetLabels bool
	Labels    linkis.Labels
}

// KillEngines stops engines as KillEngine does, several in one command:
// the engines named, or (none named) every engine of ECM and of User -
// at least one of the two must be given. With IdleOnly only the engines
// that are Unlock at the time of the command (started, free, held by no
// one) are stopped and the others are left alone: that is how an operator
// empties a host or a user's idle engines without cutting a running task.
// Result.ECs lists the engines it stopped.
type KillEngines struct {
	Time     int64
	ECs      []ECID
	ECM      string
	User     string
	IdleOnly bool
	Reason   string
}

// SetConfig changes the configuration values of one level of Linkis's
// configuration tree - a user (or "*", every user), a creator (or "*")
// and an engine type ("type", "type-version" or "*") - setting Set and
// removing Remove. The values in force for a request are those of the
// most specific level that has the key (confstore.go); they are the
// manager's quotas, the next engines' startup parameters and the
// entrance's running caps. Values are checked against their key (type,
// range, unit) and a change that would cap a combined label below what it
// already holds is refused. Admin says an administrator proposed it: a
// user who is not may not raise a limit above what the administrators'
// levels allow.
type SetConfig struct {
	Time                      int64
	User, Creator, EngineType string
	Set                       map[string]string
	Remove                    []string
	Admin                     bool
}

// SetVariables replaces a user's global variables (Linkis's
// saveGlobalVariable): the ${name} values of every job the user submits
// after it, under the job's own variables. An empty set removes them all.
type SetVariables struct {
	Time int64
	User string
	Vars map[string]string
}

func (ModifyECM) Type() CommandType    { return CmdModifyECM }
func (KillEngines) Type() CommandType  { return CmdKillEngines }
func (SetConfig) Type() CommandType    { return CmdSetConfig }
func (SetVariables) Type() CommandType { return CmdSetVariables }

func (c ModifyECM) At() int64    { return c.Time }
func (c KillEngines) At() int64  { return c.Time }
func (c SetConfig) At() int64    { return c.Time }
func (c SetVariables) At() int64 { return c.Time }

// adminState is the operator's part of the state: health overrides,
// the configuration tree, global variables and the history of engines
// that ended. It is replicated and snapshotted like the rest.
type adminState struct {
	health  map[string]*healthNote // by ECM id
	conf    confStore
	vars    map[string]map[string]string // user → name → value
	history engineHistory
}

// healthNote is an operator's health for an ECM and what the ECM itself
// last reported.
type healthNote struct {
	forced, reported linkis.NodeHealth
}

func newAdminState() adminState {
	return adminState{health: map[string]*healthNote{}, conf: newConfStore(), vars: map[string]map[string]string{}}
}

// operatorHealth is the health an ECM has: the operator's when one was
// set, else the one it reports (which is remembered for when the
// operator's is lifted).
func (s *State) operatorHealth(id string, reported linkis.NodeHealth) linkis.NodeHealth {
	if n := s.admin.health[id]; n != nil {
		n.reported = reported
		return n.forced
	}
	return reported
}

// CheckAdmin checks an operator command against the state without
// changing anything: nil when Apply would accept it. An API checks with it
// before proposing, so that bad input never reaches the log.
func (s *State) CheckAdmin(cmd Command) error {
	switch c := cmd.(type) {
	case ModifyECM:
		_, err := s.checkModifyECM(c)
		return err
	case KillEngines:
		_, err := s.killTargets(c)
		return err
	case SetConfig:
		_, err := s.checkSetConfig(c)
		return err
	case SetVariables:
		return checkVariables(c)
	}
	return linkis.Errorf(linkis.ErrUnknownCommand, "type", "%v is not an operator command", cmd.Type())
}

// applyAdmin applies an operator command; ok is false for a command that
// is not one.
func (s *State) applyAdmin(t int64, cmd Command) (r Result, ok bool, err error) {
	switch c := cmd.(type) {
	case ModifyECM:
		r, err = s.modifyECM(t, c)
	case KillEngines:
		r, err = s.killEngines(t, c)
	case SetConfig:
		r, err = s.setConfig(t, c)
	case SetVariables:
		r, err = s.setVariables(c)
	default:
		return Result{}, false, nil
	}
	return r, true, err
}

func (s *State) checkModifyECM(c ModifyECM) (*ecm, error) {
	m, err := s.ecmByID(c.ID)
	if err != nil {
		return nil, err
	}
	if !c.SetHealth && !c.SetLabels {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "ecm", "nothing to change: give a health or labels")
	}
	if c.SetHealth && !c.Health.Valid() {
		return nil, linkis.ValueError(linkis.ErrInvalidArgument, "health", c.Health.String(), "not a node health")
	}
	if c.SetLabels {
		if err := c.Labels.Validate(); err != nil {
			return nil, err
		}
		for _, l := range c.Labels {
			if l.Key == linkis.LabelUserCreator || l.Key == linkis.LabelEngineType {
				return nil, linkis.ValueError(linkis.ErrInvalidLabel, l.Key, l.Value, "an ECM serves every user and engine type; only tenant isolates ECMs")
			}
		}
		old, _ := m.labels.Get(linkis.LabelTenant)
		now, _ := c.Labels.Get(linkis.LabelTenant)
		if old != now && len(m.ecs) > 0 {
			return nil, linkis.ValueError(linkis.ErrInvalidLabel, linkis.LabelTenant, now,
				"ECM "+m.id+" hosts "+strconv.Itoa(len(m.ecs))+" engines placed for tenant "+strconv.Quote(old)+"; its tenant changes only once it hosts none")
		}
	}
	return m, nil
}

func (s *State) modifyECM(t int64, c ModifyECM) (Result, error) {
	m, err := s.checkModifyECM(c)
	if err != nil {
		return Result{}, err
	}
	if c.SetLabels {
		// Out of its group and postings under the old labels, back in
		// under the new ones; its engines and ledger stay.
		s.removeECM(m)
		m.labels = c.Labels
		s.addECM(m)
	}
	if c.SetHealth {
		n := s.admin.health[m.id]
		reported := m.health
		if n != nil {
			reported = n.reported
		}
		if c.Health == linkis.HealthHealthy {
			delete(s.admin.health, m.id)
			m.health = reported
		} else {
			s.admin.health[m.id] = &healthNote{forced: c.Health, reported: reported}
			m.health = c.Health
		}
		s.reindexECM(m)
	}
	var r Result
	s.retryStarved(t, &r.Notices) // a host back in service, or new labels, may take waiting asks
	return r, nil
}

// killTargets checks a KillEngines and returns the engines it stops, in
// id order.
func (s *State) killTargets(c KillEngines) ([]*ec, error) {
	if len(c.Reason) > MaxReasonLen {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "reason", "longer than %d bytes", MaxReasonLen)
	}
	if len(c.ECs) > MaxKillEngines {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "ecs", "%d engines, at most %d in one command", len(c.ECs), MaxKillEngines)
	}
	var m *ecm
	if c.ECM != "" {
		var err error
		if m, err = s.ecmByID(c.ECM); err != nil {
			return nil, err
		}
	}
	if c.User != "" && checkName("user", c.User) != nil {
		return nil, linkis.ValueError(linkis.ErrInvalidArgument, "user", c.User, "must be 1 to 128 bytes")
	}
	var out []*ec
	switch {
	case len(c.ECs) > 0:
		seen := make(map[ECID]bool, len(c.ECs))
		for _, id := range c.ECs {
			e, err := s.engine(id)
			if err != nil {
				return nil, err
			}
			if !seen[id] {
				seen[id] = true
				out = append(out, e)
			}
		}
	case m != nil:
		for _, e := range m.ecs {
			out = append(out, e)
		}
	case c.User != "":
		for _, k := range s.keys {
			if keyUser(k.key) == c.User {
				for _, e := range k.ecs {
					out = append(out, e)
				}
			}
		}
	default:
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "ecs", "name the engines, or an ECM or a user whose engines to stop")
	}
	kept := out[:0]
	for _, e := range out {
		switch {
		case m != nil && e.ecm != m, c.User != "" && e.user != c.User:
		case c.IdleOnly && e.status != linkis.StatusUnlock:
		case e.killReq:
			// Already being stopped.
		default:
			kept = append(kept, e)
		}
	}
	return sortECs(kept), nil
}

func (s *State) killEngines(t int64, c KillEngines) (Result, error) {
	es, err := s.killTargets(c)
	if err != nil {
		return Result{}, err
	}
	reason := c.Reason
	if reason == "" {
		reason = "killed by an operator"
	}
	var r Result
	for _, e := range es {
		if s.ecs[e.id] != e { // stopping one may not end another, but be sure
			continue
		}
		s.stopEC(t, e, reason, true, &r.Notices)
		r.ECs = append(r.ECs, e.id)
	}
	return r, nil
}

// CheckOperator verifies the operator's part: an ECM an operator gave a
// health has that health; the configuration's counters of what its
// levels set match the levels; no level is empty; the history is within
// its bound.
func CheckOperator(s *State) error {
	for id, n := range s.admin.health {
		if m := s.ecms[id]; m != nil && m.health != n.forced {
			return fmt.Errorf("ECM %s is %v but an operator set it %v", id, m.health, n.forced)
		}
	}
	var recount confStore
	for l, vals := range s.admin.conf.levels {
		if len(vals) == 0 {
			return fmt.Errorf("configuration level %v is empty", l)
		}
		recount.count(vals, 1)
	}
	if c := &s.admin.conf; recount.quota != c.quota || recount.params != c.params || recount.caps != c.caps {
		return fmt.Errorf("configuration counters %d/%d/%d, the levels say %d/%d/%d", c.quota, c.params, c.caps, recount.quota, recount.params, recount.caps)
	}
	if n := s.admin.history.len(); n > MaxEngineHistory {
		return fmt.Errorf("the history holds %d ended engines, more than %d", n, MaxEngineHistory)
	}
	return nil
}

// keyUser is the user of a combined label "user-creator,type-version".
func keyUser(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] == '-' || key[i] == ',' {
			return key[:i]
		}
	}
	return key
}
