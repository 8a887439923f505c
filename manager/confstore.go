package manager

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golinkis/golinkis/linkis"
)

// The configuration tree, as Linkis's console has it: values per level -
// a user, a creator and an engine type, each of which may be "*" - that
// take effect where they matter:
//
//   - wds.linkis.rm.instance, wds.linkis.rm.client.memory.max and
//     wds.linkis.rm.client.core.max are the max of a combined label's
//     ledger row (its instance cap, memory and cores), unless SetQuota gave
//     the row a quota of its own;
//   - linkis.entrance.creator.job.concurrency.limit caps the running jobs
//     of the entrance's consumer groups (over JobConfig's caps);
//   - wds.linkis.engineconn.java.driver.memory, .cores and
//     wds.linkis.engineconn.max.free.time are startup parameters of the
//     next engines (under an ask's own).
//
// For a request (user, creator, type-version) the value in force is the
// most specific level's: user before "*", then creator before "*", then
// "type-version" before "type" before "*".

// ConfKind is how a configuration value reads.
type ConfKind uint8

// The kinds of values.
const (
	ConfCount    ConfKind = iota + 1 // a whole number
	ConfMemory                       // a size with a unit: 512m, 2g
	ConfCores                        // cores: 1, 0.5, 500m
	ConfDuration                     // a duration with a unit: 30m, 1h
)

func (k ConfKind) String() string {
	return [...]string{"", "count", "memory", "cores", "duration"}[k]
}

// ConfKey describes a configuration key.
type ConfKey struct {
	Key         string
	Name        string // a few words for a console
	Description string // its range and unit, as Linkis writes it
	Tree        string // the group a console shows it in
	Kind        ConfKind
	Min, Max    int64 // bounds of the parsed value (bytes, milli-cores, ns or a count)
	// PerEngine: the key exists for a concrete engine type only (an
	// engine's own setting), not at engine type "*".
	PerEngine bool
	// Param is the startup parameter the value becomes; "" when it is
	// not one.
	Param string
}

// The keys.
const (
	KeyInstance     = "wds.linkis.rm.instance"
	KeyClientMemory = "wds.linkis.rm.client.memory.max"
	KeyClientCores  = "wds.linkis.rm.client.core.max"
	KeyCreatorJobs  = "linkis.entrance.creator.job.concurrency.limit"
	KeyDriverMemory = "wds.linkis.engineconn.java.driver.memory"
	KeyDriverCores  = "wds.linkis.engineconn.java.driver.cores"
	KeyMaxFreeTime  = "wds.linkis.engineconn.max.free.time"
)

// The trees keys are shown in.
const (
	TreeQueue  = "QueueResources"
	TreeEngine = "EngineSettings"
)

var confKeys = []ConfKey{
	{Key: KeyInstance, Name: "maximum engines at once", Description: "range: 1-100, unit: engines", Tree: TreeQueue, Kind: ConfCount, Min: 1, Max: 100},
	{Key: KeyClientMemory, Name: "maximum memory of the engines", Description: "range: 64m-1024t, unit: k, m, g or t (required)", Tree: TreeQueue, Kind: ConfMemory, Min: 64 * linkis.MiB, Max: 1024 * linkis.TiB},
	{Key: KeyClientCores, Name: "maximum cores of the engines", Description: "range: 1-10000, unit: cores", Tree: TreeQueue, Kind: ConfCount, Min: 1, Max: 10000},
	{Key: KeyCreatorJobs, Name: "maximum running jobs", Description: "range: 1-10000, unit: jobs, for each consumer group (creator_user_engineType)", Tree: TreeQueue, Kind: ConfCount, Min: 1, Max: 10000},
	{Key: KeyDriverMemory, Name: "engine memory", Description: "range: 32m-64g, unit: k, m, g or t (required)", Tree: TreeEngine, Kind: ConfMemory, Min: 32 * linkis.MiB, Max: 64 * linkis.GiB, PerEngine: true, Param: ParamMemory},
	{Key: KeyDriverCores, Name: "engine cores", Description: "range: 0.1-64, unit: cores (500m is half a core)", Tree: TreeEngine, Kind: ConfCores, Min: 100, Max: 64_000, PerEngine: true, Param: ParamCores},
	{Key: KeyMaxFreeTime, Name: "engine idle exit time", Description: "range: 1s-168h, unit: s, m or h (required)", Tree: TreeEngine, Kind: ConfDuration, Min: int64(time.Second), Max: int64(168 * time.Hour), PerEngine: true, Param: "engineconn.max.free.time"},
}

