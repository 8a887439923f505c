package orchestrator

import (
	"context"
	"maps"
	"slices"
	"strconv"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/datasource"
	"github.com/golinkis/golinkis/linkis"
)

// Secrets and data sources (see package datasource for the design):
//
//   - RedactRequest replaces every secret of a request's configuration
//     and variables (linkis.IsSecretKey: jdbc.password and the like) by a
//     vault handle, sealed for the job's user and the secret's key: a
//     handle copied into another user's job, or under another key, does
//     not open. Variables are revealed for the substitution only, into
//     the code sent to the engine; the task names the secrets it holds in
//     clear (api.TaskRequest.Scrub, taskScrub), and the engine masks them
//     in the task's log lines and error. Check does it in place, first thing, so the request the
//     entrance persists - which shares Check's configuration maps - holds
//     handles only; errors about the request never see a secret either.
//     Jobs that become replicated records (issue 11) must go through it
//     before they are proposed.
//   - Secrets never become ask parameters: the converter moves secret keys
//     of the startup configuration, and every setting of the jdbc engine,
//     into the task's parameters, which travel only to the engine with the
//     task (the manager's log and the engine's command line never see
//     them).
//   - Inline jdbc settings may not use SIMPLE (host-trusted) access, nor
//     reach a SIMPLE data source's server and user without being among its
//     users (inlineSettings).
//   - A jdbc job naming a data source (datasource.KeyDataSource) is checked
//     at Check against the data source's users, and may not set the URL,
//     user, password or auth type itself: the data source's password would
//     otherwise go to a server the job chose. Its credentials are put into
//     the task's parameters only when the task is sent.

// engineJDBC is the engine type of the jdbc engine.
const engineJDBC = "jdbc"

// RedactRequest replaces, in place, every secret value of user's request
// req - its startup and runtime configuration and its variables - by a
// vault handle sealed for user and the value's key (keeping the secret in
// v), and returns how many it replaced. Handles are left as they are, so
// redacting twice changes nothing; a handle opens only for the user and
// the key it was sealed for.
func RedactRequest(req *JobRequest, user string, v *datasource.Vault) int {
	return v.RedactMaps(user, req.Params.Configuration.Startup, req.Params.Configuration.Runtime, req.Params.Variable)
}

// Redact is RedactRequest with the orchestrator's vault: the handles it
// leaves are the ones Run reveals for the same user.
func (o *Orchestrator) Redact(user string, req *JobRequest) int {
	return RedactRequest(req, user, o.vault)
}

// splitParams returns the engine's start-up parameters (the ask's) and the
// task's: secret start-up keys, and every jdbc setting for the jdbc
// engine, go with the task; a task setting wins over a start-up one.
func splitParams(engineType string, startup, runtime map[string]string) (ask, task map[string]string) {
	task = runtime
	for k, v := range startup {
		if !linkis.IsSecretKey(k) && !(engineType == engineJDBC && datasource.IsJDBCKey(k)) {
			continue
		}
		if ask == nil {
			ask, task = maps.Clone(startup), maps.Clone(runtime)
			if task == nil {
				task = map[string]string{}
			}
		}
		delete(ask, k)
		if _, set := task[k]; !set {
			task[k] = v
		}
	}
	if ask == nil {
		ask = startup
	}
	return ask, task
}

// jdbcSettings resolves a jdbc task's connection settings for user: those
// of the data source it names (which user must be allowed), or its own.
// Secrets may still be vault handles (Check) or revealed (Run).
func (o *Orchestrator) jdbcSettings(user string, task map[string]string) (datasource.Settings, error) {
	name := task[datasource.KeyDataSource]
	if name == "" {
		return o.inlineSettings(user, task)
	}
	for k := range task {
		switch datasource.Canonical(k) {
		case datasource.KeyURL, datasource.KeyUsername, datasource.KeyPassword, datasource.KeyAuthType:
			return datasource.Settings{}, linkis.Errorf(linkis.ErrInvalidArgument, "params.configuration."+k,
				"must not be set with a data source (%s=%s): the data source says where and as whom to connect", datasource.KeyDataSource, name)
		}
	}
	s, err := o.cfg.DataSources.Lookup(name, user)
	if err != nil {
		return datasource.Settings{}, err
	}
	// The data source says where and as whom; the job may tune the pool
	// size, the row cap and the timeouts.
	p := maps.Clone(task)
	p[datasource.KeyURL], p[datasource.KeyUsername], p[datasource.KeyAuthType] = s.URL, s.Username, s.AuthType
	if s.Password != "" {
		p[datasource.KeyPassword] = s.Password
	}
	if !hasSetting(task, datasource.KeyConnectMax) {
		p[datasource.KeyConnectMax] = strconv.Itoa(s.ConnectMax)
	}
	return datasource.FromParams(p)
}

