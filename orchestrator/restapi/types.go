package restapi

import (
	"encoding/json"
	"path/filepath"
	"sort"
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

// Task is a job history record with Linkis's field names (QueryTaskVO)
// as far as they map: times are Unix milliseconds, progress is 0..1,
// labels are "key:value" strings. ResultLocation is, as in Linkis, the
// directory of the result sets; ResultLocations (an addition) lists the
// result-set files in order, each a path openFile accepts.
type Task struct {
	TaskID                 int64    `json:"taskID"`
	Instance               string   `json:"instance"`
	ExecID                 string   `json:"execId"`
	UmUser                 string   `json:"umUser"`
	SubmitUser             string   `json:"submitUser"`
	ExecuteUser            string   `json:"executeUser"`
	EngineInstance         string   `json:"engineInstance"`
	ExecutionCode          string   `json:"executionCode"`
	Progress               float64  `json:"progress"`
	LogPath                string   `json:"logPath"`
	ResultLocation         string   `json:"resultLocation"`
	ResultLocations        []string `json:"resultLocations,omitempty"`
	Status                 string   `json:"status"`
	CreatedTime            int64    `json:"createdTime"`
	UpdatedTime            int64    `json:"updatedTime"`
	EngineStartTime        int64    `json:"engineStartTime,omitempty"`
	CompletedTime          int64    `json:"completedTime,omitempty"`
	EngineType             string   `json:"engineType"`
	ErrCode                int      `json:"errCode,omitempty"`
	ErrDesc                string   `json:"errDesc,omitempty"`
	ExecuteApplicationName string   `json:"executeApplicationName"`
	RequestApplicationName string   `json:"requestApplicationName"`
	RunType                string   `json:"runType"`
	ParamsJSON             string   `json:"paramsJson"`
	SourceJSON             string   `json:"sourceJson,omitempty"`
	Labels                 []string `json:"labels"`
	CostTime               int64    `json:"costTime"` // milliseconds
	Attempts               int      `json:"attempts,omitempty"`
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
// result set. FileContent holds the page's rows, one value per column
// (a text result has one column, a line per row); TotalLine counts the
// rows of the whole file.
type FileData struct {
	Metadata    []Column `json:"metadata"`
	FileContent [][]any  `json:"fileContent"`
	Type        string   `json:"type"`
	TotalLine   int      `json:"totalLine"`
	TotalPage   int      `json:"totalPage"`
	Page        int      `json:"page"`
}

// millis is t in Unix milliseconds, 0 for the zero time.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// TaskOf converts a job record to its Linkis history form; now is used
// for the cost of a job that has not ended.
func TaskOf(j orchestrator.Job, instance string, now time.Time) Task {
	t := Task{
		TaskID:                 j.TaskID,
		Instance:               instance,
		ExecID:                 j.ExecID,
		UmUser:                 j.User,
		SubmitUser:             j.User,
		ExecuteUser:            j.User,
		EngineInstance:         j.EC,
		ExecutionCode:          j.Request.ExecutionContent.Code,
		Progress:               j.Progress,
		ResultLocations:        j.Results,
		Status:                 stateName(j.State),
		CreatedTime:            millis(j.Created),
		UpdatedTime:            millis(j.Updated),
		EngineStartTime:        millis(j.Started),
		CompletedTime:          millis(j.Ended),
		EngineType:             j.EngineType,
		ErrDesc:                j.Reason,
		RequestApplicationName: j.Creator,
		RunType:                j.Request.ExecutionContent.RunType,
		Attempts:               j.Attempts,
		Labels:                 []string{},
	}
	t.ExecuteApplicationName, _, _ = strings.Cut(j.EngineType, "-")
	if len(j.Results) > 0 {
		t.ResultLocation = filepath.Dir(j.Results[0])
	}
	if b, err := json.Marshal(j.Request.Params); err == nil {
		t.ParamsJSON = string(b)
	}
	if len(j.Request.Source) > 0 {
		if b, err := json.Marshal(j.Request.Source); err == nil {
			t.SourceJSON = string(b)
		}
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
