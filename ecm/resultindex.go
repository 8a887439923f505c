package ecm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"sort"
	"sync"
	"syscall"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// Result pages without reading a result file whole. A result-set file is
// a header line and one JSON line per row, appended while its task runs
// and never rewritten. The first page request of a file indexes it in one
// streaming pass: the offset of its first row, and a mark (row number,
// offset) at the first row starting at least markEvery bytes after the
// previous mark. A page then seeks to the last mark at or before its first
// row and skips less than markEvery bytes of lines, whatever the row
// number: memory is a few bytes per markEvery of file, and a page costs
// about its own size. The index is kept (a bounded cache) and extended
// when the file has grown; a file that shrank or was replaced is indexed
// again.

// markEvery is the distance in bytes between two marks of an index.
const markEvery = 64 << 10

// maxIndexes bounds the indexes an ECM keeps (least recently used go):
// each is 16 bytes per markEvery of its file (256 KiB for a 1 GiB file).
const maxIndexes = 256

type mark struct{ row, off int }

// rowIndex locates the rows of one result file, as it was up to end.
type rowIndex struct {
	dev, ino uint64
	first    int    // offset of row 0 (just past the header line)
	marks    []mark // ascending; marks[0] is {0, first}
	rows     int    // complete rows (ending in "\n") before end
	end      int    // offset just past the last complete row
}

// indexes caches row indexes by file path.
type indexes struct {
	mu    sync.Mutex
	clock uint64
	m     map[string]*cachedIndex
}

type cachedIndex struct {
	x    *rowIndex
	used uint64 // the clock at its last use, for eviction
}

func fileID(fi os.FileInfo) (dev, ino uint64) {
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st == nil {
		return 0, 0
	}
	return uint64(st.Dev), st.Ino
}

// cached returns the index of the file at key if it is current for fi
// (the same file, indexed up to its size), without building one.
func (c *indexes) cached(key string, fi os.FileInfo) (*rowIndex, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[key]
	dev, ino := fileID(fi)
	if e == nil || e.x.dev != dev || e.x.ino != ino || int64(e.x.end) != fi.Size() {
		return nil, false
	}
	return e.x, true
}

// get returns the index of f (at key, with fi its stat), building or
// extending it as needed. Indexes are never changed once stored (an
// extension is a new one), so concurrent pages share them freely.
func (c *indexes) get(key string, f *os.File, fi os.FileInfo) (*rowIndex, error) {
	c.mu.Lock()
	var x *rowIndex
	if e := c.m[key]; e != nil {
		c.clock++
		e.used, x = c.clock, e.x
	}
	c.mu.Unlock()
	dev, ino := fileID(fi)
	size := int(fi.Size())
	if x != nil && x.dev == dev && x.ino == ino && x.end <= size {
		if x.end == size {
			return x, nil
		}
		nx := *x
		nx.marks = nx.marks[:len(nx.marks):len(nx.marks)] // an append copies: x stays as it is
		if err := nx.scan(f, size); err != nil {
			return nil, err
		}
		x = &nx
	} else {
		var err error
		if x, err = buildIndex(f, size); err != nil {
			return nil, err
		}
		x.dev, x.ino = dev, ino
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*cachedIndex{}
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= maxIndexes {
		var oldest string
		for k, v := range c.m {
			if oldest == "" || v.used < c.m[oldest].used {
				oldest = k
			}
		}
		delete(c.m, oldest)
	}
	c.clock++
	c.m[key] = &cachedIndex{x: x, used: c.clock}
	return x, nil
}

// buildIndex indexes f's first size bytes: the header line, then rows.
func buildIndex(f *os.File, size int) (*rowIndex, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, int64(size)), 64<<10)
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if n += len(chunk); n > api.MaxResultHeader+1 {
			return nil, linkis.Errorf(linkis.ErrMalformed, "resultSet.header", "longer than %d bytes", api.MaxResultHeader)
		}
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			return nil, linkis.Errorf(linkis.ErrMalformed, "resultSet", "no complete header line (yet)")
		}
	}
	x := &rowIndex{first: n, end: n, marks: []mark{{0, n}}}
	return x, x.scan(f, size)
}

