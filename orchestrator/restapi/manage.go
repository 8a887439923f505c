package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator/admin"
)

// Operations is what the management API needs: the operator's calls
// (admin.Operator), each with the authenticated caller; they decide what
// belongs to whom.
type Operations interface {
	ECMs(ctx context.Context, c admin.Caller, q manager.ECMQuery) (admin.Page[admin.ECM], error)
	ResolveECM(ctx context.Context, instance string) (string, error)
	ModifyECM(ctx context.Context, c admin.Caller, instance string, ch admin.ECMChange) (admin.ECM, error)
	Engines(ctx context.Context, c admin.Caller, q manager.EngineQuery) (admin.Page[admin.Engine], error)
	Engine(ctx context.Context, c admin.Caller, instance string) (admin.EngineDetail, error)
	History(ctx context.Context, c admin.Caller, q manager.HistoryQuery) (admin.Page[manager.EngineRecord], error)
	Kill(ctx context.Context, c admin.Caller, instances []string, reason string) ([]string, error)
	KillIdle(ctx context.Context, c admin.Caller, ecm, user string) (admin.KillSummary, error)
	EngineLog(ctx context.Context, c admin.Caller, instance string, from, size int) (admin.EngineLog, error)
	Resources(ctx context.Context, c admin.Caller, q manager.KeyQuery) (admin.Page[manager.KeyInfo], error)
	RowKey(ctx context.Context, c admin.Caller, id int64) (string, error)
	ResetResources(ctx context.Context, c admin.Caller, keys []string) ([]admin.RowReset, error)
	ConfigTree(ctx context.Context, c admin.Caller, l manager.ConfLevel) ([]manager.ConfSetting, error)
	SetConfig(ctx context.Context, c admin.Caller, l manager.ConfLevel, set map[string]string, remove []string) error
	ConfigLevels(ctx context.Context, c admin.Caller) ([]manager.ConfLevel, error)
	EngineTypes(ctx context.Context) ([]string, error)
	Variables(ctx context.Context, c admin.Caller, user string) (map[string]string, error)
	SetVariables(ctx context.Context, c admin.Caller, user string, vars map[string]string) error
}

var _ Operations = (*admin.Operator)(nil)

// The management API's paths below Prefix, as Linkis serves them.
const (
	PathListEMs         = "/linkisManager/listAllEMs"
	PathECMHealthy      = "/linkisManager/listAllECMHealthyStatus"
	PathModifyEM        = "/linkisManager/modifyEMInfo"
	PathEMEngines       = "/linkisManager/listEMEngines"
	PathUserEngines     = "/linkisManager/listUserEngines"
	PathECList          = "/linkisManager/ecinfo/ecList"
	PathECInfo          = "/linkisManager/ecinfo/get"
	PathECHistory       = "/linkisManager/ecinfo/ecrHistoryList"
	PathEngineKill      = "/linkisManager/rm/enginekill"
	PathEngineKillAsync = "/linkisManager/rm/enginekillAsyn"
	PathKillEngineConn  = "/linkisManager/killEngineConn"
	PathKillUnlock      = "/linkisManager/rm/killUnlockEngineByEM"
	PathOpenEngineLog   = "/linkisManager/openEngineLog"
	PathUserResources   = "/linkisManager/rm/userresources"
	PathAllResources    = "/linkisManager/rm/allUserResource"
	PathResetResource   = "/linkisManager/rm/resetResource"
	PathRMEngineType    = "/linkisManager/rm/engineType"
	PathFullTree        = "/configuration/getFullTreesByAppName"
	PathSaveFullTree    = "/configuration/saveFullTree"
	PathKeyValue        = "/configuration/keyvalue"
	PathCategory        = "/configuration/getCategory"
	PathConfEngineType  = "/configuration/engineType"
	PathListVariables   = "/variable/listGlobalVariable"
	PathSaveVariables   = "/variable/saveGlobalVariable"
)

// manageRoute is a management path: the methods it takes and its
// handler.
type manageRoute struct {
	methods []string
	serve   func(h *handler, w http.ResponseWriter, r *http.Request, c admin.Caller) *reply
}

