package restapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

// The file system API (Linkis's FsRestfulApi), over the only files users
// have here: their jobs' result sets and logs. Paths are the ones the job
// history gives (resultLocation, logPath, the result-set paths
// getDirFileTrees lists), each in exactly one spelling: anything else -
// another user's, "..", an encoded form, another scheme - is refused
// before anything is read.
var filesystemRoutes = []route{
	{methods: get, pattern: "/filesystem/getUserRootPath", handle: (*handler).userRootPath},
	{methods: get, pattern: "/filesystem/getDirFileTrees", handle: (*handler).dirFileTrees},
	{methods: get, pattern: "/filesystem/openFile", handle: (*handler).openFile},
	{methods: get, pattern: "/filesystem/openLog", handle: (*handler).openLog},
	{methods: get, pattern: "/filesystem/resultsetToExcel", handle: (*handler).resultsetToExcel},
	{methods: get, pattern: "/filesystem/resultsetsToExcel", handle: (*handler).resultsetsToExcel},
}

// LinkisNull is the nullValue that keeps nulls null (the SDK's default).
const LinkisNull = "LINKIS_NULL"

// checkPath refuses a path that cannot name anything of a user's: empty,
// too long, not UTF-8, with a NUL or control character.
func checkPath(p string) error {
	if p == "" {
		return linkis.Errorf(linkis.ErrInvalidArgument, "path", "required")
	}
	if len(p) > maxPathBytes || !utf8.ValidString(p) || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return linkis.Errorf(linkis.ErrInvalidArgument, "path", "must be valid UTF-8 of at most %d bytes, without NUL or other control characters", maxPathBytes)
	}
	return nil
}

// userRootPath answers where the caller's result directories are
// (userLocalRootPath; userHDFSRootPath when pathType=hdfs: there is one
// root here).
func (h *handler) userRootPath(c *apiCall) *reply {
	key := "userLocalRootPath"
	if strings.EqualFold(c.r.URL.Query().Get("pathType"), "hdfs") {
		key = "userHDFSRootPath"
	}
	return &reply{data: map[string]string{key: h.jobs.ResultRoot(c.user)}}
}

// mayRead reports whether the caller may read user's files.
func (c *apiCall) mayRead(user string) error {
	if user == c.user || c.admin {
		return nil
	}
	return linkis.Errorf(linkis.ErrPermission, "path", "not one of your directories")
}

// dirFileTrees lists a job's result sets (path: its resultLocation), or
// the caller's jobs that have results (path: the root getUserRootPath
// gives; the newest 500). A job that does not exist answers null, as
// Linkis answers a directory that does not.
func (h *handler) dirFileTrees(c *apiCall) *reply {
	p := c.r.URL.Query().Get("path")
	if err := checkPath(p); err != nil {
		return &reply{err: err}
	}
	user, taskID, err := h.jobs.ParseResultLocation(p)
	if err != nil {
		return &reply{err: linkis.ValueError(linkis.ErrPermission, "path", clip(p), "not one of your result directories")}
	}
	if err := c.mayRead(user); err != nil {
		return &reply{err: err}
	}
	ctx := readCtx(c.r)
	if taskID == 0 {
		var jobs []orchestrator.Job
		if user == c.user {
			jobs, _, err = h.jobs.List(ctx, user, orchestrator.ListQuery{Page: 1, PageSize: MaxListPageSize})
		} else {
			jobs, _, err = h.jobs.ListAll(ctx, user, orchestrator.ListQuery{Page: 1, PageSize: MaxListPageSize})
		}
		if err != nil {
			return &reply{err: err}
		}
		tree := &DirFileTree{Name: user, Path: p, Properties: map[string]string{}, Children: []DirFileTree{}}
		for _, j := range jobs {
			if len(j.Results) == 0 {
				continue
			}
			tree.Children = append(tree.Children, DirFileTree{Name: formatID(j.TaskID), Path: h.jobs.ResultLocation(user, j.TaskID),
				Properties: map[string]string{}, Children: []DirFileTree{}, ParentPath: p})
		}
		return &reply{data: DirData{DirFileTrees: tree}}
	}
	var job orchestrator.Job
	if c.admin {
		job, err = h.jobs.JobAny(ctx, taskID)
	} else {
		job, err = h.jobs.Job(ctx, c.user, taskID)
	}
	switch {
	case errors.Is(err, linkis.ErrUnknownJob):
		return &reply{data: DirData{}}
	case err != nil:
		return &reply{err: err}
	case job.User != user:
		return &reply{err: linkis.Errorf(linkis.ErrPermission, "path", "not one of your directories")}
	}
	tree := &DirFileTree{Name: formatID(taskID), Path: p, Properties: map[string]string{}, Children: []DirFileTree{}}
	for _, r := range job.Results {
		props := map[string]string{}
		if !job.Ended.IsZero() {
			props["modifytime"] = strconv.FormatInt(job.Ended.UnixMilli(), 10)
		}
		tree.Children = append(tree.Children, DirFileTree{Name: r[strings.LastIndexByte(r, '/')+1:], Path: r,
			Properties: props, Children: []DirFileTree{}, IsLeaf: true, ParentPath: p})
	}
	return &reply{data: DirData{DirFileTrees: tree}}
}

