package restapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The management API from Go: one method per call, answering Linkis's
// shapes (manage_types.go). Errors are as for the job calls: a
// *linkis.Error of the server's kind (linkis.ErrPermission for what the
// caller may not do) or a *RemoteError.

// ECMQuery selects ECMs for ListECMs; zero fields select everything, a
// zero page size means every ECM.
type ECMQuery struct {
	Instance, NodeHealthy, Owner, TenantLabel string
	Labels                                    string // "k=v,k2=v2"
	PageNow, PageSize                         int
}

// ListECMs lists ECMs (listAllEMs).
func (c *Client) ListECMs(ctx context.Context, q ECMQuery) (ListEMsData, error) {
	v := query("instance", q.Instance, "nodeHealthy", q.NodeHealthy, "owner", q.Owner, "tenantLabel", q.TenantLabel, "labels", q.Labels)
	setPage(v, "pageNow", "pageSize", q.PageNow, q.PageSize)
	var d ListEMsData
	err := c.do(ctx, http.MethodGet, PathListEMs, v, nil, &d)
	return d, err
}

// query holds the parameters of name/value pairs that are not empty.
func query(pairs ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			v.Set(pairs[i], pairs[i+1])
		}
	}
	return v
}

func setPage(v url.Values, pageName, sizeName string, page, size int) {
	if page > 0 {
		v.Set(pageName, strconv.Itoa(page))
	}
	if size > 0 {
		v.Set(sizeName, strconv.Itoa(size))
	}
}

// ModifyECM sets an ECM's health (emStatus: UnHealthy drains it, Healthy
// lifts that) and, when labels is not nil, replaces its labels
// (modifyEMInfo).
func (c *Client) ModifyECM(ctx context.Context, instance, emStatus string, labels []Label) error {
	body := map[string]any{"applicationName": AppECM, "instance": instance}
	if emStatus != "" {
		body["emStatus"] = emStatus
	}
	if labels != nil {
		body["labels"] = labels
	}
	return c.do(ctx, http.MethodPut, PathModifyEM, nil, body, nil)
}

// EngineQuery selects live engines for ListEngines: an ECM's
// (listEMEngines), given users' (ecList), or the caller's own
// (listUserEngines) when neither is given.
type EngineQuery struct {
	ECM               string
	Users             []string
	EngineTypes       []string
	Statuses          []string
	PageNow, PageSize int
}

// ListEngines lists live engines.
func (c *Client) ListEngines(ctx context.Context, q EngineQuery) (EnginesData, error) {
	var d EnginesData
	switch {
	case q.ECM != "":
		body := map[string]any{"em": map[string]any{"serviceInstance": map[string]string{"applicationName": AppECM, "instance": q.ECM}}}
		if len(q.Users) == 1 {
			body["owner"] = q.Users[0]
		}
		if len(q.EngineTypes) == 1 {
			body["engineType"] = q.EngineTypes[0]
		}
		if len(q.Statuses) == 1 {
			body["nodeStatus"] = q.Statuses[0]
		}
		setBodyPage(body, q.PageNow, q.PageSize)
		err := c.do(ctx, http.MethodPost, PathEMEngines, nil, body, &d)
		return d, err
	case len(q.Users) > 0:
		body := map[string]any{"creators": q.Users, "engineTypes": q.EngineTypes, "statuss": q.Statuses}
		setBodyPage(body, q.PageNow, q.PageSize)
		var l ECListData
		if err := c.do(ctx, http.MethodPost, PathECList, nil, body, &l); err != nil {
			return d, err
		}
		d.Total = l.Total
		for _, e := range l.ECList {
			d.Engines = append(d.Engines, EngineNode{Instance: e.Instance, NodeStatus: e.InstanceStatus, Owner: e.Owner, TicketID: e.TicketID,
				EMInstance: e.ECMInstance, EngineType: e.EngineType, MaxResource: e.UseResource, StartTime: e.CreateTime, LastSeen: e.UpdateTime})
		}
		return d, nil
	}
	err := c.do(ctx, http.MethodGet, PathUserEngines, nil, nil, &d)
	return d, err
}

func setBodyPage(body map[string]any, page, size int) {
	if page > 0 {
		body["pageNow"] = page
	}
	if size > 0 {
		body["pageSize"] = size
	}
}

// EngineInfo returns an engine's record, live or ended (ecinfo/get), by
// ticket or address.
func (c *Client) EngineInfo(ctx context.Context, ticket string) (ECRecordData, error) {
	var d ECRecordData
	err := c.do(ctx, http.MethodGet, PathECInfo, url.Values{"ticketid": {ticket}}, nil, &d)
	return d, err
}

// HistoryQuery selects ended engines for EngineHistory; dates are
// "yyyy-MM-dd HH:mm:ss" or Unix milliseconds ("" : today from midnight).
type HistoryQuery struct {
	Creator, Instance, EngineType, StartDate, EndDate string
	PageNow, PageSize                                 int
}

// EngineHistory lists the engines that ended, newest first
// (ecinfo/ecrHistoryList).
func (c *Client) EngineHistory(ctx context.Context, q HistoryQuery) (HistoryData, error) {
	v := query("creator", q.Creator, "instance", q.Instance, "engineType", q.EngineType, "startDate", q.StartDate, "endDate", q.EndDate)
	setPage(v, "pageNow", "pageSize", q.PageNow, q.PageSize)
	var d HistoryData
	err := c.do(ctx, http.MethodGet, PathECHistory, v, nil, &d)
	return d, err
}

