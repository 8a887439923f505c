package restapi

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator/admin"
)

// The configuration tree and the global variables, as Linkis's
// ConfigurationRestfulApi and VariableRestfulApi serve them. A level is
// (user, creator, engine type): the caller by default (an administrator
// may name another user, or "*" for every user, with the "user"
// parameter, an addition); creator "*" and engine type "*" are Linkis's
// global settings.

// globalSettings are the names Linkis's console gives the level of every
// creator and engine type.
var globalSettings = []string{"GlobalSettings", "全局设置", "通用设置"}

// levelOf builds a level from Linkis's parameters: engineType and version
// ("*" or absent: any), creator ("*" or absent: any).
func levelOf(user, creator, engineType, version string) (manager.ConfLevel, error) {
	l := manager.ConfLevel{User: user, Creator: cmpOr(creator, "*"), EngineType: cmpOr(engineType, "*")}
	if slices.Contains(globalSettings, creator) {
		return manager.ConfLevel{User: user, Creator: "*", EngineType: "*"}, nil
	}
	switch {
	case l.EngineType == "*" && version != "" && version != "*":
		return l, linkis.ValueError(linkis.ErrInvalidArgument, "version", clip(version), "when engineType is any engine, the version must also be any version")
	case strings.Contains(l.EngineType, "-"):
		// saveFullTree's "type-version".
	case version != "" && version != "*" && l.EngineType != "*":
		l.EngineType += "-" + version
	}
	return l, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// levelUser is the user a configuration call is about: the "user"
// parameter, else the caller.
func levelUser(c admin.Caller, named string) string {
	if named == "" {
		return c.User
	}
	return named
}

// keyValueOf describes a setting with Linkis's names.
func keyValueOf(s manager.ConfSetting, engineType string) ConfigKeyValue {
	kv := ConfigKeyValue{Key: s.Key, Name: s.Name, Description: s.Description, EngineType: engineType, DefaultValue: s.Default,
		TreeName: s.Tree, Level: 1, ConfigValue: s.Value, Unit: s.Kind.String(), ValueInForce: cmpOr(s.InForce, s.Default)}
	if s.InForce != "" {
		kv.ValueFrom = s.From.String()
	}
	switch s.Kind {
	case manager.ConfCount:
		kv.ValidateType, kv.ValidateRange = "NumInterval", "["+strconv.FormatInt(s.Min, 10)+","+strconv.FormatInt(s.Max, 10)+"]"
	case manager.ConfMemory:
		kv.ValidateType, kv.ValidateRange = "Regex", `^[0-9]+(\.[0-9]+)?[kKmMgGtT]([iI]?[bB])?$`
	case manager.ConfCores:
		kv.ValidateType, kv.ValidateRange = "Regex", `^[0-9]+(\.[0-9]+)?m?$`
	case manager.ConfDuration:
		kv.ValidateType, kv.ValidateRange = "Regex", `^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	}
	return kv
}

func (h *handler) fullTree(_ http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	qs := r.URL.Query()
	l, err := levelOf(levelUser(c, qs.Get("user")), qs.Get("creator"), qs.Get("engineType"), qs.Get("version"))
	if err != nil {
		return &reply{err: err}
	}
	settings, err := h.cfg.Operations.ConfigTree(readCtx(r), c, l)
	if err != nil {
		return &reply{err: err}
	}
	d := FullTreeData{FullTree: []ConfigTree{}}
	at := map[string]int{}
	for _, s := range settings {
		i, ok := at[s.Tree]
		if !ok {
			i = len(d.FullTree)
			at[s.Tree] = i
			d.FullTree = append(d.FullTree, ConfigTree{Name: s.Tree, Description: treeDescriptions[s.Tree]})
		}
		d.FullTree[i].Settings = append(d.FullTree[i].Settings, keyValueOf(s, l.EngineType))
	}
	return &reply{data: d}
}

var treeDescriptions = map[string]string{
	manager.TreeQueue:  "limits of the engines of a user and creator, and of their running jobs",
	manager.TreeEngine: "startup parameters of the next engines",
}

// saveFullTreeRequest is saveFullTree's body: every setting with its
// value; an empty value removes the level's own.
type saveFullTreeRequest struct {
	Creator    string `json:"creator"`
	EngineType string `json:"engineType"` // "type-version"
	User       string `json:"user"`
	FullTree   []struct {
		Name     string `json:"name"`
		Settings []struct {
			Key         string `json:"key"`
			ConfigValue string `json:"configValue"`
		} `json:"settings"`
	} `json:"fullTree"`
}

func (h *handler) saveFullTree(w http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	var req saveFullTreeRequest
	if rep := h.body(w, r, &req); rep != nil {
		return rep
	}
	if req.EngineType != "" && req.EngineType != "*" && strings.Count(req.EngineType, "-") != 1 {
		return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "engineType", clip(req.EngineType), "must be type-version, e.g. shell-1")}
	}
	l, err := levelOf(levelUser(c, req.User), req.Creator, req.EngineType, "")
	if err != nil {
		return &reply{err: err}
	}
	set := map[string]string{}
	var remove []string
	for _, t := range req.FullTree {
		for _, s := range t.Settings {
			if _, dup := set[s.Key]; dup || slices.Contains(remove, s.Key) {
				return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "key", clip(s.Key), "given twice")}
			}
			if s.ConfigValue == "" {
				remove = append(remove, s.Key)
			} else {
				set[s.Key] = s.ConfigValue
			}
		}
	}
	if err := h.cfg.Operations.SetConfig(r.Context(), c, l, set, remove); err != nil {
		return &reply{err: err}
	}
	return &reply{data: map[string]any{}}
}

// keyValueRequest is keyvalue's POST and DELETE body.
type keyValueRequest struct {
	EngineType  string `json:"engineType"`
	Version     string `json:"version"`
	Creator     string `json:"creator"`
	ConfigKey   string `json:"configKey"`
	ConfigValue string `json:"configValue"`
	User        string `json:"user"`
}

func (h *handler) keyValue(w http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	var req keyValueRequest
	if r.Method == http.MethodGet {
		qs := r.URL.Query()
		req = keyValueRequest{EngineType: qs.Get("engineType"), Version: qs.Get("version"), Creator: qs.Get("creator"),
			ConfigKey: qs.Get("configKey"), User: qs.Get("user")}
	} else if rep := h.body(w, r, &req); rep != nil {
		return rep
	}
	if req.ConfigKey == "" {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "configKey", "key cannot be empty")}
	}
	l, err := levelOf(levelUser(c, req.User), req.Creator, req.EngineType, req.Version)
	if err != nil {
		return &reply{err: err}
	}
	value := func() (ConfigValue, bool, *reply) {
		settings, err := h.cfg.Operations.ConfigTree(readCtx(r), c, l)
		if err != nil {
			return ConfigValue{}, false, &reply{err: err}
		}
		for _, s := range settings {
			if s.Key == req.ConfigKey && s.Value != "" {
				return ConfigValue{ConfigKey: s.Key, ConfigValue: s.Value, LabelValue: l.String()}, true, nil
			}
		}
		return ConfigValue{}, false, nil
	}
	switch r.Method {
	case http.MethodGet:
		v, ok, rep := value()
		if rep != nil {
			return rep
		}
		d := map[string][]ConfigValue{"configValues": {}}
		if ok {
			d["configValues"] = []ConfigValue{v}
		}
		return &reply{data: d}
	case http.MethodPost:
		if req.ConfigValue == "" {
			return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "configValue", "key or value cannot be empty")}
		}
		if err := h.cfg.Operations.SetConfig(r.Context(), c, l, map[string]string{req.ConfigKey: req.ConfigValue}, nil); err != nil {
			return &reply{err: err}
		}
		return &reply{data: map[string]ConfigValue{"configValue": {ConfigKey: req.ConfigKey, ConfigValue: req.ConfigValue, LabelValue: l.String()}}}
	}
	old, had, rep := value()
	if rep != nil {
		return rep
	}
	if err := h.cfg.Operations.SetConfig(r.Context(), c, l, nil, []string{req.ConfigKey}); err != nil {
		return &reply{err: err}
	}
	d := map[string][]ConfigValue{"configValues": {}}
	if had {
		d["configValues"] = []ConfigValue{old}
	}
	return &reply{data: d}
}

func (h *handler) category(_ http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	ctx := readCtx(r)
	levels, err := h.cfg.Operations.ConfigLevels(ctx, c)
	if err != nil {
		return &reply{err: err}
	}
	types, err := h.cfg.Operations.EngineTypes(ctx)
	if err != nil {
		return &reply{err: err}
	}
	creators := []string{"IDE"}
	for _, l := range levels {
		if l.Creator != "*" && !slices.Contains(creators, l.Creator) {
			creators = append(creators, l.Creator)
		}
	}
	slices.Sort(creators)
	d := CategoryData{Category: []Category{{CategoryName: globalSettings[0], Description: "every creator and engine type", Level: 1, ChildCategory: []Category{}}}}
	for _, cr := range creators {
		cat := Category{CategoryName: cr, Level: 1}
		for _, t := range types {
			cat.ChildCategory = append(cat.ChildCategory, Category{CategoryName: t, Level: 2, ChildCategory: []Category{}})
		}
		d.Category = append(d.Category, cat)
	}
	return &reply{data: d}
}

func (h *handler) listVariables(_ http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	vars, err := h.cfg.Operations.Variables(readCtx(r), c, levelUser(c, r.URL.Query().Get("user")))
	if err != nil {
		return &reply{err: err}
	}
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	slices.Sort(names)
	d := GlobalVariablesData{GlobalVariables: make([]GlobalVariable, len(names))}
	for i, k := range names {
		d.GlobalVariables[i] = GlobalVariable{KeyID: int64(i + 1), Key: k, ValueID: int64(i + 1), Value: vars[k]}
	}
	return &reply{data: d}
}

func (h *handler) saveVariables(w http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	var req GlobalVariablesData
	if rep := h.body(w, r, &req); rep != nil {
		return rep
	}
	vars := make(map[string]string, len(req.GlobalVariables))
	for _, v := range req.GlobalVariables {
		if _, dup := vars[v.Key]; dup {
			return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "key", clip(v.Key), "given twice")}
		}
		vars[v.Key] = v.Value
	}
	if err := h.cfg.Operations.SetVariables(r.Context(), c, levelUser(c, req.User), vars); err != nil {
		return &reply{err: err}
	}
	return &reply{data: map[string]any{}}
}
