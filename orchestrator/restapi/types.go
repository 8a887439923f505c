package restapi

import (
	"cmp"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golinkis/golinkis/orchestrator"
)

// SubmitData is the data of POST /entrance/submit.
type SubmitData struct {
	ExecID string `json:"execID"`
	TaskID int64  `json:"taskID"`
}

// StatusData is the data of GET /entrance/{execID}/status and, with
// Status the state after the kill was asked, of /entrance/{execID}/kill.
type StatusData struct {
	Status string `json:"status"` // a job state, spelt as Linkis spells it: Inited, Running, Succeed...
	ExecID string `json:"execID"`
	TaskID int64  `json:"taskID"`
}

// ProgressData is the data of GET /entrance/{execID}/progress.
type ProgressData struct {
	Progress     float64        `json:"progress"` // 0..1
	ProgressInfo []ProgressInfo `json:"progressInfo"`
	ExecID       string         `json:"execID"`
}

// ProgressInfo is Linkis's per-stage progress record. A job here has one
// stage; Info carries the engine's words for its progress (an addition
// Linkis clients ignore).
type ProgressInfo struct {
	ID           string `json:"id"`
	TotalTasks   int    `json:"totalTasks"`
	RunningTasks int    `json:"runningTasks"`
	FailedTasks  int    `json:"failedTasks"`
	SucceedTasks int    `json:"succeedTasks"`
	Info         string `json:"info,omitempty"`
}

// LogData is the data of GET /entrance/{execID}/log. Log is Linkis's
// four strings [error, warn, info, all], each of newline-terminated
// lines; FromLine is the line to ask for next. Complete (an addition)
// says the job has ended and no line follows.
type LogData struct {
	Log      [4]string `json:"log"`
	FromLine int       `json:"fromLine"`
	ExecID   string    `json:"execID"`
	Complete bool      `json:"complete"`
}

// The indexes of LogData.Log.
const (
	LogError = 0
	LogWarn  = 1
	LogInfo  = 2
	LogAll   = 3
)

// Task is a job history record with Linkis's field names and JSON types
// (QueryTaskVO, as Linkis's Jackson writes it): times are Unix
// milliseconds, progress is a string ("0.5"), errCode an integer or null
// (null while the job runs, as are errDesc's), labels "key:value"
// strings. StrongerExecID is the exec id the entrance API takes;
// ResultLocation is, as in Linkis, the directory of the result sets
// (filesystem/getDirFileTrees lists it) and LogPath the whole log
// (filesystem/openLog reads it). ResultLocations (an addition) lists the
// result-set files in order, each a path openFile accepts.
type Task struct {
	TaskID                 int64    `json:"taskID"`
	Instance               string   `json:"instance"`
	ExecID                 string   `json:"execId"`
	StrongerExecID         string   `json:"strongerExecId"`
	UmUser                 string   `json:"umUser"`
	SubmitUser             string   `json:"submitUser"`
	ExecuteUser            string   `json:"executeUser"`
	EngineInstance         string   `json:"engineInstance"`
	ExecutionCode          string   `json:"executionCode"`
	Progress               string   `json:"progress"`
	LogPath                string   `json:"logPath"`
	ResultLocation         string   `json:"resultLocation"`
	ResultLocations        []string `json:"resultLocations,omitempty"`
	Status                 string   `json:"status"`
	CreatedTime            int64    `json:"createdTime"`
	UpdatedTime            int64    `json:"updatedTime"`
	EngineStartTime        *int64   `json:"engineStartTime"`
	CompletedTime          int64    `json:"completedTime,omitempty"`
	EngineType             string   `json:"engineType"`
	ErrCode                *int     `json:"errCode"`
	ErrDesc                *string  `json:"errDesc"`
	ExecuteApplicationName string   `json:"executeApplicationName"`
	RequestApplicationName string   `json:"requestApplicationName"`
	RunType                string   `json:"runType"`
	ParamsJSON             string   `json:"paramsJson"`
	SourceJSON             string   `json:"sourceJson"`
	SourceTailor           string   `json:"sourceTailor"`
	Labels                 []string `json:"labels"`
	CostTime               int64    `json:"costTime"` // milliseconds
	CanRetry               bool     `json:"canRetry"`
	Attempts               int      `json:"attempts,omitempty"`
}