// Limits of the configuration tree and the variables.
const (
	MaxConfLevels     = 1 << 16 // levels that hold values
	MaxConfValueLen   = 64      // bytes of a configuration value
	MaxVariables      = 256     // global variables of a user
	MaxVariableValue  = 4096    // bytes of a variable's value
	MaxVariableUsers  = 1 << 16 // users with global variables
	confAny           = "*"
	confLevelsPerSpec = 12 // the levels a (user, creator, type-version) reads
)

// LookupConfKey returns a key's description.
func LookupConfKey(key string) (ConfKey, bool) {
	for _, k := range confKeys {
		if k.Key == key {
			return k, true
		}
	}
	return ConfKey{}, false
}

// ConfLevel is a level of the tree: a user, a creator and an engine type
// ("type", "type-version"), each "*" for any.
type ConfLevel struct {
	User, Creator, EngineType string
}

func (l ConfLevel) String() string { return l.User + "-" + l.Creator + "," + l.EngineType }

// confValue is a checked value: as written and parsed, and whether an
// administrator set it (a user may then neither change nor exceed it).
type confValue struct {
	raw   string
	n     int64
	admin bool
}

// confStore holds the values set at each level, and counts how many
// levels set keys that the hot paths read, so that they cost nothing
// when no level does.
type confStore struct {
	levels map[ConfLevel]map[string]confValue
	quota  int // levels with a quota key
	params int // levels with a startup parameter key
	caps   int // levels with the entrance's cap
}

func newConfStore() confStore { return confStore{levels: map[ConfLevel]map[string]confValue{}} }

// count recounts what a level sets, adding sign (1 or -1).
func (c *confStore) count(vals map[string]confValue, sign int) {
	q, p, j := false, false, false
	for k := range vals {
		switch k {
		case KeyInstance, KeyClientMemory, KeyClientCores:
			q = true
		case KeyCreatorJobs:
			j = true
		case KeyDriverMemory, KeyDriverCores, KeyMaxFreeTime:
			p = true
		}
	}
	for _, f := range [...]struct {
		on bool
		n  *int
	}{{q, &c.quota}, {p, &c.params}, {j, &c.caps}} {
		if f.on {
			*f.n += sign
		}
	}
}

// put replaces a level's values (none: the level is dropped).
func (c *confStore) put(l ConfLevel, vals map[string]confValue) {
	if old, ok := c.levels[l]; ok {
		c.count(old, -1)
		delete(c.levels, l)
	}
	if len(vals) > 0 {
		c.levels[l] = vals
		c.count(vals, 1)
	}
}

// levelsOf lists the levels a request reads, most specific first.
func levelsOf(user, creator string, et linkis.EngineType) [confLevelsPerSpec]ConfLevel {
	var out [confLevelsPerSpec]ConfLevel
	i := 0
	for _, u := range [2]string{user, confAny} {
		for _, c := range [2]string{creator, confAny} {
			for _, e := range [3]string{et.String(), et.Type, confAny} {
				out[i] = ConfLevel{u, c, e}
				i++
			}
		}
	}
	return out
}

