// Package engines holds the built-in engines of an EngineConn: shell
// (bash: by default each task is a subshell of one long-lived bash, see
// Shell), python (one persistent python3 interpreter per EngineConn), sql
// (an embedded SQLite database per EngineConn, through the pure-Go
// modernc.org/sqlite), jdbc (PostgreSQL, MySQL and MariaDB servers, see
// JDBC) and echo (returns its code; the smallest engine, used to measure the
// runtime's own overhead and as the model of a new engine).
//
// Output: shell and python stdout becomes the task's log and a text result
// set (one row per line); stderr goes to the log. Python code may call
// linkis_progress(p) to report progress. SQL queries write table result
// sets with column names and types; other statements log rows affected.
//
// Each engine lives in its own file (jdbc in jdbc*.go) and touches no
// other: a new engine is a new file with a type implementing
// engineconn.Engine plus one line in Builtin (or a Register call from the
// program that embeds it). The SQL engines share the statement splitter
// (sqlsplit.go), which knows each dialect's quoting and comments.
//
// Shell modes: in session mode (the default, Shell{} or the engine
// parameter shell.mode=session) a task is a subshell of a bash that lives
// as long as the engine, one bash per task running at once: a fork rather
// than a new bash process (BenchmarkShellTask on a 2-core VM: about 0.7 ms
// of bash CPU per trivial task rather than 1.4 ms, 1 ms p50 rather than
// 1.8 ms), with the same isolation (directory, variables, options, exit,
// set -e stay in the task), the same output, log, result set and errors,
// and the same kill (the task's process group). What differs is what
// differs in any subshell: $$ is the long-lived bash's pid (a task that
// kills it fails, and the next task gets a new bash; $BASHPID is the
// task's own), and a syntax error is reported by "eval"; and a process
// that left the task's process group (setsid) while holding its output
// may write into a later task's output, where process mode drops it. Each
// idle shell engine keeps its bash (some 0.4 MB PSS). In process mode
// (shell.mode=process) each task is a bash process of its own. Code over
// 64 KiB runs as a process of its own in both modes.
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
		{"jdbc", JDBC{}},
	} {
		if err := r.Register(e.name, e.eng); err != nil {
			panic(err) // the built-in names are constants
		}
	}
	return r
}