// ProgressFloat is the task's progress as a number (0 when it cannot be
// read).
func (t Task) ProgressFloat() float64 {
	f, _ := strconv.ParseFloat(t.Progress, 64)
	return f
}

// ErrorText is the task's error description ("" when there is none).
func (t Task) ErrorText() string {
	if t.ErrDesc == nil {
		return ""
	}
	return *t.ErrDesc
}

// TaskData is the data of GET /jobhistory/{taskID}/get.
type TaskData struct {
	Task Task `json:"task"`
}

// ListData is the data of GET /jobhistory/list. TotalPage is, as in
// Linkis, the number of matching tasks (not of pages).
type ListData struct {
	Tasks     []Task `json:"tasks"`
	TotalPage int    `json:"totalPage"`
}

// Column is one column of openFile's metadata.
type Column struct {
	ColumnName string `json:"columnName"`
	DataType   string `json:"dataType"`
	Comment    string `json:"comment"`
}

// Result-set types of openFile, as Linkis numbers them.
const (
	FileTypeText  = "1"
	FileTypeTable = "2"
)

// FileData is the data of GET /filesystem/openFile: one page of a
// result set, as Linkis's clients read it. Metadata is a JSON list of
// Columns for a table and the string "NULL" for a text result (Columns
// reads either). FileContent holds the page's rows, one value per column,
// every value a string (numbers in their JSON spelling, booleans as
// true/false, objects and arrays as JSON) or null (only when nullValue is
// LINKIS_NULL). TotalLine counts the rows of the whole file.
type FileData struct {
	Metadata    json.RawMessage `json:"metadata"`
	FileContent [][]any         `json:"fileContent"`
	Type        string          `json:"type"`
	TotalLine   int             `json:"totalLine"`
	TotalPage   int             `json:"totalPage"`
	Page        int             `json:"page"`
}

// Columns returns the columns Metadata lists (none for a text result).
func (d FileData) Columns() []Column {
	var cols []Column
	_ = json.Unmarshal(d.Metadata, &cols)
	return cols
}

// millis is t in Unix milliseconds, 0 for the zero time.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// TaskOf converts a job record to its Linkis history form; now is used
// for the cost of a job that has not ended, logPath and resultDir are the
// job's whole log and result directory as the Jobs name them.
func TaskOf(j orchestrator.Job, instance string, now time.Time, logPath, resultDir string) Task {
	t := Task{
		TaskID:                 j.TaskID,
		Instance:               instance,
		ExecID:                 j.ExecID,
		StrongerExecID:         j.ExecID,
		UmUser:                 j.User,
		SubmitUser:             cmp.Or(j.Request.SubmitUser, j.User),
		ExecuteUser:            j.User,
		EngineInstance:         j.EC,
		ExecutionCode:          j.Request.ExecutionContent.Code,
		Progress:               strconv.FormatFloat(j.Progress, 'f', -1, 64),
		LogPath:                logPath,
		ResultLocation:         resultDir,
		ResultLocations:        j.Results,
		Status:                 stateName(j.State),
		CreatedTime:            millis(j.Created),
		UpdatedTime:            millis(j.Updated),
		CompletedTime:          millis(j.Ended),
		EngineType:             j.EngineType,
		RequestApplicationName: j.Creator,
		RunType:                j.Request.ExecutionContent.RunType,
		Attempts:               j.Attempts,
		Labels:                 []string{},
		CanRetry:               j.State == orchestrator.Failed || j.State == orchestrator.Timeout,
	}
	if ms := millis(j.Started); ms != 0 {
		t.EngineStartTime = &ms
	}
	if j.State.Final() && j.Reason != "" {
		reason := j.Reason
		t.ErrDesc = &reason
	}
	t.ExecuteApplicationName, _, _ = strings.Cut(j.EngineType, "-")
	if b, err := json.Marshal(j.Request.Params); err == nil {
		t.ParamsJSON = string(b)
	}
	if len(j.Request.Source) > 0 {
		if b, err := json.Marshal(j.Request.Source); err == nil {
			t.SourceJSON = string(b)
		}
		keys := make([]string, 0, len(j.Request.Source))
		for k := range j.Request.Source {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.SourceTailor += j.Request.Source[k] + " "
		}
		t.SourceTailor = strings.TrimSpace(t.SourceTailor)
	}
	for k, v := range j.Request.Labels {
		t.Labels = append(t.Labels, k+":"+v)
	}
	sort.Strings(t.Labels)
	switch {
	case !j.Ended.IsZero() && !j.Created.IsZero():
		t.CostTime = j.Ended.Sub(j.Created).Milliseconds()
	case !j.Created.IsZero():
		t.CostTime = now.Sub(j.Created).Milliseconds()
	}
	if t.CostTime < 0 {
		t.CostTime = 0
	}
	return t
}

