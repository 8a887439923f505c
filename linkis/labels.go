package linkis

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Well-known label keys, spelt as Apache Linkis spells them.
const (
	LabelUserCreator          = "userCreator"          // "user-creator", e.g. "hadoop-IDE"
	LabelEngineType           = "engineType"           // "type-version", e.g. "spark-2.4.3"
	LabelCodeType             = "codeType"             // e.g. "sql"
	LabelTenant               = "tenant"               // tenant isolation
	LabelYarnCluster          = "yarnCluster"          // cluster affinity
	LabelEMInstance           = "emInstance"           // pin to one ECM
	LabelEngineInstance       = "engineInstance"       // pin to one EngineConn
	LabelRoute                = "route"                // route hint
	LabelConcurrentEngineConn = "concurrentEngineConn" // parallelism of a concurrent EC
	LabelReuseExclusion       = "reuseExclusion"       // "inst1;inst2" or "*"
	LabelEngineConnMode       = "engineConnMode"       // computation | once | cluster
	LabelExecuteOnce          = "executeOnce"          // "true": a fresh EC for one job
	LabelFixedEngineConn      = "fixedEngineConn"      // session pinning
	LabelLoadBalance          = "loadBalance"          // load-balancing hint
	LabelBindEngine           = "bindEngine"           // bind a job to an engine
	LabelJobQueuingTimeout    = "jobQueuingTimeout"    // strategy: queuing timeout
	LabelJobRunningTimeout    = "jobRunningTimeout"    // strategy: running timeout
	LabelJobRetryCount        = "jobRetryCount"        // strategy: retry attempts
	LabelJobRetryTimeout      = "jobRetryTimeout"      // strategy: wait between retries

	// CombinedUserCreatorEngineType is the key of the combined label that
	// names a ledger row: value "user-creator,type-version".
	CombinedUserCreatorEngineType = "combined_userCreator_engineType"
	// CombinedUserCreatorEngineTypeTenant is the combined key when the
	// request carries a tenant: value "user-creator,type-version,tenant".
	CombinedUserCreatorEngineTypeTenant = "combined_userCreator_engineType_tenant"
)

// Limits on label sizes; anything larger is malformed.
const (
	MaxLabelKeyLen   = 64
	MaxLabelValueLen = 256
	MaxLabels        = 64
)

// Feature is the weight class of a label key, as in Linkis.
type Feature uint8

// The label features. CORE labels take part in exact matching; the others
// only rank candidates.
const (
	FeatureUnknown Feature = iota
	FeatureOptional
	FeaturePrioritized
	FeatureSuitable
	FeatureCore
)

// Weight returns the feature's weight: CORE 2.0, SUITABLE 1.0,
// PRIORITIZED 0.8, OPTIONAL 0.5, UNKNOWN 0.3.
func (f Feature) Weight() float64 {
	switch f {
	case FeatureCore:
		return 2.0
	case FeatureSuitable:
		return 1.0
	case FeaturePrioritized:
		return 0.8
	case FeatureOptional:
		return 0.5
	default:
		return 0.3
	}
}

func (f Feature) String() string {
	if f > FeatureCore {
		return "Feature(" + strconv.Itoa(int(f)) + ")"
	}
	return [...]string{"UNKNOWN", "OPTIONAL", "PRIORITIZED", "SUITABLE", "CORE"}[f]
}

// FeatureOf returns the feature of a label key. userCreator, engineType and
// tenant are CORE: a node matches a request only if both carry the same set
// of CORE keys with equal values, which is what isolates tenants.
func FeatureOf(key string) Feature {
	switch key {
	case LabelUserCreator, LabelEngineType, LabelTenant:
		return FeatureCore
	case LabelYarnCluster, LabelCodeType, LabelEMInstance, LabelEngineInstance:
		return FeatureSuitable
	case LabelRoute, LabelLoadBalance:
		return FeaturePrioritized
	case LabelConcurrentEngineConn, LabelReuseExclusion, LabelEngineConnMode,
		LabelExecuteOnce, LabelFixedEngineConn, LabelBindEngine,
		LabelJobQueuingTimeout, LabelJobRunningTimeout, LabelJobRetryCount, LabelJobRetryTimeout:
		return FeatureOptional
	}
	return FeatureUnknown
}

