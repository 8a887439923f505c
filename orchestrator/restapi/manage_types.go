package restapi

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator/admin"
)

// The management API's answers, with Linkis's field names and JSON types
// (EMNodeVo, AMEngineNodeVo, ECResourceInfoRecordVo, UserResourceVo,
// ConfigKeyValue, VarKeyValueVO). Fields Linkis does not have are marked
// as additions; Linkis's clients ignore them.

// Linkis's application names of the nodes.
const (
	AppECM    = "linkis-cg-engineconnmanager"
	AppEngine = "linkis-cg-engineconn"
)

// Resource is Linkis's LoadInstanceResource: memory in bytes, cores and
// instances. Cores may be fractional here (our engines take 0.5 core);
// Extra (an addition) holds the other dimensions.
type Resource struct {
	Memory   int64            `json:"memory"`
	Cores    float64          `json:"cores"`
	Instance int64            `json:"instance"`
	Extra    map[string]int64 `json:"extra,omitempty"`
}

func resourceOf(r linkis.Resource) Resource {
	out := Resource{Memory: r.Memory, Cores: float64(r.MilliCores) / 1000, Instance: r.Instances}
	for _, q := range r.Extra {
		if out.Extra == nil {
			out.Extra = map[string]int64{}
		}
		out.Extra[q.Name] = q.Value
	}
	return out
}

// Label is a node label as Linkis's console shows and edits it.
type Label struct {
	LabelKey    string `json:"labelKey"`
	StringValue string `json:"stringValue"`
}

func labelList(ls linkis.Labels) []Label {
	out := make([]Label, len(ls))
	for i, l := range ls {
		out[i] = Label{l.Key, l.Value}
	}
	return out
}

// EMNode is an ECM (Linkis's EMNodeVo).
type EMNode struct {
	ApplicationName  string   `json:"applicationName"`
	Instance         string   `json:"instance"` // its address
	Labels           []Label  `json:"labels"`
	ResourceType     string   `json:"resourceType"`
	MaxResource      Resource `json:"maxResource"`
	MinResource      Resource `json:"minResource"`
	UsedResource     Resource `json:"usedResource"`
	LockedResource   Resource `json:"lockedResource"`
	ExpectedResource Resource `json:"expectedResource"`
	LeftResource     Resource `json:"leftResource"`
	Owner            string   `json:"owner"`
	RunningTasks     int64    `json:"runningTasks"`
	PendingTasks     int64    `json:"pendingTasks"`
	SucceedTasks     int64    `json:"succeedTasks"`
	FailedTasks      int64    `json:"failedTasks"`
	MaxMemory        int64    `json:"maxMemory"`
	UsedMemory       int64    `json:"usedMemory"`
	SystemCPUUsed    float64  `json:"systemCPUUsed"`
	SystemLeftMemory int64    `json:"systemLeftMemory"`
	NodeHealthy      string   `json:"nodeHealthy"`
	NodeStatus       string   `json:"nodeStatus"`
	Msg              string   `json:"msg"`
	StartTime        int64    `json:"startTime"` // Unix milliseconds
	// Additions: its id, engines, when it was last heard from, and
	// whether an operator set its health (a drain).
	ID        string `json:"id"`
	Engines   int    `json:"engines"`
	LastSeen  int64  `json:"lastSeen"`
	HealthSet bool   `json:"healthSetByOperator"`
}

func emNodeOf(m admin.ECM) EMNode {
	l := m.Ledger
	n := EMNode{ApplicationName: AppECM, Instance: m.Addr, Labels: labelList(m.Labels), ResourceType: "LoadInstance",
		MaxResource: resourceOf(l.Max), UsedResource: resourceOf(l.Used), LockedResource: resourceOf(l.Locked), LeftResource: resourceOf(l.Left()),
		RunningTasks: m.Load.RunningTasks, PendingTasks: m.Load.PendingTasks, SucceedTasks: m.Load.SucceededTasks, FailedTasks: m.Load.FailedTasks,
		MaxMemory: m.Load.MaxMemory, UsedMemory: m.Load.UsedMemory, SystemCPUUsed: float64(m.Load.CPUPermille) / 10, SystemLeftMemory: m.Load.FreeMemory,
		NodeHealthy: m.Health.String(), NodeStatus: m.Status.String(), StartTime: m.RegisteredAt / 1e6,
		ID: m.ID, Engines: m.Engines, LastSeen: m.LastSeen / 1e6, HealthSet: m.HealthSet}
	if m.HealthSet {
		n.Msg = "health set by an operator"
	}
	return n
}

// ListEMsData is the data of GET linkisManager/listAllEMs: the page of
// ECMs and (an addition) how many match in all.
type ListEMsData struct {
	EMs   []EMNode `json:"EMs"`
	Total int      `json:"total"`
}

