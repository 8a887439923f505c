// Package datasource is how jobs reach databases: the JDBC connection
// settings as Linkis names them (Settings, FromParams), the URLs the jdbc
// engine understands (ParseURL), the named data sources an administrator
// defines once (Set, Load), and the rule that keeps secrets out of
// everything that is stored, replicated or logged (linkis.IsSecretKey, Vault).
//
// It is shared by the orchestrator, which checks a job's settings and its
// right to a data source before any engine starts, and by the jdbc engine
// (engineconn/engines), which opens the connections. It imports nothing
// but the standard library and package linkis, does no I/O except Load
// reading its file, and never holds a driver.
//
// # Where secrets go
//
// A password must never reach the manager: ask parameters are written to
// the Raft log and become the engine's command line (`--param k=v`, visible
// in /proc/PID/cmdline to every local user). Nor the job record, which is
// persisted and (issue 11) replicated. So:
//
//   - Named data sources are server configuration (a JSON file, mode 0600,
//     like the users file); a job names one (wds.linkis.engine.runtime.datasource,
//     or `linkis run --datasource NAME`) and carries no credential. The
//     orchestrator checks the user against the data source's allowed users
//     when the job is submitted (refused before any engine starts), and puts
//     the credentials only into the task request it sends to the engine
//     (api.TaskRequest.Params, over the engine's task API behind the cluster
//     token), where the engine opens its pool lazily at the first task.
//   - An inline jdbc.password (Linkis style, in startup or runtime
//     configuration, or any secret: linkis.IsSecretKey, variables too) is
//     accepted, but the orchestrator replaces it in the request by a Vault
//     handle ("redacted:..." - the secret sealed with AES-256-GCM under a
//     key every member of the cluster derives from the cluster token, with
//     a random nonce, so the handle reveals nothing, not even that two
//     secrets are equal) before the entrance commits the job; any member
//     can open it to run the job, after a failover or a restart. A handle
//     is sealed for the job's user and the secret's key (the associated
//     data): whoever reads it in a record cannot use it in a job of their
//     own, nor under another key of the same user's job. A handle that
//     does not open (another cluster, a single process's own key from
//     before it restarted, another user or key) fails the job with a clear
//     error asking to submit again or to use a named data source.
//   - SIMPLE access (no password: the database trusts the engines' hosts)
//     is for named data sources only; inline settings may use neither it
//     nor a SIMPLE data source's server and user (Set.TrustedFor).
//   - A data source's name, a URL and a user name are not secrets; a URL
//     that carries a password (user:pass@host, ?password=) is refused, and
//     errors about a URL never quote it.
//
// # One engine, several pools
//
// The manager reuses an engine by its combined label (userCreator +
// engineType [+ tenant]); ask parameters and other labels do not separate
// engines (manager/appmanager.go). So an engine serves one user, never two,
// and may serve several of that user's data sources: it keeps one pool per
// data source, keyed by a digest of the full credentials (driver, URL,
// user, password, auth type), at most MaxPools of them, the least recently
// used idle one closed beyond that - which is also what Linkis's JDBC engine
// does (ConnectionManager keeps a DataSource per data source name or per
// URL and user). Two users' credentials never share an engine because two
// users never share an engine. Keying engines by data source would need the
// manager's key to take a plugin-declared parameter; that is the manager's
// call, and the engine needs no change for it.
package datasource
