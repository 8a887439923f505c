package restapi

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

// The bodies Linkis's clients submit jobs with, translated here into the
// orchestrator's JobRequest (the core never sees them):
//
//	POST entrance/submit (linkis-cli, the SDK's JobSubmitAction, Scriptis):
//	  {"executeUser": "alice", "executionContent": {"code": "...", "runType": "sql"},
//	   "params": {"variable": {...}, "configuration": {"startup": {...}, "runtime": {...}, "special": {...}}},
//	   "source": {"scriptPath": "..."}, "labels": {"engineType": "sql-1", "userCreator": "alice-IDE", "executeOnce": "", ...}}
//	POST entrance/execute (the SDK's JobExecuteAction, older consoles):
//	  {"executeApplicationName": "shell", "runType": "sh", "requestApplicationName": "IDE",
//	   "executionCode": "...", "scriptPath": "...", "params": {...}, "source": {...}}

// linkisSubmit is the body of entrance/submit, loosely typed as Linkis's
// clients fill it.
type linkisSubmit struct {
	ExecuteUser      string                     `json:"executeUser"`
	ExecutionContent map[string]json.RawMessage `json:"executionContent"`
	Params           *linkisParams              `json:"params"`
	Source           map[string]json.RawMessage `json:"source"`
	Labels           map[string]json.RawMessage `json:"labels"`
}

// linkisExecute is the body of entrance/execute.
type linkisExecute struct {
	ExecuteApplicationName string                     `json:"executeApplicationName"`
	RunType                string                     `json:"runType"`
	RequestApplicationName string                     `json:"requestApplicationName"`
	ExecutionCode          string                     `json:"executionCode"`
	ScriptPath             string                     `json:"scriptPath"`
	Params                 *linkisParams              `json:"params"`
	Source                 map[string]json.RawMessage `json:"source"`
	Labels                 map[string]json.RawMessage `json:"labels"`
	ExecuteUser            string                     `json:"executeUser"`
}

type linkisParams struct {
	Variable      map[string]json.RawMessage `json:"variable"`
	Configuration *struct {
		Startup map[string]json.RawMessage `json:"startup"`
		Runtime map[string]json.RawMessage `json:"runtime"`
		// Special holds settings for Linkis's own services; read and
		// ignored.
		Special map[string]json.RawMessage `json:"special"`
	} `json:"configuration"`
}

// settings turns a map of Linkis settings into Values: strings, numbers
// and booleans as their text, arrays and objects as their compact JSON
// (linkis-cli sends extraArguments as an array), nulls dropped. Unknown
// keys are carried: an engine reads what it knows.
func settings(field string, m map[string]json.RawMessage) (orchestrator.Values, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := orchestrator.Values{}
	for k, raw := range m {
		v, ok, err := settingText(raw)
		if err != nil {
			return nil, linkis.ValueError(linkis.ErrInvalidArgument, field+"."+k, "", err.Error())
		}
		if ok {
			out[k] = v
		}
	}
	return out, nil
}

// settingText is the text of one setting; ok is false for null.
func settingText(raw json.RawMessage) (string, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", false, nil
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err == nil, err
	case '{', '[':
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return "", false, err
		}
		return b.String(), true, nil
	default:
		return string(raw), true, nil // a number or a boolean, as written
	}
}

// labelsOf reads Linkis's labels: an empty value means what it means in
// Linkis - executeOnce's presence asks for it, any other label with no
// value is not set - and null is not set either. Numbers and booleans are
// their text; objects and arrays are refused.
//
// Linkis's executeOnce on an interactive job (linkis-cli sends it by
// default) asks for an engine of the job's own, which no other job shares;
// it is reuseExclusion=* here. (Our executeOnce label is the engine mode
// that runs one job given at start-up, which an interactive job is not.)
func labelsOf(m map[string]json.RawMessage) (map[string]string, error) {
	out := map[string]string{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		raw := bytes.TrimSpace(m[k])
		if len(raw) > 0 && (raw[0] == '{' || raw[0] == '[') {
			return nil, linkis.ValueError(linkis.ErrInvalidLabel, k, "", "a label's value is a string, not an object or array")
		}
		v, ok, err := settingText(raw)
		if err != nil {
			return nil, linkis.ValueError(linkis.ErrInvalidLabel, k, "", err.Error())
		}
		switch {
		case k == linkis.LabelExecuteOnce:
			if !ok || v == "" || v == "true" {
				out[linkis.LabelReuseExclusion] = "*"
			} else if v != "false" {
				out[k] = v // let the label parser say what is wrong
			}
		case ok && v != "":
			out[k] = v
		}
	}
	return out, nil
}

