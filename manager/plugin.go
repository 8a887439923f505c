package manager

import (
	"sort"
	"strconv"
	"strings"

	"github.com/golinkis/golinkis/linkis"
)

// ResourceFactory turns an ask's startup parameters (plugin defaults merged
// under the ask's own) into the resource one engine needs. It must be a
// pure function: every replica calls it and must get the same answer.
type ResourceFactory interface {
	Resource(params map[string]string) (linkis.Resource, error)
}

// LaunchBuilder turns a pending engine into the request an ECM executes.
// It must be a pure function of its argument.
type LaunchBuilder interface {
	Build(LaunchContext) (LaunchRequest, error)
}

// ResourceFunc adapts a function to ResourceFactory.
type ResourceFunc func(params map[string]string) (linkis.Resource, error)

// Resource calls f.
func (f ResourceFunc) Resource(p map[string]string) (linkis.Resource, error) { return f(p) }

// LaunchFunc adapts a function to LaunchBuilder.
type LaunchFunc func(LaunchContext) (LaunchRequest, error)

// Build calls f.
func (f LaunchFunc) Build(c LaunchContext) (LaunchRequest, error) { return f(c) }

// Plugin is what the manager knows of one engine type: how much an engine
// needs and how to start one. Version "*" serves every version of Type that
// has no plugin of its own.
type Plugin struct {
	Type        string // e.g. "shell"
	Version     string // e.g. "3", or "*"
	Concurrency int    // tasks one engine runs at once; 1 = serial executor
	Resources   ResourceFactory
	Launcher    LaunchBuilder
}

// LaunchContext is what a launch builder gets about the engine to start.
type LaunchContext struct {
	Ticket     ECID
	ECM        string
	EngineType linkis.EngineType
	User       string
	Labels     linkis.Labels
	Params     map[string]string
	Resource   linkis.Resource
}

// Material is a file the ECM places in the engine's work directory.
type Material struct {
	Name string // relative path in the work directory
	Data []byte
	Mode uint32 // permission bits
}

// LaunchRequest is what an ECM needs to start an engine process. Launching
// the same Ticket twice must start one process.
type LaunchRequest struct {
	Ticket     ECID
	EngineType linkis.EngineType
	User       string
	Command    string
	Args       []string
	Env        map[string]string
	Materials  []Material
	Resource   linkis.Resource
	Labels     linkis.Labels
}

// Plugins is a registry of engine plugins keyed by type and version. It is
// read-only once handed to New or Restore; every replica must be given the
// same plugins.
type Plugins struct {
	byType map[string]map[string]Plugin
}

// NewPlugins returns an empty registry.
func NewPlugins() *Plugins { return &Plugins{byType: map[string]map[string]Plugin{}} }

// Register adds a plugin; a second plugin for the same type and version is
// an ErrDuplicate.
func (p *Plugins) Register(pl Plugin) error {
	version := pl.Version
	if version == "*" {
		version = "0" // any version: only the type needs checking
	}
	if _, err := linkis.ParseEngineType(pl.Type + "-" + version); err != nil {
		return err
	}
	if pl.Resources == nil || pl.Launcher == nil {
		return linkis.Errorf(linkis.ErrInvalidArgument, "plugin "+pl.Type, "needs a resource factory and a launch builder")
	}
	if pl.Concurrency < 1 || pl.Concurrency > linkis.MaxConcurrency {
		return linkis.Errorf(linkis.ErrInvalidArgument, "plugin "+pl.Type, "concurrency must be from 1 to %d", linkis.MaxConcurrency)
	}
	vs := p.byType[pl.Type]
	if vs == nil {
		vs = map[string]Plugin{}
		p.byType[pl.Type] = vs
	}
	if _, dup := vs[pl.Version]; dup {
		return linkis.ValueError(linkis.ErrDuplicate, "plugin", pl.Type+"-"+pl.Version, "already registered")
	}
	vs[pl.Version] = pl
	return nil
}

// Lookup returns the plugin for an engine type: the exact version first,
// else the type's "*" plugin.
func (p *Plugins) Lookup(et linkis.EngineType) (Plugin, error) {
	vs := p.byType[et.Type]
	if pl, ok := vs[et.Version]; ok {
		return pl, nil
	}
	if pl, ok := vs["*"]; ok {
		return pl, nil
	}
	if len(vs) == 0 {
		return Plugin{}, linkis.ValueError(linkis.ErrUnknownEngineType, linkis.LabelEngineType, et.String(), "no engine plugin for this type; known: "+p.knownTypes())
	}
	return Plugin{}, linkis.ValueError(linkis.ErrUnknownEngineType, linkis.LabelEngineType, et.String(), "no plugin for this version")
}