var (
	onlyGet, onlyPost = []string{http.MethodGet}, []string{http.MethodPost}
	manageAPI         = map[string]manageRoute{
		PathListEMs:         {onlyGet, (*handler).listAllEMs},
		PathECMHealthy:      {onlyGet, (*handler).healthyStatus},
		PathModifyEM:        {[]string{http.MethodPut}, (*handler).modifyEM},
		PathEMEngines:       {onlyPost, (*handler).emEngines},
		PathUserEngines:     {onlyGet, (*handler).userEngines},
		PathECList:          {onlyPost, (*handler).ecList},
		PathECInfo:          {onlyGet, (*handler).ecInfo},
		PathECHistory:       {onlyGet, (*handler).ecHistory},
		PathEngineKill:      {onlyPost, (*handler).engineKill},
		PathEngineKillAsync: {onlyPost, (*handler).engineKillAsync},
		PathKillEngineConn:  {onlyPost, (*handler).killEngineConn},
		PathKillUnlock:      {onlyPost, (*handler).killUnlock},
		PathOpenEngineLog:   {onlyPost, (*handler).openEngineLog},
		PathUserResources:   {[]string{http.MethodPost, http.MethodGet}, (*handler).userResources},
		PathAllResources:    {onlyGet, (*handler).allUserResources},
		PathResetResource:   {[]string{http.MethodDelete}, (*handler).resetResource},
		PathRMEngineType:    {onlyGet, (*handler).engineTypes},
		PathFullTree:        {onlyGet, (*handler).fullTree},
		PathSaveFullTree:    {onlyPost, (*handler).saveFullTree},
		PathKeyValue:        {[]string{http.MethodGet, http.MethodPost, http.MethodDelete}, (*handler).keyValue},
		PathCategory:        {onlyGet, (*handler).category},
		PathConfEngineType:  {onlyGet, (*handler).engineTypes},
		PathListVariables:   {onlyGet, (*handler).listVariables},
		PathSaveVariables:   {onlyPost, (*handler).saveVariables},
	}
)

// manageRoutes are the management paths as routes of the handler's
// table (routes.go), in path order.
func manageRoutes() []route {
	paths := slices.Sorted(maps.Keys(manageAPI))
	out := make([]route, 0, len(paths))
	for _, p := range paths {
		mr := manageAPI[p]
		out = append(out, route{methods: mr.methods, pattern: p, handle: func(h *handler, c *apiCall) *reply {
			if h.cfg.Operations == nil {
				return &reply{err: linkis.Errorf(linkis.ErrUnavailable, "path", "this server does not serve the management API"),
					status: StatusError, code: http.StatusNotImplemented}
			}
			return mr.serve(h, c.w, c.r, admin.Caller{User: c.user, Admin: c.admin})
		}})
	}
	return out
}

// body decodes a request's JSON body into v.
func (h *handler) body(w http.ResponseWriter, r *http.Request, v any) *reply {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "body", "larger than %d bytes; nothing was changed", h.cfg.MaxBodyBytes),
				status: StatusValidation, code: http.StatusRequestEntityTooLarge}
		}
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "body", "cannot be read")}
	}
	if err := api.Decode(b, v); err != nil {
		return &reply{err: err}
	}
	return nil
}

// flexInt is a number Linkis's clients send as a JSON number or string.
type flexInt struct {
	n   int
	set bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("want a whole number, got %s", clip(string(b)))
	}
	f.n, f.set = n, true
	return nil
}

func (f flexInt) or(def int) int {
	if f.set {
		return f.n
	}
	return def
}

// paging reads Linkis's paging parameters (1-based page) into an offset
// and a limit.
func paging(page, size int) (offset, limit int, err error) {
	if page < 1 {
		return 0, 0, linkis.Errorf(linkis.ErrInvalidArgument, "pageNow", "must be at least 1, got %d", page)
	}
	if size < 1 || size > admin.MaxPageSize {
		return 0, 0, linkis.Errorf(linkis.ErrInvalidArgument, "pageSize", "must be from 1 to %d, got %d", admin.MaxPageSize, size)
	}
	if page-1 > (1<<31)/size {
		return 0, 0, linkis.Errorf(linkis.ErrInvalidArgument, "pageNow", "too large")
	}
	return (page - 1) * size, size, nil
}

