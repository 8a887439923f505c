package restapi

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// A fast path for the rows of a result-set file (a JSON array of values
// per line) when they are downloaded: each value is split out as text
// without building a []any, which is most of what a download of a large
// result costs. A row holding an object or an array, or anything the
// splitter does not expect, is decoded by encoding/json instead.

// Cell kinds.
const (
	cellString = 's'
	cellNumber = 'n'
	cellBool   = 'b'
	cellNull   = 'z'
	cellJSON   = 'j' // an object or an array, as its JSON text
)

// rowCell is one value of a row: its text (a string unescaped) and kind.
type rowCell struct {
	text []byte
	kind byte
}

var errSlowRow = errors.New("row needs the full decoder")

// splitRow splits line, a JSON array of scalars, into cells (reusing
// dst). It returns errSlowRow for a row it does not handle.
func splitRow(line []byte, dst []rowCell) ([]rowCell, error) {
	dst = dst[:0]
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '[' {
		return nil, errSlowRow
	}
	i = skipSpace(line, i+1)
	if i < len(line) && line[i] == ']' {
		return dst, trailing(line, i+1)
	}
	for {
		if i >= len(line) {
			return nil, errSlowRow
		}
		switch c := line[i]; {
		case c == '"':
			j, ascii := i+1, true
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' || line[j] < 0x20 {
					return nil, errSlowRow
				}
				ascii = ascii && line[j] < 0x80
				j++
			}
			if j >= len(line) || !ascii && !utf8.Valid(line[i+1:j]) {
				return nil, errSlowRow
			}
			dst = append(dst, rowCell{text: line[i+1 : j], kind: cellString})
			i = j + 1
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(line) && (line[j] >= '0' && line[j] <= '9' || line[j] == '.' || line[j] == 'e' || line[j] == 'E' || line[j] == '+' || line[j] == '-') {
				j++
			}
			if !json.Valid(line[i:j]) {
				return nil, errSlowRow
			}
			dst = append(dst, rowCell{text: line[i:j], kind: cellNumber})
			i = j
		case hasWord(line, i, "true"), hasWord(line, i, "false"):
			n := 4
			if c == 'f' {
				n = 5
			}
			dst = append(dst, rowCell{text: line[i : i+n], kind: cellBool})
			i += n
		case hasWord(line, i, "null"):
			dst = append(dst, rowCell{kind: cellNull})
			i += 4
		default:
			return nil, errSlowRow
		}
		i = skipSpace(line, i)
		if i >= len(line) {
			return nil, errSlowRow
		}
		if line[i] == ']' {
			return dst, trailing(line, i+1)
		}
		if line[i] != ',' {
			return nil, errSlowRow
		}
		i = skipSpace(line, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

func hasWord(b []byte, i int, w string) bool {
	return len(b)-i >= len(w) && string(b[i:i+len(w)]) == w
}

func trailing(b []byte, i int) error {
	if skipSpace(b, i) != len(b) {
		return errSlowRow
	}
	return nil
}

// cellsOf turns decoded values (the slow path) into cells.
func cellsOf(row []any, dst []rowCell) []rowCell {
	dst = dst[:0]
	for _, v := range row {
		switch v := v.(type) {
		case nil:
			dst = append(dst, rowCell{kind: cellNull})
		case string:
			dst = append(dst, rowCell{text: []byte(v), kind: cellString})
		case json.Number:
			dst = append(dst, rowCell{text: []byte(v), kind: cellNumber})
		case bool:
			if v {
				dst = append(dst, rowCell{text: []byte("true"), kind: cellBool})
			} else {
				dst = append(dst, rowCell{text: []byte("false"), kind: cellBool})
			}
		default:
			b, _ := json.Marshal(v)
			dst = append(dst, rowCell{text: b, kind: cellJSON})
		}
	}
	return dst
}
