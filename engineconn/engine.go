package engineconn

import (
	"context"
	"sort"
	"strings"
	"sync"

	"github.com/golinkis/golinkis/linkis"
)

// Context is the creation context an engine opens its session with: who
// the engine is for and where it may write. It is read-only.
type Context struct {
	Ticket     string // "ec-N"
	EngineType linkis.EngineType
	User       string
	Labels     linkis.Labels
	Params     map[string]string // startup parameters (the ask's, merged by the manager)
	WorkDir    string            // the engine's own directory; materials are here
	LogDir     string
	ResultDir  string
}

// Engine opens sessions of one engine type. Implementations register with
// a Registry under their type name.
type Engine interface {
	// Open starts the engine session of one EngineConn (a shell, an
	// interpreter, a database connection). It is called once per process.
	Open(ctx context.Context, c *Context) (Session, error)
}

// Session is one live engine session. Run is called for every task, from
// as many goroutines at once as the executor admits; a session that can
// only run one task at a time serialises inside Run.
type Session interface {
	// Run executes one task. ctx is cancelled when the task is killed or
	// the engine shuts down; Run must then return promptly. An error
	// makes the task ERROR (CANCEL if ctx was cancelled).
	Run(ctx context.Context, t *Task) error
	// Close ends the session and releases what it holds (child
	// processes, files). It is called once, after every Run returned.
	Close() error
}

// Registry maps engine type names to engines. The zero value is not ready:
// use NewRegistry. It is safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	engines map[string]Engine
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{engines: map[string]Engine{}} }

// Register adds an engine under a type name (the part of engineType before
// the first '-'). A second engine under one name is an ErrDuplicate.
func (r *Registry) Register(typ string, e Engine) error {
	if _, err := linkis.ParseEngineType(typ + "-0"); err != nil {
		return err
	}
	if e == nil {
		return linkis.Errorf(linkis.ErrInvalidArgument, "engine "+typ, "nil engine")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.engines[typ]; dup {
		return linkis.ValueError(linkis.ErrDuplicate, "engine", typ, "already registered")
	}
	r.engines[typ] = e
	return nil
}

// Lookup returns the engine of a type, or an ErrUnknownEngineType naming
// the types it knows.
func (r *Registry) Lookup(typ string) (Engine, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e, ok := r.engines[typ]; ok {
		return e, nil
	}
	names := make([]string, 0, len(r.engines))
	for n := range r.engines {
		names = append(names, n)
	}
	sort.Strings(names)
	return nil, linkis.ValueError(linkis.ErrUnknownEngineType, linkis.LabelEngineType, typ,
		"no engine of this type in this EngineConn; known: "+strings.Join(names, ", "))
}