// ofType returns every plugin of an engine type, ordered by version.
func (p *Plugins) ofType(typ string) []Plugin {
	vs := make([]string, 0, len(p.byType[typ]))
	for v := range p.byType[typ] {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	out := make([]Plugin, len(vs))
	for i, v := range vs {
		out[i] = p.byType[typ][v]
	}
	return out
}

func (p *Plugins) knownTypes() string {
	ts := make([]string, 0, len(p.byType))
	for t := range p.byType {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	out := ""
	for i, t := range ts {
		if i > 0 {
			out += ", "
		}
		out += t
	}
	return out
}

// Startup parameters the standard resource factory reads.
const (
	ParamMemory    = "engineconn.memory"    // e.g. "512m", "2g"
	ParamCores     = "engineconn.cores"     // e.g. "1", "0.5", "500m"
	ParamExtraPref = "engineconn.resource." // engineconn.resource.gpu=1
)

// StandardResources is the resource factory of the built-in engines:
// memory and cores from ParamMemory/ParamCores (else the defaults), one
// instance, and extra dimensions from engineconn.resource.NAME.
type StandardResources struct {
	Memory     int64
	MilliCores int64
}

// Resource implements ResourceFactory.
func (f StandardResources) Resource(params map[string]string) (linkis.Resource, error) {
	r := linkis.Resource{Memory: f.Memory, MilliCores: f.MilliCores, Instances: 1}
	var err error
	if v, ok := params[ParamMemory]; ok {
		if r.Memory, err = linkis.ParseMemory(v); err != nil {
			return linkis.Resource{}, linkis.ValueError(linkis.ErrInvalidResource, ParamMemory, v, "must be a memory size like 512m or 2g")
		}
	}
	if v, ok := params[ParamCores]; ok {
		if r.MilliCores, err = linkis.ParseCores(v); err != nil {
			return linkis.Resource{}, linkis.ValueError(linkis.ErrInvalidResource, ParamCores, v, "must be cores like 1, 0.5 or 500m")
		}
	}
	var extra map[string]int64
	for _, k := range extraNames(params) {
		v := params[k]
		name, ok := strings.CutPrefix(k, ParamExtraPref)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return linkis.Resource{}, linkis.ValueError(linkis.ErrInvalidResource, k, v, "must be a non-negative integer")
		}
		if extra == nil {
			extra = map[string]int64{}
		}
		extra[name] = n
	}
	if extra != nil {
		if r.Extra, err = linkis.NewExtra(extra); err != nil {
			return linkis.Resource{}, err
		}
	}
	return r, r.Validate()
}

// extraNames returns, in order, the params that name extra dimensions
// (none, and no allocation, in the common case).
func extraNames(params map[string]string) []string {
	for k := range params {
		if strings.HasPrefix(k, ParamExtraPref) {
			return paramNames(params)
		}
	}
	return nil
}

// EngineConnCommand is the program ECMs run for built-in engines; the ECM
// resolves it to its own binary.
const EngineConnCommand = "linkis"

// StandardLauncher builds the launch request of the built-in engines:
// `linkis engineconn --ticket ec-N --engine TYPE-VERSION`, with the creation
// context in the environment.
type StandardLauncher struct{}

// Build implements LaunchBuilder.
func (StandardLauncher) Build(c LaunchContext) (LaunchRequest, error) {
	env := map[string]string{
		"LINKIS_TICKET":      c.Ticket.String(),
		"LINKIS_ENGINE_TYPE": c.EngineType.String(),
		"LINKIS_USER":        c.User,
		"LINKIS_ECM":         c.ECM,
		"LINKIS_LABELS":      c.Labels.String(),
		"LINKIS_MEMORY":      strconv.FormatInt(c.Resource.Memory, 10),
		"LINKIS_MILLICORES":  strconv.FormatInt(c.Resource.MilliCores, 10),
	}
	keys := paramNames(c.Params)
	args := []string{"engineconn", "--ticket", c.Ticket.String(), "--engine", c.EngineType.String()}
	for _, k := range keys {
		args = append(args, "--param", k+"="+c.Params[k])
	}
	return LaunchRequest{
		Ticket: c.Ticket, EngineType: c.EngineType, User: c.User,
		Command: EngineConnCommand, Args: args, Env: env,
		Resource: c.Resource, Labels: c.Labels,
	}, nil
}

// NoSecrets wraps a resource factory and refuses, naming the key, any
// start-up parameter that is a secret (linkis.IsSecretKey): ask params go
// into the manager's log and onto the engine's command line. An engine
// whose settings hold credentials (jdbc) gets them with each task instead.
type NoSecrets struct{ ResourceFactory }

// Resource implements ResourceFactory.
func (f NoSecrets) Resource(params map[string]string) (linkis.Resource, error) {
	for _, k := range paramNames(params) {
		if linkis.IsSecretKey(k) {
			return linkis.Resource{}, linkis.Errorf(linkis.ErrInvalidArgument, "params."+k,
				"a secret must not be an engine start-up parameter (the manager's log and the engine's command line would hold it): send it with the task")
		}
	}
	return f.ResourceFactory.Resource(params)
}

// DefaultPlugins returns the built-in engines: shell (any version), python
// (any version) and sql (SQLite, any version), all serial, and jdbc
// (PostgreSQL, MySQL, MariaDB; any version, Linkis's is jdbc-4), concurrent
// as Linkis's (10 tasks at once, each on a connection of the engine's pool;
// concurrentEngineConn changes it), refusing secrets as start-up params.
func DefaultPlugins() *Plugins {
	p := NewPlugins()
	for _, pl := range []Plugin{
		{Type: "shell", Version: "*", Concurrency: 1, Resources: StandardResources{Memory: 256 * linkis.MiB, MilliCores: 500}, Launcher: StandardLauncher{}},
		{Type: "python", Version: "*", Concurrency: 1, Resources: StandardResources{Memory: 512 * linkis.MiB, MilliCores: 1000}, Launcher: StandardLauncher{}},
		{Type: "sql", Version: "*", Concurrency: 1, Resources: StandardResources{Memory: 256 * linkis.MiB, MilliCores: 500}, Launcher: StandardLauncher{}},
		{Type: "jdbc", Version: "*", Concurrency: 10, Resources: NoSecrets{StandardResources{Memory: 256 * linkis.MiB, MilliCores: 500}}, Launcher: StandardLauncher{}},
	} {
		if err := p.Register(pl); err != nil {
			panic(err) // the built-ins are constants
		}
	}
	return p
}