// resultOwner is whose result set path is, as far as the caller may read
// it: the caller's, or for an administrator the user its directory names.
func (h *handler) resultOwner(c *apiCall, p string) (string, error) {
	if !c.admin {
		return c.user, nil
	}
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return c.user, nil
	}
	user, _, err := h.jobs.ParseResultLocation(p[:i])
	if err != nil {
		return c.user, nil
	}
	return user, nil
}

// resultErr says what is wrong with a result path, without saying more
// than that it is not one of the caller's.
func resultErr(p string, err error) error {
	switch {
	case errors.Is(err, linkis.ErrPermission):
		return linkis.ValueError(linkis.ErrPermission, "path", clip(p), "not one of your result-set files")
	case errors.Is(err, linkis.ErrUnknownJob):
		return linkis.ValueError(linkis.ErrUnknownJob, "path", clip(p), "no job of yours has this result")
	}
	return err
}

// checkCharset refuses a charset this server cannot write.
func checkCharset(cs string) error {
	if cs == "" {
		return nil
	}
	if _, err := htmlindex.Get(cs); err != nil {
		return linkis.ValueError(linkis.ErrInvalidArgument, "charset", clip(cs), "not a character set this server knows (utf-8, gbk, iso-8859-1, ...)")
	}
	return nil
}

// openFile answers one page of a result set, as Linkis's clients read it:
// cells as strings, metadata the columns with Linkis's type names (or
// "NULL" for text). nullValue says what a null cell becomes: LINKIS_NULL
// keeps it null (the SDK's default), another value replaces it (and, as
// in Linkis, an empty string too), no value makes it "NULL". The answer
// is JSON, in UTF-8 whatever charset says (which must still name one).
func (h *handler) openFile(c *apiCall) *reply {
	q := c.r.URL.Query()
	p := q.Get("path")
	if err := checkPath(p); err != nil {
		return &reply{err: err}
	}
	page, err := intParam(c.r, "page", 1, 1)
	if err != nil {
		return &reply{err: err}
	}
	pageSize, err := intParam(c.r, "pageSize", DefaultFilePageSize, 1)
	if err != nil {
		return &reply{err: err}
	}
	if pageSize > MaxFilePageSize {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "pageSize", "at most %d, got %d", MaxFilePageSize, pageSize)}
	}
	if err := checkCharset(q.Get("charset")); err != nil {
		return &reply{err: err}
	}
	nullValue := q.Get("nullValue")
	if strings.EqualFold(nullValue, "BLANK") {
		nullValue = ""
	}
	owner, err := h.resultOwner(c, p)
	if err != nil {
		return &reply{err: err}
	}
	from := math.MaxInt
	if page-1 <= (math.MaxInt-pageSize)/pageSize {
		from = (page - 1) * pageSize
	}
	ctx := readCtx(c.r)
	rp, err := h.jobs.ResultPage(ctx, owner, p, from, pageSize, MaxPageBytes)
	var le *linkis.Error
	if errors.As(err, &le) && errors.Is(err, linkis.ErrUnknownNode) && le.Field == "result" {
		// An imported result: read it whole, keeping only the page.
		return h.openLocal(c, owner, p, page, pageSize, nullValue)
	}
	if err != nil {
		return &reply{err: resultErr(p, err)}
	}
	rows, err := rp.Values()
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: fileData(rp.Header, rows, rp.Total, page, pageSize, nullValue)}
}

func (h *handler) openLocal(c *apiCall, owner, p string, page, pageSize int, nullValue string) *reply {
	f, name, err := h.jobs.OpenResult(readCtx(c.r), owner, p)
	if err != nil {
		return &reply{err: resultErr(p, err)}
	}
	defer f.Close()
	hdr, rows, total, err := readPage(f, page, pageSize, h.cfg.MaxResultRows, MaxPageBytes)
	if err != nil {
		if errors.Is(err, linkis.ErrMalformed) || errors.Is(err, linkis.ErrInvalidArgument) {
			return &reply{err: err}
		}
		return &reply{err: fmt.Errorf("read result set %s: %w", name, err)}
	}
	return &reply{data: fileData(hdr, rows, total, page, pageSize, nullValue)}
}