// scan extends the index over f from x.end to size.
func (x *rowIndex) scan(f *os.File, size int) error {
	buf := scanBufs.Get().(*[]byte)
	defer scanBufs.Put(buf)
	last := x.marks[len(x.marks)-1].off
	for pos := x.end; pos < size; {
		n, err := f.ReadAt((*buf)[:min(len(*buf), size-pos)], int64(pos))
		if n == 0 {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF // the file shrank under us
			}
			return err
		}
		chunk := (*buf)[:n]
		for base := pos; ; {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				break
			}
			x.rows++
			x.end = base + i + 1
			if x.end-last >= markEvery && x.end < size {
				x.marks = append(x.marks, mark{x.rows, x.end})
				last = x.end
			}
			chunk, base = chunk[i+1:], base+i+1
		}
		pos += n
		// A row still being written is at most a row long: a file that
		// goes on without a newline was not written by an engine, and is
		// not read through (each page would read it all again).
		if pos-x.end > api.MaxResultLine+1 {
			return linkis.Errorf(linkis.ErrMalformed, "resultSet", "row %d is longer than %d bytes", x.rows+1, api.MaxResultLine)
		}
	}
	return nil
}

var scanBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
var pageReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// page reads rows [from, from+size) of f (indexed by x), stopping after
// the row that reaches api.MaxResultPageBytes. Each row is checked (a
// JSON array with one value per column); the header is decoded.
func (x *rowIndex) page(f *os.File, from, size int) (api.ResultSetHeader, []json.RawMessage, int, error) {
	hline := make([]byte, x.first)
	if _, err := f.ReadAt(hline, 0); err != nil {
		return api.ResultSetHeader{}, nil, 0, err
	}
	hdr, err := api.DecodeResultHeader(bytes.TrimSuffix(hline, []byte("\n")))
	if err != nil {
		return hdr, nil, 0, err
	}
	rows := []json.RawMessage{}
	if from >= x.rows {
		return hdr, rows, x.rows, nil
	}
	i := sort.Search(len(x.marks), func(i int) bool { return x.marks[i].row > from }) - 1
	m := x.marks[i]
	br := pageReaders.Get().(*bufio.Reader)
	defer pageReaders.Put(br)
	br.Reset(io.NewSectionReader(f, int64(m.off), int64(x.end-m.off)))
	defer br.Reset(nil)
	for r := m.row; r < from; r++ {
		if err := skipLine(br); err != nil {
			return hdr, nil, 0, err
		}
	}
	total := 0
	next := from
	for next < x.rows && len(rows) < size && total < api.MaxResultPageBytes {
		line, err := rowLine(br)
		if err != nil {
			return hdr, nil, 0, err
		}
		if err := api.CheckResultRow(line, len(hdr.Columns)); err != nil {
			return hdr, nil, 0, linkis.Errorf(linkis.ErrMalformed, "resultSet.rows", "row %d: %v", next+1, err)
		}
		rows = append(rows, line)
		total += len(line)
		next++
	}
	return hdr, rows, next, nil
}

// skipLine reads past the next newline.
func skipLine(br *bufio.Reader) error {
	for {
		_, err := br.ReadSlice('\n')
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}

// rowLine reads one row line (a copy, without its newline), refusing one
// over api.MaxResultLine.
func rowLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > api.MaxResultLine+1 {
			return nil, linkis.Errorf(linkis.ErrMalformed, "resultSet", "a row is longer than %d bytes", api.MaxResultLine)
		}
		line = append(line, chunk...)
		switch err {
		case nil:
			return line[:len(line)-1], nil
		case bufio.ErrBufferFull:
			continue
		default:
			return nil, err
		}
	}
}