// queryPage reads pageNow/pageSize (or the names given) from the query.
func queryPage(r *http.Request, pageName, sizeName string, defSize int) (int, int, error) {
	page, err := intParam(r, pageName, 1, 1)
	if err != nil {
		return 0, 0, err
	}
	size, err := intParam(r, sizeName, defSize, 1)
	if err != nil {
		return 0, 0, err
	}
	return paging(page, size)
}

// parseLabelList reads "k=v,k2=v2".
func parseLabelList(s string) (linkis.Labels, error) {
	var kv []string
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			return nil, linkis.ValueError(linkis.ErrInvalidLabel, "labels", clip(s), "must be key=value pairs separated by commas")
		}
		kv = append(kv, strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return linkis.NewLabels(kv...)
}

func (h *handler) listAllEMs(_ http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	q := manager.ECMQuery{Instance: r.URL.Query().Get("instance"), Owner: r.URL.Query().Get("owner"), Tenant: r.URL.Query().Get("tenantLabel")}
	if s := r.URL.Query().Get("nodeHealthy"); s != "" {
		hv, err := linkis.ParseNodeHealth(s)
		if err != nil {
			return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "nodeHealthy", clip(s), "must be Healthy, UnHealthy, WARN, StockAvailable or StockUnavailable")}
		}
		q.Health = &hv
	}
	if s := r.URL.Query().Get("labels"); s != "" {
		ls, err := parseLabelList(s)
		if err != nil {
			return &reply{err: err}
		}
		q.Labels = ls
	}
	var err error
	// Linkis lists every ECM: the page is as large as it may be unless asked.
	if q.Offset, q.Limit, err = queryPage(r, "pageNow", "pageSize", admin.MaxPageSize); err != nil {
		return &reply{err: err}
	}
	p, err := h.cfg.Operations.ECMs(readCtx(r), c, q)
	if err != nil {
		return &reply{err: err}
	}
	d := ListEMsData{EMs: make([]EMNode, len(p.Items)), Total: p.Total}
	for i, m := range p.Items {
		d.EMs[i] = emNodeOf(m)
	}
	return &reply{data: d}
}

func (h *handler) healthyStatus(_ http.ResponseWriter, r *http.Request, _ admin.Caller) *reply {
	all := []string{"Healthy", "UnHealthy", "WARN", "StockAvailable", "StockUnavailable"}
	return &reply{data: map[string][]string{"nodeHealthy": all}}
}

// modifyEMRequest is modifyEMInfo's body.
type modifyEMRequest struct {
	ApplicationName string   `json:"applicationName"`
	Instance        string   `json:"instance"`
	EMStatus        string   `json:"emStatus"`
	Labels          *[]Label `json:"labels"`
}

func (h *handler) modifyEM(w http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	var req modifyEMRequest
	if rep := h.body(w, r, &req); rep != nil {
		return rep
	}
	if req.Instance == "" {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "instance", "required: the ECM's address or id")}
	}
	var ch admin.ECMChange
	if req.EMStatus != "" {
		hv, err := linkis.ParseNodeHealth(req.EMStatus)
		if err != nil {
			return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "emStatus", clip(req.EMStatus), "must be Healthy, UnHealthy, WARN, StockAvailable or StockUnavailable")}
		}
		ch.Health = &hv
	}
	if req.Labels != nil {
		var kv []string
		for _, l := range *req.Labels {
			kv = append(kv, l.LabelKey, l.StringValue)
		}
		ls, err := linkis.NewLabels(kv...)
		if err != nil {
			return &reply{err: err}
		}
		ch.Labels = &ls
	}
	if ch.Health == nil && ch.Labels == nil {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "emStatus", "nothing to change: give emStatus or labels")}
	}
	if _, err := h.cfg.Operations.ModifyECM(r.Context(), c, req.Instance, ch); err != nil {
		return &reply{err: err}
	}
	return &reply{data: map[string]any{}, msg: "success"}
}