// openLog answers the whole log of a job (path: its logPath) as Linkis's
// four strings. An administrator may read anyone's (Linkis's proxyUser
// parameter is not needed: the path names whose it is).
func (h *handler) openLog(c *apiCall) *reply {
	p := c.r.URL.Query().Get("path")
	if err := checkPath(p); err != nil {
		return &reply{err: err}
	}
	user, taskID, err := h.jobs.ParseLogLocation(p)
	if err != nil {
		return &reply{err: linkis.ValueError(linkis.ErrPermission, "path", clip(p), "not the log of a job of yours")}
	}
	if err := c.mayRead(user); err != nil {
		return &reply{err: err}
	}
	ctx := readCtx(c.r)
	job, err := h.jobs.JobAny(ctx, taskID)
	if err == nil && job.User != user {
		err = linkis.Errorf(linkis.ErrPermission, "path", "not the log of a job of yours")
	}
	if err != nil {
		return &reply{err: err}
	}
	var lines []string
	bytes := 0
	for from := 0; ; {
		pg, err := h.jobs.Log(ctx, user, job.ExecID, from, MaxLogSize)
		if err != nil {
			return &reply{err: err}
		}
		for _, l := range pg.Lines {
			bytes += len(l) + 1
		}
		if bytes > MaxOpenLogBytes {
			return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "path",
				"the log is larger than %d MiB; read it by pages (GET %s/entrance/%s/log?fromLine=N)", MaxOpenLogBytes>>20, Prefix, job.ExecID)}
		}
		lines = append(lines, pg.Lines...)
		if len(pg.Lines) == 0 || pg.Complete || pg.Next <= from {
			break
		}
		from = pg.Next
	}
	return &reply{data: OpenLogData{Log: SplitLog(lines)}}
}

// linkisType is the type name Linkis's clients know for a column type of
// ours (SQLite's, or a database's): the SDK converts cells by it.
func linkisType(t string) string {
	switch strings.ToUpper(t) {
	case "INTEGER", "BIGINT", "INT8", "LONG":
		return "bigint"
	case "INT", "INT4", "MEDIUMINT":
		return "int"
	case "SMALLINT", "INT2":
		return "short"
	case "TINYINT":
		return "tinyint"
	case "REAL", "DOUBLE", "DOUBLE PRECISION", "FLOAT8":
		return "double"
	case "FLOAT", "FLOAT4":
		return "float"
	case "DECIMAL", "NUMERIC":
		return "decimal"
	case "BOOLEAN", "BOOL":
		return "boolean"
	case "DATE":
		return "date"
	case "TIMESTAMP", "DATETIME", "TIMESTAMPTZ":
		return "timestamp"
	case "CHAR":
		return "char"
	case "VARCHAR":
		return "varchar"
	case "BLOB", "BINARY", "VARBINARY", "BYTEA":
		return "binary"
	}
	return "string"
}

// numericType reports whether a Linkis type name is a number's.
func numericType(t string) bool {
	switch t {
	case "bigint", "int", "short", "tinyint", "double", "float", "decimal":
		return true
	}
	return false
}

// fitsType reports whether a cell's text is read by Linkis's SDK as a
// value of typ (UJESClientUtils.evaluate parses int, bigint, double...
// and fails on anything else).
func fitsType(typ, s string) bool {
	var err error
	switch typ {
	case "bigint":
		_, err = strconv.ParseInt(s, 10, 64)
	case "int":
		_, err = strconv.ParseInt(s, 10, 32)
	case "short":
		_, err = strconv.ParseInt(s, 10, 16)
	case "tinyint":
		_, err = strconv.ParseInt(s, 10, 8)
	case "double", "float", "decimal":
		_, err = strconv.ParseFloat(s, 64)
	case "boolean":
		if s != "true" && s != "false" {
			err = strconv.ErrSyntax
		}
	}
	return err == nil
}

// cellText is a cell as Linkis's clients read it: text, or nil for a null
// kept null.
func cellText(v any, nullValue string) any {
	switch v := v.(type) {
	case nil:
		switch nullValue {
		case LinkisNull:
			return nil
		case "":
			return "NULL"
		}
		return nullValue
	case string:
		if v == "" && nullValue != "" && nullValue != LinkisNull {
			return nullValue
		}
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}

// fileData is openFile's answer for a page of rows of a result set. A
// column whose type is numeric is sent as "string" for a page holding a
// cell that does not read as that type (SQLite lets a column hold any
// value), so that the SDK's conversion cannot fail.
func fileData(hdr api.ResultSetHeader, rows [][]any, total, page, pageSize int, nullValue string) FileData {
	d := FileData{Type: FileTypeTable, TotalLine: total, Page: page, FileContent: make([][]any, len(rows))}
	d.TotalPage = max(1, total/pageSize+min(1, total%pageSize))
	for i, row := range rows {
		out := make([]any, len(row))
		for j, v := range row {
			out[j] = cellText(v, nullValue)
		}
		d.FileContent[i] = out
	}
	if hdr.Type == "text" {
		d.Type = FileTypeText
		d.Metadata = json.RawMessage(`"NULL"`)
		return d
	}
	cols := make([]Column, len(hdr.Columns))
	for j, col := range hdr.Columns {
		cols[j] = Column{ColumnName: col.Name, DataType: linkisType(col.Type), Comment: "NULL"}
		if !numericType(cols[j].DataType) && cols[j].DataType != "boolean" {
			continue
		}
		for i := range rows {
			if s, ok := d.FileContent[i][j].(string); ok && s != "null" && s != "NULL" && s != "Null" && !fitsType(cols[j].DataType, s) {
				cols[j].DataType = "string"
				break
			}
		}
	}
	d.Metadata, _ = json.Marshal(cols)
	return d
}
