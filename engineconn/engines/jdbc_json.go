package engines

import (
	"encoding/base64"
	"encoding/hex"
	"unicode/utf8"
)

// A valueEnc appends a column's value to a JSON row: v is the value as the
// database sent it in text form, nil for NULL. The jdbc engine streams
// these bytes straight into the result file, with no Go value between
// (numbers stay exact: a NUMERIC keeps its digits).
type valueEnc func(b, v []byte) []byte

// encNumber writes a number as a JSON number, and what JSON cannot hold
// (NaN, Infinity) as a string.
func encNumber(b, v []byte) []byte {
	switch {
	case v == nil:
		return append(b, "null"...)
	case isJSONNumber(v):
		return append(b, v...)
	}
	return appendJSONString(b, v)
}

// encBool writes PostgreSQL's t/f (and 1/0, true/false) as a JSON boolean.
func encBool(b, v []byte) []byte {
	switch string(v) {
	case "t", "true", "1":
		return append(b, "true"...)
	case "f", "false", "0":
		return append(b, "false"...)
	}
	return encText(b, v)
}

// encText writes text as a JSON string.
func encText(b, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, v)
}

// encBytes writes binary data as a base64 JSON string (as the result
// writer writes []byte).
func encBytes(b, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

// encPGBytea decodes PostgreSQL's hex text form of bytea (\x0a0b...) and
// writes it as base64.
func encPGBytea(b, v []byte) []byte {
	if len(v) >= 2 && v[0] == '\\' && v[1] == 'x' {
		raw := make([]byte, hex.DecodedLen(len(v)-2))
		if _, err := hex.Decode(raw, v[2:]); err == nil {
			return encBytes(b, raw)
		}
	}
	return encText(b, v)
}

// encBit writes a MySQL BIT value (big-endian bytes) as a number.
func encBit(b, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	if len(v) > 8 {
		return encBytes(b, v)
	}
	var n uint64
	for _, c := range v {
		n = n<<8 | uint64(c)
	}
	b = appendUint(b, n)
	return b
}

func appendUint(b []byte, n uint64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// isJSONNumber reports whether v is a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(v []byte) bool {
	i := 0
	if i < len(v) && v[i] == '-' {
		i++
	}
	switch {
	case i < len(v) && v[i] == '0':
		i++
	case i < len(v) && v[i] >= '1' && v[i] <= '9':
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(v) && v[i] == '.' {
		i++
		d := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		d := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(v)
}

// jsonSafe marks the ASCII bytes that need no escaping in a JSON string.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