// Label is one key=value pair.
type Label struct {
	Key   string
	Value string
}

func (l Label) String() string { return l.Key + "=" + l.Value }

// Labels is a set of labels sorted by key with unique keys. The zero value
// is the empty set. Build one with ParseLabels or NewLabels.
type Labels []Label

// NewLabels validates and sorts pairs given as key, value, key, value...
func NewLabels(kv ...string) (Labels, error) {
	if len(kv)%2 != 0 {
		return nil, Errorf(ErrInvalidLabel, "", "odd number of key/value strings")
	}
	m := make(map[string]string, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		if _, dup := m[kv[i]]; dup {
			return nil, ValueError(ErrInvalidLabel, kv[i], kv[i+1], "key given twice")
		}
		m[kv[i]] = kv[i+1]
	}
	return ParseLabels(m)
}

// ParseLabels validates every key and value and returns them as a sorted
// set. Well-known keys have their values checked by their own parsers
// (userCreator, engineType, engineConnMode, ...).
func ParseLabels(m map[string]string) (Labels, error) {
	if len(m) > MaxLabels {
		return nil, Errorf(ErrInvalidLabel, "", "%d labels, at most %d allowed", len(m), MaxLabels)
	}
	ls := make(Labels, 0, len(m))
	for k, v := range m {
		if err := ValidateLabel(k, v); err != nil {
			return nil, err
		}
		ls = append(ls, Label{Key: k, Value: v})
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Key < ls[j].Key })
	return ls, nil
}

// ValidateLabel checks one label: the key's syntax, the value's size and
// characters, and for well-known keys the value's own syntax.
func ValidateLabel(key, value string) error {
	if err := validateKeyValue(key, value); err != nil {
		return err
	}
	var r EngineRequest
	return r.set(key, value)
}

// validateKeyValue checks what every label must satisfy, whatever its key.
func validateKeyValue(key, value string) error {
	if err := validateKey(key); err != nil {
		return err
	}
	if value == "" {
		return ValueError(ErrInvalidLabel, key, value, "empty value")
	}
	if len(value) > MaxLabelValueLen {
		return ValueError(ErrInvalidLabel, key, value, "value longer than 256 bytes")
	}
	ascii := true
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c < 0x20 || c == 0x7f {
			return ValueError(ErrInvalidLabel, key, value, "value contains a control character")
		}
		ascii = ascii && c < 0x80
	}
	if !ascii {
		if !utf8.ValidString(value) {
			return ValueError(ErrInvalidLabel, key, value, "value is not valid UTF-8")
		}
		for _, r := range value {
			if unicode.IsControl(r) {
				return ValueError(ErrInvalidLabel, key, value, "value contains a control character")
			}
		}
	}
	if strings.TrimSpace(value) != value {
		return ValueError(ErrInvalidLabel, key, value, "value has leading or trailing space")
	}
	return nil
}

// set decodes one well-known label into r, checking its value; other keys
// are left alone.
func (r *EngineRequest) set(key, value string) (err error) {
	switch key {
	case LabelUserCreator:
		r.UserCreator, err = ParseUserCreator(value)
	case LabelEngineType:
		r.EngineType, err = ParseEngineType(value)
	case LabelTenant, LabelYarnCluster:
		if !isName(value, 64, true) {
			return ValueError(ErrInvalidLabel, key, value, "must be 1-64 letters, digits, '_', '.' or '-'")
		}
		if key == LabelTenant {
			r.Tenant = value
		}
	case LabelEngineConnMode:
		r.Mode, err = ParseEngineConnMode(value)
	case LabelConcurrentEngineConn:
		r.Concurrency, err = ParseConcurrency(value)
	case LabelReuseExclusion:
		r.ReuseExclusion, err = ParseReuseExclusion(value)
	case LabelExecuteOnce:
		r.ExecuteOnce, err = parseBool(key, value)
	case LabelEMInstance:
		r.EMInstance = value
	case LabelEngineInstance:
		r.EngineInstance = value
	}
	return err
}