// lookup returns the value in force of key for a request, and the level
// it comes from; over, when set, stands for the values of level at.
//
// A user's own value of a limit (KeyInstance, the client memory and
// cores, KeyCreatorJobs) is in force only up to the administrators' value
// that applies under it - the most specific administrator's value at a
// broader level: an administrator who lowers a limit after the user set
// her own lowers hers too (checkCeiling refuses a user's value above it
// only when she sets it). The cap is taken here, from the values as they
// are, so the state keeps both and a later raise gives hers back.
func (c *confStore) lookup(key, user, creator string, et linkis.EngineType, at *ConfLevel, over map[string]confValue) (confValue, ConfLevel, bool) {
	levels := levelsOf(user, creator, et)
	valuesAt := func(l ConfLevel) map[string]confValue {
		if at != nil && l == *at {
			return over
		}
		return c.levels[l]
	}
	for i, l := range levels {
		v, ok := valuesAt(l)[key]
		if !ok {
			continue
		}
		if !v.admin && limitKey(key) {
			for _, m := range levels[i+1:] {
				if w, ok := valuesAt(m)[key]; ok && w.admin {
					if w.n < v.n {
						return w, m, true
					}
					break
				}
			}
		}
		return v, l, true
	}
	return confValue{}, ConfLevel{}, false
}

// limitKey reports whether a key is a limit, whose administrators' value
// is a ceiling of users' own.
func limitKey(key string) bool {
	switch key {
	case KeyInstance, KeyClientMemory, KeyClientCores, KeyCreatorJobs:
		return true
	}
	return false
}

// adminLookup is lookup among the values administrators set.
func (c *confStore) adminLookup(key, user, creator string, et linkis.EngineType) (confValue, bool) {
	for _, l := range levelsOf(user, creator, et) {
		if v, ok := c.levels[l][key]; ok && v.admin {
			return v, true
		}
	}
	return confValue{}, false
}

// parseKey splits a combined label "user-creator,type-version[,tenant]".
func parseKey(key string) (user, creator string, et linkis.EngineType, ok bool) {
	uc, rest, ok1 := strings.Cut(key, ",")
	ets, _, _ := strings.Cut(rest, ",")
	u, cr, ok2 := strings.Cut(uc, "-")
	t, v, ok3 := strings.Cut(ets, "-")
	return u, cr, linkis.EngineType{Type: t, Version: v}, ok1 && ok2 && ok3
}

// quotaOf is the max the configuration gives a combined label, over the
// default; ok is false when no level sets any of its quota keys.
func (s *State) quotaOf(key string, at *ConfLevel, over map[string]confValue) (linkis.Resource, bool) {
	c := &s.admin.conf
	if c.quota == 0 && at == nil {
		return linkis.Resource{}, false
	}
	user, creator, et, ok := parseKey(key)
	if !ok {
		return linkis.Resource{}, false
	}
	q, set := s.cfg.DefaultQuota, false
	if v, _, ok := c.lookup(KeyInstance, user, creator, et, at, over); ok {
		q.Instances, set = v.n, true
	}
	if v, _, ok := c.lookup(KeyClientMemory, user, creator, et, at, over); ok {
		q.Memory, set = v.n, true
	}
	if v, _, ok := c.lookup(KeyClientCores, user, creator, et, at, over); ok {
		q.MilliCores, set = v.n*1000, true
	}
	return q, set
}

// configParams layers the configuration's startup parameters for a
// request under the ask's own (which win).
func (s *State) configParams(req *linkis.EngineRequest, own map[string]string) map[string]string {
	c := &s.admin.conf
	if c.params == 0 {
		return own
	}
	var out map[string]string
	for _, k := range confKeys {
		if k.Param == "" {
			continue
		}
		if _, mine := own[k.Param]; mine {
			continue
		}
		if v, _, ok := c.lookup(k.Key, req.UserCreator.User, req.UserCreator.Creator, req.EngineType, nil, nil); ok {
			if out == nil {
				out = make(map[string]string, len(own)+3)
				for p, x := range own {
					out[p] = x
				}
			}
			out[k.Param] = v.raw
		}
	}
	if out == nil {
		return own
	}
	return out
}

// jobCap is the configuration's running cap of a consumer group.
func (c *confStore) jobCap(k jobGroupKey) (int, bool) {
	if c == nil || c.caps == 0 {
		return 0, false
	}
	et, err := linkis.ParseEngineType(k.engineType)
	if err != nil {
		et = linkis.EngineType{Type: k.engineType, Version: confAny}
	}
	if v, _, ok := c.lookup(KeyCreatorJobs, k.user, k.creator, et, nil, nil); ok {
		return int(v.n), true
	}
	return 0, false
}