// EngineNode is a live engine (Linkis's AMEngineNodeVo).
type EngineNode struct {
	EMInstance      string   `json:"emInstance"` // its ECM's address
	NodeStatus      string   `json:"nodeStatus"`
	Lock            string   `json:"lock"` // the asks holding it
	Labels          []Label  `json:"labels"`
	ApplicationName string   `json:"applicationName"`
	Instance        string   `json:"instance"` // its address; its ticket until it started
	ResourceType    string   `json:"resourceType"`
	MaxResource     Resource `json:"maxResource"`
	UsedResource    Resource `json:"usedResource"`
	LockedResource  Resource `json:"lockedResource"`
	Owner           string   `json:"owner"`
	RunningTasks    int      `json:"runningTasks"`
	NodeHealthy     string   `json:"nodeHealthy"`
	Msg             string   `json:"msg"`
	StartTime       int64    `json:"startTime"`
	EngineType      string   `json:"engineType"`
	// Additions.
	TicketID string `json:"ticketId"`
	ECMID    string `json:"ecmId"`
	Killing  bool   `json:"killing"`
	Tasks    int    `json:"tasks"` // asks it served
	LastSeen int64  `json:"lastSeen"`
}

func engineNodeOf(e admin.Engine) EngineNode {
	n := EngineNode{EMInstance: e.ECMAddr, NodeStatus: e.Status.String(), Lock: strings.Join(e.Holders, ","), Labels: labelList(e.Labels),
		ApplicationName: AppEngine, Instance: instanceOf(e.Addr, e.ID), ResourceType: "LoadInstance", MaxResource: resourceOf(e.Resource),
		Owner: e.User, RunningTasks: len(e.Holders), NodeHealthy: e.Health.String(), StartTime: e.CreatedAt / 1e6, EngineType: e.EngineType.Type,
		TicketID: e.ID.String(), ECMID: e.ECM, Killing: e.Killing, Tasks: e.Tasks, LastSeen: e.LastSeen / 1e6}
	if e.Used {
		n.UsedResource = resourceOf(e.Resource)
	} else {
		n.LockedResource = resourceOf(e.Resource)
	}
	if e.Killing {
		n.Msg = "being killed"
	}
	return n
}

// instanceOf is an engine's Linkis instance: its address, or its ticket
// while it has none.
func instanceOf(addr string, id manager.ECID) string {
	if addr != "" {
		return addr
	}
	return id.String()
}

// EnginesData is the data of listUserEngines and listEMEngines (and,
// an addition, how many match in all).
type EnginesData struct {
	Engines []EngineNode `json:"engines"`
	Total   int          `json:"total"`
}

// ECListItem is an engine as ecinfo/ecList lists it.
type ECListItem struct {
	Instance       string   `json:"instance"`
	Name           string   `json:"name"`
	Owner          string   `json:"owner"`
	TicketID       string   `json:"ticketId"`
	CreateTime     int64    `json:"createTime"`
	UpdateTime     int64    `json:"updateTime"`
	InstanceStatus string   `json:"instanceStatus"`
	UseResource    Resource `json:"useResource"`
	ECMInstance    string   `json:"ecmInstance"`
	EngineType     string   `json:"engineType"`
	LabelValue     string   `json:"labelValue"`
}

// ECListData is the data of POST linkisManager/ecinfo/ecList (Total and
// paging are additions).
type ECListData struct {
	ECList []ECListItem `json:"ecList"`
	Total  int          `json:"total"`
}

// ECRecord is an engine's resource record (Linkis's
// ECResourceInfoRecordVo), live or ended. Additions: Failed, Reason,
// ExitCode, Killing.
type ECRecord struct {
	LabelValue       string    `json:"labelValue"`
	CreateUser       string    `json:"createUser"`
	ServiceInstance  string    `json:"serviceInstance"`
	ECMInstance      string    `json:"ecmInstance"`
	TicketID         string    `json:"ticketId"`
	Status           string    `json:"status"`
	EngineType       string    `json:"engineType"`
	RequestResource  *Resource `json:"requestResource"`
	UsedResource     *Resource `json:"usedResource"`
	ReleasedResource *Resource `json:"releasedResource"`
	UsedTimes        int       `json:"usedTimes"`
	CreateTime       int64     `json:"createTime"`
	ReleaseTime      int64     `json:"releaseTime,omitempty"`
	LogDirSuffix     string    `json:"logDirSuffix"`
	Failed           bool      `json:"failed"`
	Reason           string    `json:"reason,omitempty"`
	ExitCode         *int      `json:"exitCode,omitempty"`
}