func validateKey(key string) error {
	if key == "" {
		return ValueError(ErrInvalidLabel, "key", key, "empty label key")
	}
	if len(key) > MaxLabelKeyLen {
		return ValueError(ErrInvalidLabel, "key", key, "label key longer than 64 bytes")
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter {
			return ValueError(ErrInvalidLabel, "key", key, "label key must start with a letter")
		}
		if !letter && !(c >= '0' && c <= '9') && c != '_' && c != '.' && c != '-' {
			return ValueError(ErrInvalidLabel, "key", key, "label key may hold only letters, digits, '_', '.' and '-'")
		}
	}
	return nil
}

// Validate checks a label set built by hand or decoded from the wire: keys
// sorted and unique, at most MaxLabels, every label valid.
func (ls Labels) Validate() error {
	if len(ls) > MaxLabels {
		return Errorf(ErrInvalidLabel, "", "%d labels, at most %d allowed", len(ls), MaxLabels)
	}
	for i, l := range ls {
		if i > 0 && ls[i-1].Key >= l.Key {
			return ValueError(ErrInvalidLabel, "key", l.Key, "label keys must be sorted and unique")
		}
		if err := ValidateLabel(l.Key, l.Value); err != nil {
			return err
		}
	}
	return nil
}

// Get returns the value of key and whether it is present.
func (ls Labels) Get(key string) (string, bool) {
	i := sort.Search(len(ls), func(i int) bool { return ls[i].Key >= key })
	if i < len(ls) && ls[i].Key == key {
		return ls[i].Value, true
	}
	return "", false
}

// Map returns the labels as a new map.
func (ls Labels) Map() map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Key] = l.Value
	}
	return m
}

// String formats as "k1=v1,k2=v2" in key order.
func (ls Labels) String() string {
	var b strings.Builder
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Key)
		b.WriteByte('=')
		b.WriteString(l.Value)
	}
	return b.String()
}

// Core returns the CORE labels of the set, in key order.
func (ls Labels) Core() Labels {
	var out Labels
	for _, l := range ls {
		if FeatureOf(l.Key) == FeatureCore {
			out = append(out, l)
		}
	}
	return out
}