func (p *linkisParams) into(req *orchestrator.JobRequest) error {
	if p == nil {
		return nil
	}
	for k, raw := range p.Variable {
		if raw = bytes.TrimSpace(raw); len(raw) > 0 && (raw[0] == '{' || raw[0] == '[') {
			return linkis.ValueError(linkis.ErrInvalidArgument, "params.variable", k, "a variable is a string, number or boolean: it is substituted into the code")
		}
	}
	var err error
	if req.Params.Variable, err = settings("params.variable", p.Variable); err != nil {
		return err
	}
	if c := p.Configuration; c != nil {
		if req.Params.Configuration.Startup, err = settings("params.configuration.startup", c.Startup); err != nil {
			return err
		}
		if req.Params.Configuration.Runtime, err = settings("params.configuration.runtime", c.Runtime); err != nil {
			return err
		}
	}
	return nil
}

// submitRequest translates an entrance/submit body. The runType comes
// from executionContent, else from the codeType label (linkis-cli puts it
// there).
func submitRequest(body []byte) (orchestrator.JobRequest, string, error) {
	var b linkisSubmit
	if err := api.Decode(body, &b); err != nil {
		return orchestrator.JobRequest{}, "", err
	}
	var req orchestrator.JobRequest
	for k, dst := range map[string]*string{"code": &req.ExecutionContent.Code, "runType": &req.ExecutionContent.RunType} {
		raw, ok := b.ExecutionContent[k]
		if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return req, "", linkis.Errorf(linkis.ErrInvalidArgument, "executionContent."+k, "must be a JSON string")
		}
	}
	var err error
	if req.Labels, err = labelsOf(b.Labels); err != nil {
		return req, "", err
	}
	if req.ExecutionContent.RunType == "" {
		req.ExecutionContent.RunType = req.Labels[linkis.LabelCodeType]
	}
	if err := b.Params.into(&req); err != nil {
		return req, "", err
	}
	if req.Source, err = settings("source", b.Source); err != nil {
		return req, "", err
	}
	return req, b.ExecuteUser, nil
}

// executeRequest translates an entrance/execute body for user: the
// engine type from executeApplicationName (shell → shell-1, a
// type-version as it is), the creator from requestApplicationName.
func executeRequest(body []byte, user string) (orchestrator.JobRequest, string, error) {
	var b linkisExecute
	if err := api.Decode(body, &b); err != nil {
		return orchestrator.JobRequest{}, "", err
	}
	var req orchestrator.JobRequest
	if b.ExecuteApplicationName == "" {
		return req, "", linkis.Errorf(linkis.ErrMissingLabel, "executeApplicationName", "required: the engine type, e.g. shell or python")
	}
	et, err := orchestrator.EngineLabel(b.ExecuteApplicationName)
	if err != nil {
		return req, "", err
	}
	if b.RequestApplicationName == "" {
		return req, "", linkis.Errorf(linkis.ErrMissingLabel, "requestApplicationName", "required: the creator, e.g. IDE")
	}
	if req.Labels, err = labelsOf(b.Labels); err != nil {
		return req, "", err
	}
	as := user
	if b.ExecuteUser != "" {
		as = b.ExecuteUser
	}
	req.Labels[linkis.LabelEngineType] = et
	if _, ok := req.Labels[linkis.LabelUserCreator]; !ok {
		req.Labels[linkis.LabelUserCreator] = as + "-" + b.RequestApplicationName
	}
	req.ExecutionContent = orchestrator.ExecutionContent{Code: b.ExecutionCode, RunType: b.RunType}
	if err := b.Params.into(&req); err != nil {
		return req, "", err
	}
	if req.Source, err = settings("source", b.Source); err != nil {
		return req, "", err
	}
	if b.ScriptPath != "" {
		if req.Source == nil {
			req.Source = orchestrator.Values{}
		}
		req.Source["scriptPath"] = b.ScriptPath
	}
	return req, b.ExecuteUser, nil
}

// formatID is strconv.FormatInt for the envelopes' ids.
func formatID(n int64) string { return strconv.FormatInt(n, 10) }