// KillEngines kills engines by address or ticket: all of them, or none
// (rm/enginekill).
func (c *Client) KillEngines(ctx context.Context, instances ...string) (KillResult, error) {
	body := make([]map[string]string, len(instances))
	for i, in := range instances {
		body[i] = map[string]string{"engineInstance": in, "applicationName": AppEngine}
	}
	var d KillData
	err := c.do(ctx, http.MethodPost, PathEngineKill, nil, body, &d)
	return d.Result, err
}

// KillIdle kills the idle engines of an ECM and/or of a user
// (rm/killUnlockEngineByEM).
func (c *Client) KillIdle(ctx context.Context, ecm, user string) (KillResult, error) {
	body := map[string]string{"instance": ecm}
	if user != "" {
		body["user"] = user
	}
	var d KillData
	err := c.do(ctx, http.MethodPost, PathKillUnlock, nil, body, &d)
	return d.Result, err
}

// EngineLog returns size lines (≤ 0: the server's 1000) of an engine's
// output from line fromLine (1 is the first) (openEngineLog); instance is
// its address or ticket.
func (c *Client) EngineLog(ctx context.Context, instance string, fromLine, size int) (EngineLogResult, error) {
	params := map[string]any{"logType": "stdout", "fromLine": max(fromLine, 1)}
	if size > 0 {
		params["pageSize"] = size
	}
	body := map[string]any{"applicationName": AppEngine, "instance": instance, "parameters": params}
	var d EngineLogData
	err := c.do(ctx, http.MethodPost, PathOpenEngineLog, nil, body, &d)
	return d.Result, err
}

// UserResources returns the caller's resource rows (rm/userresources).
func (c *Client) UserResources(ctx context.Context) (UserResourcesData, error) {
	var d UserResourcesData
	err := c.do(ctx, http.MethodPost, PathUserResources, nil, map[string]any{}, &d)
	return d, err
}

// ResourceQuery selects rows for AllUserResources.
type ResourceQuery struct {
	Username, Creator, EngineType string
	Page, Size                    int
}

// AllUserResources lists every user's rows (rm/allUserResource).
func (c *Client) AllUserResources(ctx context.Context, q ResourceQuery) (AllUserResourceData, error) {
	v := query("username", q.Username, "creator", q.Creator, "engineType", q.EngineType)
	setPage(v, "page", "size", q.Page, q.Size)
	var d AllUserResourceData
	err := c.do(ctx, http.MethodGet, PathAllResources, v, nil, &d)
	return d, err
}

// ResetResource recomputes a row (by its label "user-creator,type-version";
// "" : every row) from the engines that really hold it (rm/resetResource).
func (c *Client) ResetResource(ctx context.Context, label string) (ResetData, error) {
	var d ResetData
	err := c.do(ctx, http.MethodDelete, PathResetResource, query("label", label), nil, &d)
	return d, err
}

// ConfLevel names a level of the configuration tree: User "" is the
// caller; Creator and EngineType "" or "*" are any; EngineType is "type"
// or "type-version".
type ConfLevel struct{ User, Creator, EngineType string }

func (l ConfLevel) values() url.Values {
	typ, version, _ := strings.Cut(l.EngineType, "-")
	return query("user", l.User, "creator", l.Creator, "engineType", typ, "version", version)
}

// ConfigTree returns a level's settings (getFullTreesByAppName).
func (c *Client) ConfigTree(ctx context.Context, l ConfLevel) (FullTreeData, error) {
	var d FullTreeData
	err := c.do(ctx, http.MethodGet, PathFullTree, l.values(), nil, &d)
	return d, err
}

// SetConfigValue sets a key at a level (keyvalue POST).
func (c *Client) SetConfigValue(ctx context.Context, l ConfLevel, key, value string) error {
	body := map[string]string{"configKey": key, "configValue": value}
	for k, vs := range l.values() {
		body[k] = vs[0]
	}
	return c.do(ctx, http.MethodPost, PathKeyValue, nil, body, nil)
}

// DeleteConfigValue removes a level's own value of a key (keyvalue
// DELETE).
func (c *Client) DeleteConfigValue(ctx context.Context, l ConfLevel, key string) error {
	body := map[string]string{"configKey": key}
	for k, vs := range l.values() {
		body[k] = vs[0]
	}
	return c.do(ctx, http.MethodDelete, PathKeyValue, nil, body, nil)
}

// Variables returns a user's global variables ("" : the caller's)
// (listGlobalVariable).
func (c *Client) Variables(ctx context.Context, user string) (map[string]string, error) {
	var d GlobalVariablesData
	if err := c.do(ctx, http.MethodGet, PathListVariables, query("user", user), nil, &d); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(d.GlobalVariables))
	for _, g := range d.GlobalVariables {
		out[g.Key] = g.Value
	}
	return out, nil
}

// SetVariables replaces a user's global variables ("" : the caller's)
// (saveGlobalVariable).
func (c *Client) SetVariables(ctx context.Context, user string, vars map[string]string) error {
	d := GlobalVariablesData{User: user, GlobalVariables: []GlobalVariable{}}
	for k, v := range vars {
		d.GlobalVariables = append(d.GlobalVariables, GlobalVariable{Key: k, Value: v})
	}
	return c.do(ctx, http.MethodPost, PathSaveVariables, nil, d, nil)
}
