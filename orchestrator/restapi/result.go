package restapi

import (
	"bufio"
	"bytes"
	"io"
	"math"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// readPage reads page (from 1) of pageSize rows of a result-set file,
// returning its header, the page's rows and the file's row count,
// holding only that page in memory: the other rows are counted, not
// decoded. The header and the page's rows are checked by
// api.ReadResultSet (a bad row is reported by its number within the
// page). A file of more than maxRows rows is refused (maxRows ≤ 0: no
// limit), and so is a page whose rows hold more than maxBytes (a row can
// be up to api.MaxResultLine long: pageSize rows of them must not all be
// held).
func readPage(r io.Reader, page, pageSize, maxRows, maxBytes int) (api.ResultSetHeader, [][]any, int, error) {
	var hdr api.ResultSetHeader
	br := bufio.NewReaderSize(r, 64<<10)
	var buf bytes.Buffer
	header, err := nextLine(br, &buf)
	if err == io.EOF || (err == nil && header == 0) {
		return hdr, nil, 0, linkis.Errorf(linkis.ErrMalformed, "resultSet", "empty: a header line is required")
	}
	if err != nil {
		return hdr, nil, 0, err
	}
	lo := math.MaxInt
	if page-1 <= (math.MaxInt-pageSize)/pageSize {
		lo = (page - 1) * pageSize
	}
	total := 0
	for {
		keep := total >= lo && total < lo+pageSize
		var sink *bytes.Buffer
		if keep {
			sink = &buf
		}
		n, err := nextLine(br, sink)
		if err == io.EOF {
			break
		}
		if err != nil {
			return hdr, nil, 0, err
		}
		if keep && buf.Len() > maxBytes {
			return hdr, nil, 0, linkis.Errorf(linkis.ErrInvalidArgument, "pageSize", "page %d is larger than %d bytes; ask for fewer rows per page", page, maxBytes)
		}
		if n == 0 && !keep {
			return hdr, nil, 0, linkis.Errorf(linkis.ErrMalformed, "resultSet.rows", "row %d is empty", total+1)
		}
		total++
		if maxRows > 0 && total > maxRows {
			return hdr, nil, 0, linkis.Errorf(linkis.ErrMalformed, "resultSet.rows", "more than %d rows", maxRows)
		}
	}
	rs, err := api.ReadResultSet(&buf, 0)
	if err != nil {
		return hdr, nil, 0, err
	}
	return rs.ResultSetHeader, rs.Rows, total, nil
}

// nextLine reads one line, appending it with its "\n" to sink when sink
// is not nil, and returns its length without the "\n"; io.EOF when no
// line is left. A line over api.MaxResultLine is an error.
func nextLine(br *bufio.Reader, sink *bytes.Buffer) (int, error) {
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		n += len(chunk)
		if n > api.MaxResultLine+1 {
			return 0, linkis.Errorf(linkis.ErrMalformed, "resultSet", "a line is longer than %d bytes", api.MaxResultLine)
		}
		if sink != nil {
			sink.Write(chunk)
		}
		switch err {
		case nil:
			return n - 1, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if n == 0 {
				return 0, io.EOF
			}
			if sink != nil {
				sink.WriteByte('\n')
			}
			return n, nil
		default:
			return 0, err
		}
	}
}
