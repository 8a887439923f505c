// Package engines holds the built-in engines of an EngineConn: shell
// (bash), python (one persistent python3 interpreter per EngineConn), sql
// (an embedded SQLite database per EngineConn, through the pure-Go
// modernc.org/sqlite) and echo (returns its code; the smallest engine, used
// to measure the runtime's own overhead and as the model of a new engine).
//
// Output: shell and python stdout becomes the task's log and a text result
// set (one row per line); stderr goes to the log. Python code may call
// linkis_progress(p) to report progress. SQL queries write table result
// sets with column names and types; other statements log rows affected.
//
// Each engine lives in its own file and touches no other: a new engine is a
// new file with a type implementing engineconn.Engine plus one line in
// Builtin (or a Register call from the program that embeds it).
//
// Engines must never outlive their session: every child process they start
// is in its own process group and killed with it, and Close waits for the
// goroutines that read from it. Children started with startPinned get
// SIGKILL from the kernel when the engine dies hard; the ECM kills the
// rest of the engine's session.
package engines

import "github.com/golinkis/golinkis/engineconn"

// Builtin returns a registry with the built-in engines.
func Builtin() *engineconn.Registry {
	r := engineconn.NewRegistry()
	for _, e := range []struct {
		name string
		eng  engineconn.Engine
	}{
		{"shell", Shell{}},
		{"python", Python{}},
		{"sql", SQL{}},
		{"echo", Echo{}},
	} {
		if err := r.Register(e.name, e.eng); err != nil {
			panic(err) // the built-in names are constants
		}
	}
	return r
}