// serviceInstance is Linkis's {applicationName, instance}.
type serviceInstance struct {
	ApplicationName string `json:"applicationName"`
	Instance        string `json:"instance"`
}

// emEnginesRequest is listEMEngines' body.
type emEnginesRequest struct {
	EM struct {
		ServiceInstance serviceInstance `json:"serviceInstance"`
	} `json:"em"`
	EMInstance string  `json:"emInstance"`
	EngineType string  `json:"engineType"`
	NodeStatus string  `json:"nodeStatus"`
	Owner      string  `json:"owner"`
	PageNow    flexInt `json:"pageNow"`
	PageSize   flexInt `json:"pageSize"`
}

func (h *handler) emEngines(w http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	if !c.Admin {
		return &reply{err: linkis.ValueError(linkis.ErrPermission, "user", c.User, "only an administrator may list an ECM's engines")}
	}
	var req emEnginesRequest
	if rep := h.body(w, r, &req); rep != nil {
		return rep
	}
	instance := req.EM.ServiceInstance.Instance
	if instance == "" {
		instance = req.EMInstance
	}
	if instance == "" {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "em.serviceInstance.instance", "required: the ECM's address or id")}
	}
	id, err := h.cfg.Operations.ResolveECM(readCtx(r), instance)
	if err != nil {
		return &reply{err: err}
	}
	q := manager.EngineQuery{ECM: id}
	if req.Owner != "" {
		q.Users = []string{req.Owner}
	}
	if req.EngineType != "" {
		q.EngineTypes = []string{req.EngineType}
	}
	if req.NodeStatus != "" {
		st, err := linkis.ParseNodeStatus(req.NodeStatus)
		if err != nil {
			return &reply{err: err}
		}
		q.Statuses = []linkis.NodeStatus{st}
	}
	if q.Offset, q.Limit, err = paging(req.PageNow.or(1), req.PageSize.or(admin.MaxPageSize)); err != nil {
		return &reply{err: err}
	}
	return h.engines(r, c, q)
}

func (h *handler) engines(r *http.Request, c admin.Caller, q manager.EngineQuery) *reply {
	p, err := h.cfg.Operations.Engines(readCtx(r), c, q)
	if err != nil {
		return &reply{err: err}
	}
	d := EnginesData{Engines: make([]EngineNode, len(p.Items)), Total: p.Total}
	for i, e := range p.Items {
		d.Engines[i] = engineNodeOf(e)
	}
	return &reply{data: d}
}

func (h *handler) userEngines(_ http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	return h.engines(r, c, manager.EngineQuery{Users: []string{c.User}, Limit: admin.MaxPageSize})
}

// ecListRequest is ecinfo/ecList's body (paging is an addition).
type ecListRequest struct {
	Creators    []string `json:"creators"`
	EngineTypes []string `json:"engineTypes"`
	Statuss     []string `json:"statuss"`
	PageNow     flexInt  `json:"pageNow"`
	PageSize    flexInt  `json:"pageSize"`
}