// checkLevel checks a level's names.
func (s *State) checkLevel(l ConfLevel) error {
	if l.User != confAny {
		if _, err := linkis.ParseUserCreator(l.User + "-x"); err != nil {
			return linkis.ValueError(linkis.ErrInvalidArgument, "user", l.User, "must be a user name (1-64 letters, digits, '_', '.' or '@') or * for every user")
		}
	}
	if l.Creator != confAny {
		if _, err := linkis.ParseUserCreator("x-" + l.Creator); err != nil {
			return linkis.ValueError(linkis.ErrInvalidArgument, "creator", l.Creator, "must be a creator (1-64 letters, digits, '_', '.' or '@') or * for every creator")
		}
	}
	if l.EngineType == confAny {
		return nil
	}
	typ := l.EngineType
	if strings.Contains(typ, "-") {
		et, err := linkis.ParseEngineType(typ)
		if err != nil {
			return err
		}
		if _, err := s.plugins.Lookup(et); err != nil {
			return err
		}
		return nil
	}
	if len(s.plugins.ofType(typ)) == 0 {
		return linkis.ValueError(linkis.ErrUnknownEngineType, "engineType", typ, "no engine plugin for this type; known: "+s.plugins.knownTypes())
	}
	return nil
}

// parseConfValue checks a value of a key for a level's engine type
// ("*" or a type): the key must exist there, the value be of its kind,
// with its unit, in its range. The error names the key.
func parseConfValue(key, engineType, raw string) (confValue, error) {
	k, ok := LookupConfKey(key)
	if !ok {
		names := make([]string, len(confKeys))
		for i, k := range confKeys {
			names[i] = k.Key
		}
		return confValue{}, linkis.ValueError(linkis.ErrInvalidArgument, "configKey", clipValue(key), "no such configuration key; the keys are "+strings.Join(names, ", "))
	}
	if k.PerEngine && engineType == confAny {
		return confValue{}, linkis.ValueError(linkis.ErrInvalidArgument, "configKey", key, "is an engine's own setting: give an engine type (it does not exist for every engine type at once)")
	}
	bad := func(why string) (confValue, error) {
		return confValue{}, linkis.ValueError(linkis.ErrInvalidArgument, key, clipValue(raw), why+" ("+k.Description+")")
	}
	if raw == "" || len(raw) > MaxConfValueLen || !utf8.ValidString(raw) {
		return bad("must be 1 to " + strconv.Itoa(MaxConfValueLen) + " bytes")
	}
	var n int64
	var err error
	switch k.Kind {
	case ConfCount:
		if n, err = strconv.ParseInt(raw, 10, 64); err != nil {
			return bad("must be a whole number")
		}
	case ConfMemory:
		t := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(raw), "ib"), "b"))
		if t == "" || !strings.ContainsAny(t[len(t)-1:], "kmgt") {
			return bad("needs a unit")
		}
		if n, err = linkis.ParseMemory(raw); err != nil {
			return bad("must be a size like 512m or 2g")
		}
	case ConfCores:
		if n, err = linkis.ParseCores(raw); err != nil {
			return bad("must be cores like 1, 0.5 or 500m")
		}
	case ConfDuration:
		d, err := time.ParseDuration(raw)
		if err != nil || strings.IndexFunc(raw, func(r rune) bool { return r >= 'a' && r <= 'z' }) < 0 {
			return bad("must be a duration with a unit, like 30m or 1h")
		}
		n = int64(d)
	}
	if n < k.Min || n > k.Max {
		return bad("out of range")
	}
	return confValue{raw: raw, n: n}, nil
}

func clipValue(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.ToValidUTF8(s, "?")
}