// CoreMatch reports whether two label sets carry exactly the same CORE keys
// with equal values. This is Linkis's node matching rule and what isolates
// tenants: a set with a tenant never matches one without.
func CoreMatch(a, b Labels) bool {
	i, j := 0, 0
	for {
		for i < len(a) && FeatureOf(a[i].Key) != FeatureCore {
			i++
		}
		for j < len(b) && FeatureOf(b[j].Key) != FeatureCore {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		if a[i] != b[j] {
			return false
		}
		i++
		j++
	}
}

// UserCreator is the value of the userCreator label: who submits, from which
// application.
type UserCreator struct {
	User    string
	Creator string
}

// ParseUserCreator parses "user-creator". Both parts are 1-64 letters,
// digits, '_', '.' or '@'; the value has exactly one '-'.
func ParseUserCreator(s string) (UserCreator, error) {
	user, creator, ok := strings.Cut(s, "-")
	if !ok {
		return UserCreator{}, ValueError(ErrInvalidLabel, LabelUserCreator, s, "must be user-creator, e.g. hadoop-IDE")
	}
	if !isName(user, 64, false) {
		return UserCreator{}, ValueError(ErrInvalidLabel, LabelUserCreator, s, "user must be 1-64 letters, digits, '_', '.' or '@'")
	}
	if !isName(creator, 64, false) {
		return UserCreator{}, ValueError(ErrInvalidLabel, LabelUserCreator, s, "creator must be 1-64 letters, digits, '_', '.' or '@'")
	}
	return UserCreator{User: user, Creator: creator}, nil
}

func (u UserCreator) String() string { return u.User + "-" + u.Creator }

// EngineType is the value of the engineType label: an engine and its
// version.
type EngineType struct {
	Type    string
	Version string
}

// ParseEngineType parses "type-version", split at the first '-' as Linkis
// does ("spark-2.4.3" is spark, version 2.4.3). The type is 1-32 lower-case
// letters, digits or '_'; the version is 1-32 letters, digits, '.', '_' or
// '-'.
func ParseEngineType(s string) (EngineType, error) {
	typ, version, ok := strings.Cut(s, "-")
	if !ok {
		return EngineType{}, ValueError(ErrInvalidLabel, LabelEngineType, s, "must be type-version, e.g. spark-2.4.3")
	}
	if typ == "" || len(typ) > 32 {
		return EngineType{}, ValueError(ErrInvalidLabel, LabelEngineType, s, "type must be 1-32 characters")
	}
	for i := 0; i < len(typ); i++ {
		c := typ[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return EngineType{}, ValueError(ErrInvalidLabel, LabelEngineType, s, "type may hold only lower-case letters, digits and '_'")
		}
	}
	if !isName(version, 32, true) {
		return EngineType{}, ValueError(ErrInvalidLabel, LabelEngineType, s, "version must be 1-32 letters, digits, '.', '_' or '-'")
	}
	return EngineType{Type: typ, Version: version}, nil
}

func (e EngineType) String() string { return e.Type + "-" + e.Version }

// EngineConnMode is the value of the engineConnMode label.
type EngineConnMode uint8

// The engine-conn modes.
const (
	ModeComputation EngineConnMode = iota // interactive, reusable sessions
	ModeOnce                              // runs one job at start-up, then exits
	ModeCluster                           // resident service
)

// ParseEngineConnMode parses computation, once or cluster.
func ParseEngineConnMode(s string) (EngineConnMode, error) {
	switch s {
	case "computation":
		return ModeComputation, nil
	case "once":
		return ModeOnce, nil
	case "cluster":
		return ModeCluster, nil
	}
	return 0, ValueError(ErrInvalidLabel, LabelEngineConnMode, s, "must be computation, once or cluster")
}

func (m EngineConnMode) String() string {
	switch m {
	case ModeOnce:
		return "once"
	case ModeCluster:
		return "cluster"
	}
	return "computation"
}

// MaxConcurrency bounds the concurrentEngineConn label.
const MaxConcurrency = 10000

// ParseConcurrency parses the concurrentEngineConn label: an integer in
// [1, 10000].
func ParseConcurrency(s string) (int, error) {
	n, ok := parseSmallInt(s)
	if !ok || n < 1 || n > MaxConcurrency {
		return 0, ValueError(ErrInvalidLabel, LabelConcurrentEngineConn, s, "must be an integer from 1 to 10000")
	}
	return n, nil
}

// ReuseExclusion is the value of the reuseExclusion label: instances that
// must not be reused, or all of them.
type ReuseExclusion struct {
	All       bool     // "*": never reuse, always start a fresh engine
	Instances []string // excluded engine instances, sorted
}

// ParseReuseExclusion parses "*" or "inst1;inst2".
func ParseReuseExclusion(s string) (ReuseExclusion, error) {
	if s == "*" {
		return ReuseExclusion{All: true}, nil
	}
	parts := strings.Split(s, ";")
	out := ReuseExclusion{Instances: make([]string, 0, len(parts))}
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, " *") {
			return ReuseExclusion{}, ValueError(ErrInvalidLabel, LabelReuseExclusion, s, "must be * or instances separated by ';'")
		}
		out.Instances = append(out.Instances, p)
	}
	sort.Strings(out.Instances)
	return out, nil
}

// Excludes reports whether instance must not be reused.
func (r ReuseExclusion) Excludes(instance string) bool {
	if r.All {
		return true
	}
	i := sort.SearchStrings(r.Instances, instance)
	return i < len(r.Instances) && r.Instances[i] == instance
}