// inlineSettings are the connection settings a jdbc task gives itself.
// SIMPLE (no password: the database trusts the engine's host) is refused:
// the host's trust is the administrator's to give, through a data source
// and its users; inline, it was everyone's. So is reaching a SIMPLE data
// source's server as its user without being among its users: that server
// does not check the password given - under any spelling of its host
// (Set.TrustedFor compares addresses).
func (o *Orchestrator) inlineSettings(user string, task map[string]string) (datasource.Settings, error) {
	s, err := datasource.FromParams(task)
	if err != nil {
		return datasource.Settings{}, err
	}
	if s.AuthType == datasource.AuthSimple {
		return datasource.Settings{}, linkis.Errorf(linkis.ErrPermission, datasource.KeyAuthType,
			"SIMPLE (the database trusts this cluster's hosts, not the user) is only for a data source an administrator defines: name one (%s), or give %s and %s", datasource.KeyDataSource, datasource.KeyUsername, datasource.KeyPassword)
	}
	name, err := o.cfg.DataSources.TrustedFor(context.Background(), s, user) // bounded: datasource.ResolveTimeout
	if err != nil {
		return datasource.Settings{}, err
	}
	if name != "" {
		return datasource.Settings{}, linkis.Errorf(linkis.ErrPermission, datasource.KeyURL,
			"reaches the server and database user of data source %q, which user %q may not use (that server trusts this cluster's hosts and would not check a password)", name, user)
	}
	return s, nil
}

// hasSetting reports whether p sets a jdbc setting under either name.
func hasSetting(p map[string]string, key string) bool {
	for k := range p {
		if datasource.Canonical(k) == key {
			return true
		}
	}
	return false
}

// taskParams are the parameters a unit's task is sent with: secrets
// revealed and, for the jdbc engine, the connection settings resolved.
func (o *Orchestrator) taskParams(user string, n *ExecNode) (map[string]string, error) {
	p, err := o.vault.RevealMap(user, n.Unit.Params)
	if err != nil {
		return nil, err
	}
	et, _ := linkis.ParseEngineType(n.Labels[linkis.LabelEngineType])
	if et.Type != engineJDBC {
		return p, nil
	}
	s, err := o.jdbcSettings(user, p)
	if err != nil {
		return nil, err
	}
	for k, v := range s.Params() {
		p[k] = v
	}
	return p, nil
}

// minScrub is the shortest secret a task's engine masks: masking shorter
// values would garble the log for nothing worth the name of a secret.
const minScrub = 4

// taskScrub lists the secrets a unit's task holds in clear, for the engine
// to mask in the task's log lines and error (api.TaskRequest.Scrub): its
// secret settings (params, a data source's password included) and the
// job's secret variables, substituted into its code - a statement the
// engine logs, or a database error quoting it, would show them.
func (o *Orchestrator) taskScrub(spec *Spec, params map[string]string) []string {
	var out []string
	add := func(k, v string) {
		if linkis.IsSecretKey(k) && len(v) >= minScrub && len(v) <= api.MaxScrubBytes && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for k, v := range params {
		add(k, v)
	}
	for k, v := range withGlobals(spec.Globals, spec.Request.Params.Variable) {
		if linkis.IsSecretKey(k) {
			if s, err := o.vault.Reveal(spec.User, k, v); err == nil {
				add(k, s)
			}
		}
	}
	slices.Sort(out)
	if len(out) > api.MaxScrubValues {
		out = out[:api.MaxScrubValues]
	}
	return out
}
