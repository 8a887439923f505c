package orchestrator

import (
	"strings"

	"github.com/golinkis/golinkis/datasource"
	"github.com/golinkis/golinkis/linkis"
)

// engineLabels maps the built-in engines' short names to their
// engineType labels (the plugins accept any version; these are the ones
// Linkis users write).
var engineLabels = map[string]string{
	"shell":  "shell-1",
	"python": "python-3",
	"sql":    "sql-1",
	"jdbc":   "jdbc-4",
}

// EngineNames lists the short engine names EngineLabel knows.
const EngineNames = "shell, python, sql or jdbc"

// EngineLabel returns the engineType label of an engine name: shell →
// shell-1, python → python-3, sql → sql-1, jdbc → jdbc-4 (as Linkis names
// it). A name that already is a
// type-version label (python-3.11) is returned as it is once valid.
// Anything else is linkis.ErrUnknownEngineType.
func EngineLabel(name string) (string, error) {
	if l, ok := engineLabels[name]; ok {
		return l, nil
	}
	if strings.Contains(name, "-") {
		if _, err := linkis.ParseEngineType(name); err != nil {
			return "", err
		}
		return name, nil
	}
	return "", linkis.ValueError(linkis.ErrUnknownEngineType, "engine", name, "want "+EngineNames+", or a type-version label")
}

// RequestSpec is what a command line says about a job.
type RequestSpec struct {
	Engine  string            // a name EngineLabel accepts
	Code    string            // the code to run
	User    string            // the submitting user (the user of userCreator)
	Creator string            // the creator of userCreator (default "IDE")
	Vars    map[string]string // ${name} substitutions
	Labels  map[string]string // further labels; engineType and userCreator here override
	Source  string            // where the code came from (a file name), kept as source.scriptPath
	// DataSource names a data source of the server's configuration (the
	// runtime setting wds.linkis.engine.runtime.datasource), for the jdbc
	// engine.
	DataSource string
}

// NewRequest builds a Linkis job request from a command line's words.
func NewRequest(s RequestSpec) (JobRequest, error) {
	et, err := EngineLabel(s.Engine)
	if err != nil {
		return JobRequest{}, err
	}
	if s.Code == "" {
		return JobRequest{}, linkis.Errorf(linkis.ErrInvalidArgument, "code", "empty: give the code to run")
	}
	if s.Creator == "" {
		s.Creator = "IDE"
	}
	req := JobRequest{
		ExecutionContent: ExecutionContent{Code: s.Code},
		Labels:           map[string]string{linkis.LabelEngineType: et, linkis.LabelUserCreator: s.User + "-" + s.Creator},
	}
	for k, v := range s.Labels {
		req.Labels[k] = v
	}
	if len(s.Vars) > 0 {
		req.Params.Variable = Values{}
		for k, v := range s.Vars {
			req.Params.Variable[k] = v
		}
	}
	if s.Source != "" {
		req.Source = Values{"scriptPath": s.Source}
	}
	if s.DataSource != "" {
		req.Params.Configuration.Runtime = Values{datasource.KeyDataSource: s.DataSource}
	}
	return req, nil
}