// stateName is a state's name, "" for an unset one.
func stateName(s orchestrator.State) string {
	if s == 0 {
		return ""
	}
	return s.String()
}

// ProgressResourceData is the data of GET /entrance/{execID}/
// progressWithResource: the progress, and yarnResource, which is null here
// (no YARN queues are involved).
type ProgressResourceData struct {
	ProgressData
	YarnResource *struct{} `json:"yarnResource"`
}

// PlainLogData is the data of GET /entrance/{execID}/log with
// distinctLevel=false: the lines in one string.
type PlainLogData struct {
	Log      string `json:"log"`
	FromLine int    `json:"fromLine"`
	ExecID   string `json:"execID"`
}

// ExecIDData is the data of kill and pause.
type ExecIDData struct {
	ExecID string `json:"execID"`
}

// KillJobsData is the data of POST /entrance/{execID}/killJobs: one
// envelope per job named, in the order named.
type KillJobsData struct {
	Messages []Envelope `json:"messages"`
}

// KillJobsBody is the body of POST /entrance/{execID}/killJobs: exec ids
// and the task ids they go with, pairwise.
type KillJobsBody struct {
	IDList     []string `json:"idList"`
	TaskIDList []int64  `json:"taskIDList"`
}

// LoginBody is the body of POST /user/login. Linkis's clients send
// userName and password (the SDK adds source: "client").
type LoginBody struct {
	UserName string `json:"userName"`
	Password string `json:"password"`
}

// LoginData is the data of POST /user/login. SessionTimeOut is the idle
// timeout of the session, in milliseconds (the SDK reads it).
type LoginData struct {
	UserName        string `json:"userName"`
	IsAdmin         bool   `json:"isAdmin"`
	SessionTimeOut  int64  `json:"sessionTimeOut"`
	EnableWatermark bool   `json:"enableWatermark"`
}

// UserInfoData is the data of GET /user/userInfo.
type UserInfoData struct {
	UserName string `json:"userName"`
	IsAdmin  bool   `json:"isAdmin"`
}

// PublicKeyData is the data of GET /user/publicKey: logins are not
// RSA-encrypted here (use TLS), so the console sends the password as is.
type PublicKeyData struct {
	EnableSSL          bool `json:"enableSSL"`
	EnableLoginEncrypt bool `json:"enableLoginEncrypt"`
}

// AdminData is the data of GET /jobhistory/governanceStationAdmin.
type AdminData struct {
	Admin        bool   `json:"admin"`
	HistoryAdmin bool   `json:"historyAdmin"`
	DeptAdmin    bool   `json:"deptAdmin"`
	ErrorMsgTip  string `json:"errorMsgTip"`
}

// UndoneData is the data of GET /jobhistory/listundone: how many of the
// user's jobs have not ended.
type UndoneData struct {
	TotalPage int `json:"totalPage"`
}

// DirFileTree is a directory of result sets, as
// filesystem/getDirFileTrees answers (a leaf is one result-set file).
type DirFileTree struct {
	Name       string            `json:"name"`
	Path       string            `json:"path"`
	Properties map[string]string `json:"properties"`
	Children   []DirFileTree     `json:"children"`
	IsLeaf     bool              `json:"isLeaf"`
	ParentPath string            `json:"parentPath"`
}

// DirData is the data of GET /filesystem/getDirFileTrees; DirFileTrees is
// null for a directory that does not exist (yet).
type DirData struct {
	DirFileTrees *DirFileTree `json:"dirFileTrees"`
}

// OpenLogData is the data of GET /filesystem/openLog: the whole log as
// Linkis's four strings [error, warn, info, all].
type OpenLogData struct {
	Log [4]string `json:"log"`
}