func (h *handler) ecList(w http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	if !c.Admin {
		return &reply{err: linkis.ValueError(linkis.ErrPermission, "user", c.User, "only an administrator may query ecList (listUserEngines lists your own)")}
	}
	var req ecListRequest
	if rep := h.body(w, r, &req); rep != nil {
		return rep
	}
	if len(req.Creators) == 0 {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "creators", "required: the users whose engines to list")}
	}
	for _, u := range req.Creators {
		if !validUser(u) {
			return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "creators", clip(u), "not a user name")}
		}
	}
	q := manager.EngineQuery{Users: req.Creators, EngineTypes: req.EngineTypes}
	for _, s := range req.Statuss {
		st, err := linkis.ParseNodeStatus(s)
		if err != nil {
			return &reply{err: err}
		}
		q.Statuses = append(q.Statuses, st)
	}
	var err error
	if q.Offset, q.Limit, err = paging(req.PageNow.or(1), req.PageSize.or(admin.MaxPageSize)); err != nil {
		return &reply{err: err}
	}
	p, err := h.cfg.Operations.Engines(readCtx(r), c, q)
	if err != nil {
		return &reply{err: err}
	}
	d := ECListData{ECList: make([]ECListItem, len(p.Items)), Total: p.Total}
	for i, e := range p.Items {
		d.ECList[i] = ECListItem{Instance: instanceOf(e.Addr, e.ID), Name: AppEngine, Owner: e.User, TicketID: e.ID.String(),
			CreateTime: e.CreatedAt / 1e6, UpdateTime: e.LastSeen / 1e6, InstanceStatus: e.Status.String(), UseResource: resourceOf(e.Resource),
			ECMInstance: e.ECMAddr, EngineType: e.EngineType.Type, LabelValue: e.Key}
	}
	return &reply{data: d}
}

func (h *handler) ecInfo(_ http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	ticket := r.URL.Query().Get("ticketid")
	if ticket == "" {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "ticketid", "required: the engine's ticket (ec-N) or address")}
	}
	d, err := h.cfg.Operations.Engine(readCtx(r), c, ticket)
	if err != nil {
		return &reply{err: err}
	}
	out := ECRecordData{}
	if d.Live != nil {
		out.ECResourceInfoRecord = recordOfLive(*d.Live)
	} else {
		out.ECResourceInfoRecord = recordOfEnded(*d.Ended)
	}
	if d.Process != nil {
		out.Process, _ = json.Marshal(d.Process)
	}
	return &reply{data: out}
}

// linkisTime is the date format of ecrHistoryList.
const linkisTime = "2006-01-02 15:04:05"

func historyTime(name, s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if t, err := time.ParseInLocation(linkisTime, s, time.Local); err == nil {
		return t, nil
	}
	return parseTime(name, s)
}

func (h *handler) ecHistory(_ http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	qs := r.URL.Query()
	now := h.now()
	y, m, d := now.Date()
	since, err := historyTime("startDate", qs.Get("startDate"), time.Date(y, m, d, 0, 0, 0, 0, now.Location()))
	if err != nil {
		return &reply{err: err}
	}
	until, err := historyTime("endDate", qs.Get("endDate"), now)
	if err != nil {
		return &reply{err: err}
	}
	q := manager.HistoryQuery{User: qs.Get("creator"), Instance: qs.Get("instance"), EngineType: qs.Get("engineType"),
		Since: since.UnixNano(), Until: until.UnixNano() + 1}
	if q.User != "" && !validUser(q.User) {
		return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "creator", clip(q.User), "Invalid creator: not a user name")}
	}
	if q.Offset, q.Limit, err = queryPage(r, "pageNow", "pageSize", 20); err != nil {
		return &reply{err: err}
	}
	p, err := h.cfg.Operations.History(readCtx(r), c, q)
	if err != nil {
		return &reply{err: err}
	}
	out := HistoryData{EngineList: make([]ECRecord, len(p.Items)), TotalPage: p.Total}
	for i, e := range p.Items {
		out.EngineList[i] = recordOfEnded(e)
	}
	return &reply{data: out}
}

func (h *handler) killEngines(r *http.Request, c admin.Caller, instances []string) *reply {
	killed, err := h.cfg.Operations.Kill(r.Context(), c, instances, "")
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: KillData{Result: KillResult{KillEngineNum: len(killed), Engines: killed}}, msg: "Kill engineConn succeed."}
}

func (h *handler) engineKill(w http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	var req []struct {
		EngineInstance  string `json:"engineInstance"`
		ApplicationName string `json:"applicationName"`
	}
	if rep := h.body(w, r, &req); rep != nil {
		return rep
	}
	var instances []string
	for i, e := range req {
		if e.EngineInstance == "" {
			return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "engineInstance", "entry %d names no engine", i)}
		}
		instances = append(instances, e.EngineInstance)
	}
	return h.killEngines(r, c, instances)
}

