package orchestrator

import (
	"maps"
	"strconv"

	"github.com/golinkis/golinkis/datasource"
	"github.com/golinkis/golinkis/linkis"
)

// Secrets and data sources (see package datasource for the design):
//
//   - RedactRequest replaces every secret of a request's configuration
//     (linkis.IsSecretKey: jdbc.password and the like) by a vault
//     handle. Check does it in place, first thing, so the request the
//     entrance persists - which shares Check's configuration maps - holds
//     handles only; errors about the request never see a secret either.
//     Jobs that become replicated records (issue 11) must go through it
//     before they are proposed.
//   - Secrets never become ask parameters: the converter moves secret keys
//     of the startup configuration, and every setting of the jdbc engine,
//     into the task's parameters, which travel only to the engine with the
//     task (the manager's log and the engine's command line never see
//     them).
//   - A jdbc job naming a data source (datasource.KeyDataSource) is checked
//     at Check against the data source's users, and may not set the URL,
//     user, password or auth type itself: the data source's password would
//     otherwise go to a server the job chose. Its credentials are put into
//     the task's parameters only when the task is sent.

// engineJDBC is the engine type of the jdbc engine.
const engineJDBC = "jdbc"

// RedactRequest replaces, in place, every secret value of req's startup
// and runtime configuration by its vault handle (keeping the secret in v)
// and returns how many it replaced. Handles are left as they are, so
// redacting twice changes nothing.
func RedactRequest(req *JobRequest, v *datasource.Vault) int {
	return v.RedactMap(req.Params.Configuration.Startup) + v.RedactMap(req.Params.Configuration.Runtime)
}

// Redact is RedactRequest with the orchestrator's vault: the handles it
// leaves are the ones Run reveals.
func (o *Orchestrator) Redact(req *JobRequest) int { return RedactRequest(req, o.vault) }

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
		return datasource.FromParams(task)
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
	p, err := o.vault.RevealMap(n.Unit.Params)
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
