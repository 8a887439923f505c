package restapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/golinkis/golinkis/api"
)

// WriteTable prints a result set for people: a text result as its lines;
// a table with a header, a rule and one line per row, each column as wide
// as its widest value (numbers and their headers right-aligned, NULL for
// null), and the row count. Control characters in values are escaped so
// that a row stays one line and cannot drive the terminal.
func WriteTable(w io.Writer, rs api.ResultSet) error {
	bw := bufio.NewWriter(w)
	if rs.Type == "text" {
		for _, row := range rs.Rows {
			for i, v := range row {
				if i > 0 {
					bw.WriteByte('\t')
				}
				bw.WriteString(cell(v))
			}
			bw.WriteByte('\n')
		}
		return bw.Flush()
	}
	n := len(rs.Columns)
	width := make([]int, n)
	right := make([]bool, n)
	head := make([]string, n)
	for i, c := range rs.Columns {
		head[i] = escape(c.Name)
		width[i] = utf8.RuneCountInString(head[i])
	}
	cells := make([][]string, len(rs.Rows))
	for r, row := range rs.Rows {
		cells[r] = make([]string, n)
		for i := 0; i < n && i < len(row); i++ {
			cells[r][i] = cell(row[i])
			width[i] = max(width[i], utf8.RuneCountInString(cells[r][i]))
			if _, ok := row[i].(json.Number); ok {
				right[i] = true
			}
			if _, ok := row[i].(float64); ok {
				right[i] = true
			}
		}
	}
	line := func(vals []string, pad func(i int, s string) string) {
		for i, v := range vals {
			if i > 0 {
				bw.WriteString("  ")
			}
			s := pad(i, v)
			if i == n-1 {
				s = strings.TrimRight(s, " ")
			}
			bw.WriteString(s)
		}
		bw.WriteByte('\n')
	}
	line(head, func(i int, s string) string { return padTo(s, width[i], right[i]) })
	rule := make([]string, n)
	for i := range rule {
		rule[i] = strings.Repeat("-", width[i])
	}
	line(rule, func(_ int, s string) string { return s })
	for _, row := range cells {
		line(row, func(i int, s string) string { return padTo(s, width[i], right[i] && s != "NULL") })
	}
	fmt.Fprintf(bw, "(%d row%s)\n", len(rs.Rows), plural(len(rs.Rows)))
	return bw.Flush()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func padTo(s string, w int, right bool) string {
	gap := w - utf8.RuneCountInString(s)
	if gap <= 0 {
		return s
	}
	if right {
		return strings.Repeat(" ", gap) + s
	}
	return s + strings.Repeat(" ", gap)
}

// cell formats one value.
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return escape(v)
	case json.Number:
		return v.String()
	case bool, float64, int, int64:
		return fmt.Sprint(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return escape(fmt.Sprint(v))
		}
		return escape(string(b))
	}
}

// escape replaces control characters (and invalid UTF-8) so that a value
// prints on one line and cannot drive the terminal.
func escape(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == utf8.RuneError }) {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ProgressLine is the one-line progress indicator of a job on a
// terminal: "[####      ]  40% Running exec_12" (a bar of width cells;
// progress is clamped to 0..1).
func ProgressLine(progress float64, status, execID string, width int) string {
	if !(progress >= 0) { // also NaN
		progress = 0
	}
	progress = min(progress, 1)
	width = max(width, 1)
	full := int(progress * float64(width))
	return fmt.Sprintf("[%s%s] %3d%% %s %s", strings.Repeat("#", full), strings.Repeat(" ", width-full),
		int(progress*100), escape(status), escape(execID))
}