func recordOfLive(e admin.Engine) ECRecord {
	r := resourceOf(e.Resource)
	rec := ECRecord{LabelValue: e.Key, CreateUser: e.User, ServiceInstance: instanceOf(e.Addr, e.ID), ECMInstance: e.ECMAddr,
		TicketID: e.ID.String(), Status: e.Status.String(), EngineType: e.EngineType.Type, RequestResource: &r,
		UsedTimes: e.Tasks, CreateTime: e.CreatedAt / 1e6, LogDirSuffix: e.ID.String() + "/logs"}
	if e.Used {
		rec.UsedResource = &r
	}
	return rec
}

func recordOfEnded(e manager.EngineRecord) ECRecord {
	r := resourceOf(e.Resource)
	status := linkis.StatusSuccess
	if e.Failed {
		status = linkis.StatusFailed
	}
	rec := ECRecord{LabelValue: e.Key, CreateUser: e.User, ServiceInstance: instanceOf(e.Addr, e.ID), ECMInstance: e.ECMAddr,
		TicketID: e.ID.String(), Status: status.String(), EngineType: e.EngineType.Type, RequestResource: &r, ReleasedResource: &r,
		UsedTimes: e.Tasks, CreateTime: e.CreatedAt / 1e6, ReleaseTime: e.EndedAt / 1e6, LogDirSuffix: e.ID.String() + "/logs",
		Failed: e.Failed, Reason: e.Reason, ExitCode: exitCode(e.Reason)}
	if e.Started {
		rec.UsedResource = &r
	}
	return rec
}

var exitStatus = regexp.MustCompile(`\bexit status (\d{1,3})\b`)

// exitCode reads the exit status an ECM quotes in how an engine ended.
func exitCode(reason string) *int {
	m := exitStatus.FindStringSubmatch(reason)
	if m == nil {
		return nil
	}
	n, _ := strconv.Atoi(m[1])
	return &n
}

// ECRecordData is the data of GET linkisManager/ecinfo/get; Process (an
// addition) is what its ECM says of its process, when it could be asked.
type ECRecordData struct {
	ECResourceInfoRecord ECRecord        `json:"ecResourceInfoRecord"`
	Process              json.RawMessage `json:"process,omitempty"`
}

// HistoryData is the data of GET linkisManager/ecinfo/ecrHistoryList.
type HistoryData struct {
	EngineList []ECRecord `json:"engineList"`
	TotalPage  int        `json:"totalPage"`
}

// KillResult is what killUnlockEngineByEM stopped: how many, their
// memory (bytes) and cores, and (an addition) their tickets.
type KillResult struct {
	KillEngineNum int      `json:"killEngineNum"`
	Memory        int64    `json:"memory"`
	Cores         float64  `json:"cores"`
	Engines       []string `json:"engines"`
}

// KillData is the data of killUnlockEngineByEM; of enginekill and
// killEngineConn too (with the engines stopped, an addition).
type KillData struct {
	Result KillResult `json:"result"`
}

// EngineLogResult is a page of an engine's log as openEngineLog answers
// it: lines from fromLine (1-based), the last line number read, how many
// lines; More and Complete are additions.
type EngineLogResult struct {
	LogPath  string   `json:"logPath"`
	Logs     []string `json:"logs"`
	EndLine  int      `json:"endLine"`
	Rows     int      `json:"rows"`
	More     bool     `json:"more"`
	Complete bool     `json:"complete"`
}

// EngineLogData is the data of POST linkisManager/openEngineLog.
type EngineLogData struct {
	Result   EngineLogResult `json:"result"`
	IsError  bool            `json:"isError"`
	ErrorMsg string          `json:"errorMsg"`
}

// EngineTypeResource is one engine type of a user-creator in
// rm/userresources: how full its row is (0..1, as text).
type EngineTypeResource struct {
	EngineType string `json:"engineType"`
	Percent    string `json:"percent"`
	// Additions: the row itself.
	UsedResource   Resource `json:"usedResource"`
	LockedResource Resource `json:"lockedResource"`
	MaxResource    Resource `json:"maxResource"`
}

// UserCreatorResources is a user-creator in rm/userresources.
type UserCreatorResources struct {
	UserCreator string               `json:"userCreator"`
	EngineTypes []EngineTypeResource `json:"engineTypes"`
	Percent     string               `json:"percent"`
}

// UserResourcesData is the data of rm/userresources.
type UserResourcesData struct {
	UserResources []UserCreatorResources `json:"userResources"`
}

