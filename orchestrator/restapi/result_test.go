package restapi

import (
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/linkis"
)

// pageOf is openFile's answer for a page read by readPage.
func pageOf(r io.Reader, page, size, maxRows, maxBytes int) (FileData, error) {
	hdr, rows, total, err := readPage(r, page, size, maxRows, maxBytes)
	if err != nil {
		return FileData{}, err
	}
	return fileData(hdr, rows, total, page, size, LinkisNull), nil
}

// readPage gives the same rows as cutting the whole file into pages,
// counts every row, and checks the rows it returns.
func TestReadPage(t *testing.T) {
	const header = `{"type":"table","columns":[{"name":"n","type":"INTEGER"}]}`
	file := header + "\n[1]\n[2]\n[3]\n[4]\n[5]\n[6]\n[7]" // no final newline
	for _, tc := range []struct {
		page, size int
		want       string
		pages      int
	}{
		{1, 3, "1,2,3", 3}, {2, 3, "4,5,6", 3}, {3, 3, "7", 3}, {4, 3, "", 3},
		{1, 7, "1,2,3,4,5,6,7", 1}, {1, 100, "1,2,3,4,5,6,7", 1}, {math.MaxInt, MaxFilePageSize, "", 1},
	} {
		d, err := pageOf(strings.NewReader(file), tc.page, tc.size, 0, MaxPageBytes)
		if err != nil {
			t.Fatalf("page %d of %d: %v", tc.page, tc.size, err)
		}
		var got []string
		for _, r := range d.FileContent {
			got = append(got, r[0].(string))
		}
		if strings.Join(got, ",") != tc.want || d.TotalLine != 7 || d.TotalPage != tc.pages || d.Page != tc.page {
			t.Errorf("page %d of %d: %v, %d lines, %d pages", tc.page, tc.size, got, d.TotalLine, d.TotalPage)
		}
	}
	for _, tc := range []struct {
		name, file string
		page       int
		want       string
	}{
		{"empty", "", 1, "empty"},
		{"bad header", `{"type":"chart","columns":[]}` + "\n", 1, "table or text"},
		{"bad row on the page", header + "\n[1]\n[\"x\",2]\n", 2, "2 values for 1 columns"},
		{"blank row off the page", header + "\n[1]\n\n[3]\n", 3, "row 2 is empty"},
		{"too many rows", header + "\n[1]\n[2]\n[3]\n[4]\n", 1, "more than 3 rows"},
	} {
		_, _, _, err := readPage(strings.NewReader(tc.file), tc.page, 1, 3, MaxPageBytes)
		if !errors.Is(err, linkis.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