// CombinedKey returns the ledger key of the combined label
// userCreator+engineType[+tenant]: "user-creator,type-version[,tenant]".
func CombinedKey(uc UserCreator, et EngineType, tenant string) string {
	if tenant != "" {
		return uc.User + "-" + uc.Creator + "," + et.Type + "-" + et.Version + "," + tenant
	}
	return uc.User + "-" + uc.Creator + "," + et.Type + "-" + et.Version
}

// CombinedLabelKey returns the label key of a combined label: with or
// without the tenant part.
func CombinedLabelKey(tenant string) string {
	if tenant != "" {
		return CombinedUserCreatorEngineTypeTenant
	}
	return CombinedUserCreatorEngineType
}

// EngineRequest is an engine request's labels, checked and decoded: the two
// it must carry, the optional well-known ones, and all of them as given.
type EngineRequest struct {
	Labels         Labels
	UserCreator    UserCreator
	EngineType     EngineType
	Tenant         string
	Mode           EngineConnMode
	ExecuteOnce    bool
	Concurrency    int // 0 when not given
	ReuseExclusion ReuseExclusion
	EMInstance     string // pinned ECM, "" when not given
	EngineInstance string // pinned EngineConn, "" when not given
}

// ParseEngineRequest checks labels as an engine request: userCreator and
// engineType are required; the well-known optional labels are decoded.
func ParseEngineRequest(ls Labels) (EngineRequest, error) {
	r := EngineRequest{Labels: ls}
	if len(ls) > MaxLabels {
		return r, Errorf(ErrInvalidLabel, "", "%d labels, at most %d allowed", len(ls), MaxLabels)
	}
	var haveUC, haveET bool
	for i, l := range ls {
		if i > 0 && ls[i-1].Key >= l.Key {
			return r, ValueError(ErrInvalidLabel, "key", l.Key, "label keys must be sorted and unique")
		}
		if err := validateKeyValue(l.Key, l.Value); err != nil {
			return r, err
		}
		if err := r.set(l.Key, l.Value); err != nil {
			return r, err
		}
		haveUC = haveUC || l.Key == LabelUserCreator
		haveET = haveET || l.Key == LabelEngineType
	}
	if !haveUC {
		return r, Errorf(ErrMissingLabel, LabelUserCreator, "every engine request must carry userCreator (user-creator)")
	}
	if !haveET {
		return r, Errorf(ErrMissingLabel, LabelEngineType, "every engine request must carry engineType (type-version)")
	}
	return r, nil
}

// Key returns the request's combined ledger key (see CombinedKey).
func (r *EngineRequest) Key() string { return CombinedKey(r.UserCreator, r.EngineType, r.Tenant) }

// AppendKey appends the request's combined ledger key to b: the bytes of
// Key() without allocating a string, for looking a key up.
func (r *EngineRequest) AppendKey(b []byte) []byte {
	b = append(b, r.UserCreator.User...)
	b = append(b, '-')
	b = append(b, r.UserCreator.Creator...)
	b = append(b, ',')
	b = append(b, r.EngineType.Type...)
	b = append(b, '-')
	b = append(b, r.EngineType.Version...)
	if r.Tenant != "" {
		b = append(b, ',')
		b = append(b, r.Tenant...)
	}
	return b
}

// Dedicated reports whether the request must get an engine of its own that
// nobody else shares while it starts: once or cluster mode, executeOnce, or
// a reuse exclusion of every instance.
func (r EngineRequest) Dedicated() bool {
	return r.Mode != ModeComputation || r.ExecuteOnce || r.ReuseExclusion.All
}

// isName reports whether s is 1-max bytes of letters, digits, '_', '.', and
// '@' (or '-' when dash is set).
func isName(s string, max int, dash bool) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.':
		case c == '@' && !dash, c == '-' && dash:
		default:
			return false
		}
	}
	return true
}

func parseBool(field, s string) (bool, error) {
	switch s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, ValueError(ErrInvalidLabel, field, s, "must be true or false")
}

// parseSmallInt parses a decimal integer of at most 9 digits.
func parseSmallInt(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