// UserResource is a ledger row as rm/allUserResource lists it (Linkis's
// UserResourceVo). ID is what rm/resetResource takes as resourceId.
type UserResource struct {
	ID               int64    `json:"id"`
	Username         string   `json:"username"`
	Creator          string   `json:"creator"`
	EngineType       string   `json:"engineType"`
	Version          string   `json:"version"`
	ResourceType     string   `json:"resourceType"`
	MaxResource      Resource `json:"maxResource"`
	MinResource      Resource `json:"minResource"`
	UsedResource     Resource `json:"usedResource"`
	LockedResource   Resource `json:"lockedResource"`
	ExpectedResource Resource `json:"expectedResource"`
	LeftResource     Resource `json:"leftResource"`
	// Additions: the combined label, its engines, asks waiting.
	Label   string `json:"label"`
	Engines int    `json:"engines"`
	Waiting int    `json:"waiting"`
}

func userResourceOf(k manager.KeyInfo) UserResource {
	uc, rest, _ := strings.Cut(k.Key, ",")
	user, creator, _ := strings.Cut(uc, "-")
	et, _, _ := strings.Cut(rest, ",")
	typ, version, _ := strings.Cut(et, "-")
	return UserResource{ID: admin.RowID(k.Key), Username: user, Creator: creator, EngineType: typ, Version: version, ResourceType: "LoadInstance",
		MaxResource: resourceOf(k.Ledger.Max), UsedResource: resourceOf(k.Ledger.Used), LockedResource: resourceOf(k.Ledger.Locked),
		LeftResource: resourceOf(k.Ledger.Left()), Label: k.Key, Engines: k.Engines, Waiting: k.Waiting}
}

// AllUserResourceData is the data of GET linkisManager/rm/allUserResource.
type AllUserResourceData struct {
	Resources []UserResource `json:"resources"`
	Total     int            `json:"total"`
}

// RowReset is what rm/resetResource did to one row (an addition: Linkis
// answers with no data).
type RowReset struct {
	Label      string   `json:"label"`
	Before     Resource `json:"usedBefore"`
	After      Resource `json:"usedAfter"`
	Ended      []string `json:"ended"`
	Unverified []string `json:"unverified"`
}

// ResetData is the data of DELETE linkisManager/rm/resetResource.
type ResetData struct {
	Reset []RowReset `json:"reset"`
}

// ConfigKeyValue is a key of a configuration tree (Linkis's
// ConfigKeyValue). ValueInForce and ValueFrom (additions) say which value
// applies at this level and which level it comes from.
type ConfigKeyValue struct {
	Key           string `json:"key"`
	Name          string `json:"name"`
	Description   string `json:"description"`
	EngineType    string `json:"engineType"`
	DefaultValue  string `json:"defaultValue"`
	ValidateType  string `json:"validateType"`
	ValidateRange string `json:"validateRange"`
	TreeName      string `json:"treeName"`
	Level         int    `json:"level"`
	ConfigValue   string `json:"configValue"`
	Unit          string `json:"unit"`
	ValueInForce  string `json:"valueInForce"`
	ValueFrom     string `json:"valueFrom,omitempty"`
}

// ConfigTree is one tree of settings.
type ConfigTree struct {
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Settings    []ConfigKeyValue `json:"settings"`
}

// FullTreeData is the data of GET configuration/getFullTreesByAppName.
type FullTreeData struct {
	FullTree []ConfigTree `json:"fullTree"`
}

// ConfigValue is a value of a key at a level (keyvalue's answers).
type ConfigValue struct {
	ConfigKey   string `json:"configKey"`
	ConfigValue string `json:"configValue"`
	LabelValue  string `json:"configLabel"` // "user-creator,engineType"
}

// CategoryData is the data of GET configuration/getCategory: the
// creators, each with its engine types.
type CategoryData struct {
	Category []Category `json:"Category"`
}

// Category is a creator (or an engine type under one) of the tree.
type Category struct {
	CategoryName  string     `json:"categoryName"`
	Description   string     `json:"description"`
	Level         int        `json:"level"`
	ChildCategory []Category `json:"childCategory"`
}

// EngineTypeData is the data of configuration/engineType and
// rm/engineType.
type EngineTypeData struct {
	EngineType []string `json:"engineType"`
}

// GlobalVariable is a variable as Linkis's console lists it
// (VarKeyValueVO); the ids are the variable's place, stable while the
// set does not change.
type GlobalVariable struct {
	KeyID   int64  `json:"keyID"`
	Key     string `json:"key"`
	ValueID int64  `json:"valueID"`
	Value   string `json:"value"`
}

// GlobalVariablesData is the data of variable/listGlobalVariable, and
// the body of variable/saveGlobalVariable (User, an addition, lets an
// administrator name another user).
type GlobalVariablesData struct {
	GlobalVariables []GlobalVariable `json:"globalVariables"`
	User            string           `json:"user,omitempty"`
}