func (h *handler) engineKillAsync(w http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	if !c.Admin {
		return &reply{err: linkis.ValueError(linkis.ErrPermission, "user", c.User, "only an administrator may kill engines asynchronously")}
	}
	var req struct {
		Instances []string `json:"instances"`
	}
	if rep := h.body(w, r, &req); rep != nil {
		return rep
	}
	if len(req.Instances) == 0 {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "instances", "required: the engines to kill")}
	}
	return h.killEngines(r, c, req.Instances)
}

func (h *handler) killEngineConn(w http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	var req serviceInstance
	if rep := h.body(w, r, &req); rep != nil {
		return rep
	}
	if req.Instance == "" {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "instance", "required: the engine's address or ticket")}
	}
	return h.killEngines(r, c, []string{req.Instance})
}

func (h *handler) killUnlock(w http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	var req struct {
		Instance string `json:"instance"`
		User     string `json:"user"` // an addition: that user's idle engines
	}
	if rep := h.body(w, r, &req); rep != nil {
		return rep
	}
	if req.Instance == "" && req.User == "" && c.Admin {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "instance", "instance is empty: the ECM whose idle engines to kill")}
	}
	sum, err := h.cfg.Operations.KillIdle(r.Context(), c, req.Instance, req.User)
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: KillData{Result: KillResult{KillEngineNum: len(sum.Engines), Memory: sum.Resource.Memory,
		Cores: float64(sum.Resource.MilliCores) / 1000, Engines: sum.Engines}}, msg: "Kill engineConn succeed."}
}

// openLogRequest is openEngineLog's body.
type openLogRequest struct {
	ApplicationName string `json:"applicationName"`
	EMInstance      string `json:"emInstance"`
	Instance        string `json:"instance"`
	TicketID        string `json:"ticketId"` // an addition: the engine's ticket, for one that never got an address
	Parameters      struct {
		LogType  string  `json:"logType"`
		FromLine flexInt `json:"fromLine"`
		PageSize flexInt `json:"pageSize"`
	} `json:"parameters"`
}

// The log types openEngineLog serves: an engine's stdout and stderr are
// one file here, in the order written.
var engineLogTypes = []string{"stdout", "stderr", "engineconn"}

func (h *handler) openEngineLog(w http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	var req openLogRequest
	if rep := h.body(w, r, &req); rep != nil {
		return rep
	}
	instance := req.Instance
	if instance == "" {
		instance = req.TicketID
	}
	if instance == "" {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "instance", "required: the engine's address or its ticket (ticketId)")}
	}
	lt := req.Parameters.LogType
	if lt == "" {
		lt = "stdout"
	}
	if !slices.Contains(engineLogTypes, lt) {
		return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "logType", clip(lt), "must be stdout, stderr or engineconn (one file: the engine's output in the order written)")}
	}
	from := req.Parameters.FromLine.or(1)
	size := req.Parameters.PageSize.or(1000)
	if from < 1 {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "fromLine", "must be at least 1 (the first line), got %d", from)}
	}
	if size < 1 || size > api.MaxLogPageSize {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "pageSize", "must be from 1 to %d, got %d", api.MaxLogPageSize, size)}
	}
	lg, err := h.cfg.Operations.EngineLog(r.Context(), c, instance, from-1, size)
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: EngineLogData{Result: EngineLogResult{LogPath: lg.Path, Logs: lg.Lines, EndLine: lg.Next, Rows: len(lg.Lines),
		More: lg.More, Complete: lg.Complete}}}
}

// percent is how full a row is: the largest of its dimensions' shares.
func percent(l manager.Ledger) float64 {
	p := 0.0
	held := func(a, b int64) int64 { return a + b }
	for _, d := range [...][2]int64{
		{held(l.Used.Memory, l.Locked.Memory), l.Max.Memory},
		{held(l.Used.MilliCores, l.Locked.MilliCores), l.Max.MilliCores},
		{held(l.Used.Instances, l.Locked.Instances), l.Max.Instances},
	} {
		if d[1] > 0 {
			p = max(p, float64(d[0])/float64(d[1]))
		}
	}
	return p
}

