package orchestrator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// JobRequest is a job as Linkis clients submit it
// (POST /api/rest_j/v1/entrance/submit):
//
//	{"executionContent": {"code": "show tables", "runType": "sql"},
//	 "params": {"variable": {"k": "v"}, "configuration": {"startup": {}, "runtime": {}}},
//	 "source": {"scriptPath": "file:///1.sql"},
//	 "labels": {"engineType": "sql-1", "userCreator": "alice-IDE"}}
type JobRequest struct {
	ExecutionContent ExecutionContent `json:"executionContent"`
	Params           Params           `json:"params"`
	// Source records where the code came from (e.g. scriptPath); kept,
	// never interpreted.
	Source Values `json:"source,omitempty"`
	// Labels route the job: engineType and userCreator are required;
	// tenant, yarnCluster, emInstance and the strategy labels are optional.
	Labels map[string]string `json:"labels"`
	// SubmitUser is who submitted the job when it is not the user it runs
	// as: an administrator's submission as another user (Linkis's proxy
	// user, executeUser). Set by the REST API from the login, never from a
	// request's body; empty when the user submitted it.
	SubmitUser string `json:"submitUser,omitempty"`
}

// ExecutionContent is the code to run and its run type ("sh", "py",
// "sql", ...; empty: the engine type's own).
type ExecutionContent struct {
	Code    string `json:"code"`
	RunType string `json:"runType,omitempty"`
}

// Params are the job's variables and its engine configuration.
type Params struct {
	// Variable are the user's ${name} substitutions.
	Variable      Values        `json:"variable,omitempty"`
	Configuration Configuration `json:"configuration,omitempty"`
}

// Configuration is what Linkis calls startup (engine creation) and runtime
// (per task) configuration.
type Configuration struct {
	Startup Values `json:"startup,omitempty"`
	Runtime Values `json:"runtime,omitempty"`
}

// Values is a map of scalar settings. Linkis clients send strings, numbers
// and booleans alike; all are kept as their text. Objects, arrays and null
// are refused, naming the key.
type Values map[string]string

// UnmarshalJSON accepts an object of scalars.
func (v *Values) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*v = nil
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("want an object of strings, numbers or booleans: %w", err)
	}
	out := make(Values, len(raw))
	for k, r := range raw {
		s, err := scalar(r)
		if err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
		out[k] = s
	}
	*v = out
	return nil
}

func scalar(r json.RawMessage) (string, error) {
	r = bytes.TrimSpace(r)
	if len(r) == 0 {
		return "", fmt.Errorf("empty value")
	}
	switch r[0] {
	case '"':
		var s string
		err := json.Unmarshal(r, &s)
		return s, err
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(r, &b); err != nil {
			return "", err
		}
		return strconv.FormatBool(b), nil
	case '{', '[', 'n':
		return "", fmt.Errorf("want a string, number or boolean, got %.20s", r)
	default:
		var n json.Number
		if err := json.Unmarshal(r, &n); err != nil {
			return "", err
		}
		return n.String(), nil
	}
}