// checkSetConfig checks a SetConfig and returns the level's values after
// it.
func (s *State) checkSetConfig(c SetConfig) (map[string]confValue, error) {
	l := ConfLevel{c.User, c.Creator, c.EngineType}
	for _, f := range [...]struct{ n, v string }{{"user", l.User}, {"creator", l.Creator}, {"engineType", l.EngineType}} {
		if f.v == "" || len(f.v) > maxOperatorRef {
			return nil, linkis.ValueError(linkis.ErrInvalidArgument, f.n, clipValue(f.v), "must be 1 to 128 bytes (* for any)")
		}
	}
	if err := s.checkLevel(l); err != nil {
		return nil, err
	}
	if len(c.Set) == 0 && len(c.Remove) == 0 {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "configKey", "nothing to set or remove")
	}
	if len(c.Set)+len(c.Remove) > 2*len(confKeys) {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "configKey", "%d changes, at most %d", len(c.Set)+len(c.Remove), 2*len(confKeys))
	}
	typ := l.EngineType
	if typ != confAny {
		typ, _, _ = strings.Cut(typ, "-")
	}
	after := make(map[string]confValue, len(s.admin.conf.levels[l])+len(c.Set))
	for k, v := range s.admin.conf.levels[l] {
		after[k] = v
	}
	for _, k := range c.Remove {
		if _, err := parseConfKey(k, typ); err != nil {
			return nil, err
		}
		if err := checkOwnValue(c, after, k); err != nil {
			return nil, err
		}
		delete(after, k)
	}
	for _, k := range paramNames(c.Set) { // in order: the error names the same key everywhere
		v, err := parseConfValue(k, typ, c.Set[k])
		if err != nil {
			return nil, err
		}
		if err := s.checkParam(l, k, v.raw); err != nil {
			return nil, err
		}
		if err := checkOwnValue(c, after, k); err != nil {
			return nil, err
		}
		v.admin = c.Admin
		after[k] = v
	}
	if _, exists := s.admin.conf.levels[l]; !exists && len(after) > 0 && len(s.admin.conf.levels) >= MaxConfLevels {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "level", "%d levels hold values, the most kept", MaxConfLevels)
	}
	if !c.Admin {
		if err := s.checkCeiling(l, c.Set); err != nil {
			return nil, err
		}
	}
	if err := s.checkQuotasAfter(l, after); err != nil {
		return nil, err
	}
	return after, nil
}

// checkOwnValue refuses a user who is not an administrator a change of a
// value an administrator set at the level.
func checkOwnValue(c SetConfig, vals map[string]confValue, key string) error {
	if v, ok := vals[key]; ok && v.admin && !c.Admin {
		return linkis.ValueError(linkis.ErrPermission, key, v.raw, "an administrator set it for you; ask one to change it")
	}
	return nil
}

// parseConfKey checks that a key exists for a level's engine type.
func parseConfKey(key, engineType string) (ConfKey, error) {
	k, ok := LookupConfKey(key)
	if !ok {
		_, err := parseConfValue(key, engineType, "")
		return ConfKey{}, err
	}
	if k.PerEngine && engineType == confAny {
		return ConfKey{}, linkis.ValueError(linkis.ErrInvalidArgument, "configKey", key, "is an engine's own setting: give an engine type")
	}
	return k, nil
}

// checkParam checks that the engine plugins of a level accept a startup
// parameter value (their resource factories read memory and cores).
func (s *State) checkParam(l ConfLevel, key, raw string) error {
	k, _ := LookupConfKey(key)
	if k.Param == "" || l.EngineType == confAny {
		return nil
	}
	var pls []Plugin
	if et, err := linkis.ParseEngineType(l.EngineType); err == nil && strings.Contains(l.EngineType, "-") {
		pl, err := s.plugins.Lookup(et)
		if err != nil {
			return err
		}
		pls = []Plugin{pl}
	} else {
		pls = s.plugins.ofType(l.EngineType)
	}
	for _, pl := range pls {
		if _, err := pl.Resources.Resource(map[string]string{k.Param: raw}); err != nil {
			return linkis.ValueError(linkis.ErrInvalidArgument, key, raw, "the "+pl.Type+" engine does not accept it: "+err.Error())
		}
	}
	return nil
}