func (h *handler) userResources(_ http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	p, err := h.cfg.Operations.Resources(readCtx(r), c, manager.KeyQuery{User: c.User, Limit: admin.MaxPageSize})
	if err != nil {
		return &reply{err: err}
	}
	d := UserResourcesData{UserResources: []UserCreatorResources{}}
	byUC := map[string]int{}
	total := map[string]manager.Ledger{}
	for _, k := range p.Items {
		uc, rest, _ := strings.Cut(k.Key, ",")
		et, _, _ := strings.Cut(rest, ",")
		i, ok := byUC[uc]
		if !ok {
			i = len(d.UserResources)
			byUC[uc] = i
			d.UserResources = append(d.UserResources, UserCreatorResources{UserCreator: uc})
		}
		d.UserResources[i].EngineTypes = append(d.UserResources[i].EngineTypes, EngineTypeResource{EngineType: et,
			Percent: strconv.FormatFloat(percent(k.Ledger), 'f', 2, 64), UsedResource: resourceOf(k.Ledger.Used),
			LockedResource: resourceOf(k.Ledger.Locked), MaxResource: resourceOf(k.Ledger.Max)})
		t := total[uc]
		t.Used, _ = t.Used.Add(k.Ledger.Used)
		t.Locked, _ = t.Locked.Add(k.Ledger.Locked)
		t.Max, _ = t.Max.Add(k.Ledger.Max)
		total[uc] = t
	}
	for i := range d.UserResources {
		d.UserResources[i].Percent = strconv.FormatFloat(percent(total[d.UserResources[i].UserCreator]), 'f', 2, 64)
	}
	return &reply{data: d}
}

func (h *handler) allUserResources(_ http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	if !c.Admin {
		return &reply{err: linkis.ValueError(linkis.ErrPermission, "user", c.User, "only an administrator may read every user's resources (rm/userresources gives your own)")}
	}
	qs := r.URL.Query()
	q := manager.KeyQuery{User: qs.Get("username"), Creator: qs.Get("creator"), EngineType: qs.Get("engineType")}
	var err error
	if q.Offset, q.Limit, err = queryPage(r, "page", "size", 10); err != nil {
		return &reply{err: err}
	}
	p, err := h.cfg.Operations.Resources(readCtx(r), c, q)
	if err != nil {
		return &reply{err: err}
	}
	d := AllUserResourceData{Resources: make([]UserResource, len(p.Items)), Total: p.Total}
	for i, k := range p.Items {
		d.Resources[i] = userResourceOf(k)
	}
	return &reply{data: d}
}

func (h *handler) resetResource(_ http.ResponseWriter, r *http.Request, c admin.Caller) *reply {
	qs := r.URL.Query()
	var keys []string
	if label := qs.Get("label"); label != "" { // an addition: the row by its combined label
		keys = append(keys, label)
	} else if s := qs.Get("resourceId"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "resourceId", clip(s), "must be a whole number")}
		}
		if id > 0 { // Linkis: none or ≤ 0 resets every row
			key, err := h.cfg.Operations.RowKey(r.Context(), c, id)
			if err != nil {
				return &reply{err: err}
			}
			keys = append(keys, key)
		}
	}
	rows, err := h.cfg.Operations.ResetResources(r.Context(), c, keys)
	if err != nil {
		return &reply{err: err}
	}
	d := ResetData{Reset: make([]RowReset, len(rows))}
	for i, row := range rows {
		before, _ := row.Before.Used.Add(row.Before.Locked)
		after, _ := row.After.Used.Add(row.After.Locked)
		d.Reset[i] = RowReset{Label: row.Key, Before: resourceOf(before), After: resourceOf(after), Ended: nonNil(row.Ended), Unverified: nonNil(row.Unverified)}
	}
	return &reply{data: d, msg: "success"}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (h *handler) engineTypes(_ http.ResponseWriter, r *http.Request, _ admin.Caller) *reply {
	ts, err := h.cfg.Operations.EngineTypes(readCtx(r))
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: EngineTypeData{EngineType: ts}}
}