// checkCeiling refuses a user's own limit above the one the values
// administrators set put in force for the level, or the defaults.
func (s *State) checkCeiling(l ConfLevel, set map[string]string) error {
	if l.User == confAny {
		return linkis.ValueError(linkis.ErrPermission, "user", confAny, "only an administrator sets values for every user")
	}
	et := linkis.EngineType{Type: confAny, Version: confAny}
	if l.EngineType != confAny {
		t, v, _ := strings.Cut(l.EngineType, "-")
		et = linkis.EngineType{Type: t, Version: cmp.Or(v, confAny)}
	}
	for _, key := range paramNames(set) {
		v, _ := parseConfValue(key, "x", set[key]) // checked
		var ceiling int64
		switch key {
		case KeyInstance:
			ceiling = s.cfg.DefaultQuota.Instances
		case KeyClientMemory:
			ceiling = s.cfg.DefaultQuota.Memory
		case KeyClientCores:
			ceiling = s.cfg.DefaultQuota.MilliCores / 1000
		case KeyCreatorJobs:
			ceiling = int64(s.jobs.cfg.GroupMaxRunning)
			if n, ok := s.jobs.cfg.CreatorMaxRunning[l.Creator]; ok {
				ceiling = int64(n)
			}
		default:
			continue
		}
		if w, ok := s.admin.conf.adminLookup(key, l.User, l.Creator, et); ok {
			ceiling = w.n
		}
		if v.n > ceiling {
			return linkis.ValueError(linkis.ErrPermission, key, set[key],
				"above the limit the administrators set ("+strconv.FormatInt(ceiling, 10)+" in the key's unit); ask an administrator to raise it")
		}
	}
	return nil
}

// checkQuotasAfter refuses values that would cap a combined label below
// what it already holds.
func (s *State) checkQuotasAfter(l ConfLevel, after map[string]confValue) error {
	for _, k := range sortedKeys(s.keys) {
		if _, own := s.quotas[k.key]; own {
			continue // its own quota wins over the configuration
		}
		max, ok := s.quotaOf(k.key, &l, after)
		if !ok {
			max = s.cfg.DefaultQuota
		}
		if held := k.row.held(); !held.FitsInQuota(max, max) {
			return linkis.ValueError(linkis.ErrInvalidResource, "key", k.key,
				"the combined label already holds "+held.String()+", more than "+max.String()+" would allow; stop some of its engines first")
		}
	}
	return nil
}

func (s *State) setConfig(t int64, c SetConfig) (Result, error) {
	after, err := s.checkSetConfig(c)
	if err != nil {
		return Result{}, err
	}
	s.admin.conf.put(ConfLevel{c.User, c.Creator, c.EngineType}, after)
	var r Result
	// Caps may have risen or fallen, quotas too: the groups' eligibility
	// is recomputed and waiting asks are tried again, in key order.
	js := &s.jobs
	for _, g := range sortedJobGroups(js.groups) {
		js.fixRing(g)
	}
	s.dispatch(t, &r)
	s.retryStarved(t, &r.Notices)
	return r, nil
}

// ConfSetting is a key's value at a level as a console shows it: the
// value the level itself sets (if any), the one in force there and where
// it comes from.
type ConfSetting struct {
	ConfKey
	Value   string    // the level's own value; "" when it sets none
	InForce string    // the value in force at the level ("" : the default)
	From    ConfLevel // where InForce comes from
	Default string    // the built-in default
}

// ConfigTree returns every key that exists at a level (the engine-type
// ones only for a concrete engine type), with its values.
func (s *State) ConfigTree(l ConfLevel) []ConfSetting {
	et := linkis.EngineType{Type: confAny, Version: confAny}
	if l.EngineType != confAny {
		t, v, _ := strings.Cut(l.EngineType, "-")
		et = linkis.EngineType{Type: t, Version: cmp.Or(v, confAny)}
	}
	own := s.admin.conf.levels[l]
	var out []ConfSetting
	for _, k := range confKeys {
		if k.PerEngine && l.EngineType == confAny {
			continue
		}
		cs := ConfSetting{ConfKey: k, Value: own[k.Key].raw, Default: s.confDefault(k)}
		if v, from, ok := s.admin.conf.lookup(k.Key, l.User, l.Creator, et, nil, nil); ok {
			cs.InForce, cs.From = v.raw, from
		}
		out = append(out, cs)
	}
	return out
}

// confDefault is what a key is when no level sets it.
func (s *State) confDefault(k ConfKey) string {
	switch k.Key {
	case KeyInstance:
		return strconv.FormatInt(s.cfg.DefaultQuota.Instances, 10)
	case KeyClientMemory:
		return linkis.FormatMemory(s.cfg.DefaultQuota.Memory)
	case KeyClientCores:
		return strconv.FormatInt(s.cfg.DefaultQuota.MilliCores/1000, 10)
	case KeyCreatorJobs:
		return strconv.Itoa(s.jobs.cfg.GroupMaxRunning)
	case KeyMaxFreeTime:
		return s.cfg.IdleTimeout.String()
	}
	return "" // the engine plugin's own
}

// ConfigLevels returns the levels that hold values, ordered.
func (s *State) ConfigLevels() []ConfLevel {
	out := make([]ConfLevel, 0, len(s.admin.conf.levels))
	for l := range s.admin.conf.levels {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b ConfLevel) int {
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Creator, b.Creator), cmp.Compare(a.EngineType, b.EngineType))
	})
	return out
}

// ConfigValues returns the values a level sets itself.
func (s *State) ConfigValues(l ConfLevel) map[string]string {
	vals := s.admin.conf.levels[l]
	out := make(map[string]string, len(vals))
	for k, v := range vals {
		out[k] = v.raw
	}
	return out
}

// EngineTypes lists the engine types the plugins serve ("type" for a
// plugin of any version, "type-version" otherwise), ordered.
func (s *State) EngineTypes() []string {
	var out []string
	for t, vs := range s.plugins.byType {
		for v := range vs {
			if v == "*" {
				out = append(out, t)
			} else {
				out = append(out, t+"-"+v)
			}
		}
	}
	slices.Sort(out)
	return out
}

// checkVariables checks a SetVariables.
func checkVariables(c SetVariables) error {
	if _, err := linkis.ParseUserCreator(c.User + "-x"); err != nil {
		return linkis.ValueError(linkis.ErrInvalidArgument, "user", clipValue(c.User), "must be a user name")
	}
	if len(c.Vars) > MaxVariables {
		return linkis.Errorf(linkis.ErrInvalidArgument, "globalVariables", "%d variables, at most %d", len(c.Vars), MaxVariables)
	}
	for _, name := range paramNames(c.Vars) {
		if !linkis.ValidVariableName(name) {
			return linkis.ValueError(linkis.ErrInvalidArgument, "key", clipValue(name),
				"a variable name is 1-128 letters, digits or '_' (it is written ${name}: no spaces, braces or signs)")
		}
		if v := c.Vars[name]; len(v) > MaxVariableValue || !utf8.ValidString(v) {
			return linkis.Errorf(linkis.ErrInvalidArgument, "value", "the value of %s is %d bytes; at most %d bytes of UTF-8", name, len(v), MaxVariableValue)
		}
	}
	return nil
}

func (s *State) setVariables(c SetVariables) (Result, error) {
	if err := checkVariables(c); err != nil {
		return Result{}, err
	}
	if _, had := s.admin.vars[c.User]; !had && len(c.Vars) > 0 && len(s.admin.vars) >= MaxVariableUsers {
		return Result{}, linkis.Errorf(linkis.ErrInvalidArgument, "user", "%d users have global variables, the most kept", MaxVariableUsers)
	}
	if len(c.Vars) == 0 {
		delete(s.admin.vars, c.User)
		return Result{}, nil
	}
	vs := make(map[string]string, len(c.Vars))
	for k, v := range c.Vars {
		vs[k] = v
	}
	s.admin.vars[c.User] = vs
	return Result{}, nil
}

// Variables returns a copy of a user's global variables.
func (s *State) Variables(user string) map[string]string {
	vs := s.admin.vars[user]
	out := make(map[string]string, len(vs))
	for k, v := range vs {
		out[k] = v
	}
	return out
}
