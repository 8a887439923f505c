package engines

import "strings"

// sqlDialect is what the statement splitter must know of a dialect's
// lexical rules to find the ';' that end statements.
type sqlDialect struct {
	backslashEscapes bool // '...' and "..." take backslash escapes (MySQL)
	eStrings         bool // E'...' takes backslash escapes (PostgreSQL)
	dollarQuotes     bool // $tag$ ... $tag$ (PostgreSQL)
	nestedComments   bool // /* /* */ */ nest (PostgreSQL)
	hashComments     bool // # starts a comment to the end of the line (MySQL)
	dashNeedsSpace   bool // -- starts a comment only before a blank or the end (MySQL)
	brackets         bool // [identifier] (SQLite)
	// blocks are the kinds of CREATE statement whose body is a BEGIN ...
	// END block holding ';' (SQLite and MySQL triggers, MySQL procedures,
	// functions and events, PostgreSQL's BEGIN ATOMIC bodies).
	blocks []string
}

var (
	sqliteDialect   = sqlDialect{brackets: true, blocks: []string{"TRIGGER"}}
	postgresDialect = sqlDialect{eStrings: true, dollarQuotes: true, nestedComments: true, blocks: []string{"FUNCTION", "PROCEDURE"}}
	mysqlDialect    = sqlDialect{backslashEscapes: true, hashComments: true, dashNeedsSpace: true,
		blocks: []string{"TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"}}
)

// splitSQL splits SQLite code into statements (see splitStatements).
func splitSQL(code string) []string { return splitStatements(code, sqliteDialect) }

// splitStatements splits code into statements at ';' outside strings,
// quoted identifiers, comments and dollar quotes, as the dialect writes
// them; the body of a CREATE TRIGGER/PROCEDURE/FUNCTION/EVENT (BEGIN ...
// END, with CASE ... END inside) stays whole. Comments are kept with the
// statement they are in; statements of comments only are dropped, except
// MySQL's executable /*! ... */ comments, which are code.
func splitStatements(code string, d sqlDialect) []string {
	var out []string
	start, depth := 0, 0 // depth: BEGIN/CASE ... END nesting inside a block body
	block, code0 := false, false
	flush := func(end int) {
		if code0 {
			out = append(out, strings.TrimSpace(code[start:end]))
		}
		start = end + 1
		block, depth, code0 = false, 0, false
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			escapes := d.backslashEscapes && c != '`' ||
				d.eStrings && c == '\'' && i > 0 && (code[i-1] == 'E' || code[i-1] == 'e') && (i == 1 || !isWordByte(code[i-2]))
			i = skipQuoted(code, i, c, escapes)
			code0 = true
		case c == '[' && d.brackets:
			for i < len(code) && code[i] != ']' {
				i++
			}
			code0 = true
		case c == '$' && d.dollarQuotes && (i == 0 || !isWordByte(code[i-1])):
			if end := skipDollarQuote(code, i); end > i {
				i = end
			}
			code0 = true
		case c == '-' && i+1 < len(code) && code[i+1] == '-' &&
			(!d.dashNeedsSpace || i+2 >= len(code) || code[i+2] <= ' '),
			c == '#' && d.hashComments:
			for i < len(code) && code[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(code) && code[i+1] == '*':
			if d.hashComments && i+2 < len(code) && code[i+2] == '!' {
				code0 = true // MySQL runs /*! ... */
			}
			i = skipComment(code, i, d.nestedComments)
		case isWordStart(code, i):
			code0 = true
			w := wordAt(code, i)
			switch up := strings.ToUpper(w); {
			case !block && containsFold(d.blocks, up) && strings.EqualFold(firstWord(code[start:]), "CREATE"):
				block = true
			case block && (up == "BEGIN" || up == "CASE"):
				depth++
			case block && up == "END" && depth > 0 && !endsCompound(code[i+len(w):]):
				depth--
				if rest := code[i+len(w):]; strings.EqualFold(nextWord(rest), "CASE") {
					// END CASE closes a CASE statement: its CASE opens nothing.
					w = code[i : i+len(w)+strings.Index(rest, nextWord(rest))+len("CASE")]
				}
			}
			i += len(w) - 1
		case c == ';' && !(block && depth > 0):
			flush(i)
		case c > ' ':
			code0 = true
		}
	}
	if start < len(code) {
		flush(len(code))
	}
	return out
}

// skipQuoted returns the index of the quote that closes the one at i (a
// doubled quote is part of the text; with escapes so is a backslashed
// one), or the end of code.
func skipQuoted(code string, i int, q byte, escapes bool) int {
	j := i + 1
	for j < len(code) {
		switch {
		case escapes && code[j] == '\\':
			j += 2
			continue
		case code[j] == q:
			if j+1 < len(code) && code[j+1] == q {
				j += 2
				continue
			}
			return j
		}
		j++
	}
	return len(code)
}

// skipDollarQuote returns the index of the last '$' of the dollar quote
// opening at i ($tag$ ... $tag$), the end of code when it is not closed,
// or i when no dollar quote opens there ($1 is a parameter).
func skipDollarQuote(code string, i int) int {
	j := i + 1
	for j < len(code) {
		c := code[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80 || c >= '0' && c <= '9' && j > i+1) {
			break
		}
		j++
	}
	if j >= len(code) || code[j] != '$' {
		return i
	}
	tag := code[i : j+1]
	end := strings.Index(code[j+1:], tag)
	if end < 0 {
		return len(code)
	}
	return j + 1 + end + len(tag) - 1
}

// skipComment returns the index of the '/' that closes the comment opening
// at i, or the end of code.
func skipComment(code string, i int, nested bool) int {
	depth := 0
	for j := i; j+1 < len(code); j++ {
		switch {
		case code[j] == '/' && code[j+1] == '*' && (nested || depth == 0):
			depth++
			j++
		case code[j] == '*' && code[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j
			}
		}
	}
	return len(code)
}

// skipLeadingComments returns st past its leading blanks and comments as
// the dialect writes them (nested /* */ in PostgreSQL, # and "-- " in
// MySQL); "" when nothing but comments is left. A MySQL /*! ... */ comment
// is code, so it stops there.
func skipLeadingComments(st string, d sqlDialect) string {
	for {
		st = strings.TrimLeft(st, " \t\r\n\f\v")
		switch {
		case strings.HasPrefix(st, "--") && (!d.dashNeedsSpace || len(st) == 2 || st[2] <= ' '),
			strings.HasPrefix(st, "#") && d.hashComments:
			i := strings.IndexByte(st, '\n')
			if i < 0 {
				return ""
			}
			st = st[i+1:]
		case strings.HasPrefix(st, "/*") && !(d.hashComments && strings.HasPrefix(st, "/*!")):
			i := skipComment(st, 0, d.nestedComments)
			if i >= len(st) {
				return "" // unterminated: the server refuses it
			}
			st = st[i+1:]
		default:
			return st
		}
	}
}

// nextWord is the word that starts rest after blanks ("" if none).
func nextWord(rest string) string {
	rest = strings.TrimLeft(rest, " \t\r\n")
	if rest == "" || !isWordStart(rest, 0) {
		return ""
	}
	return wordAt(rest, 0)
}

// endsCompound reports whether the word after an END closes a MySQL
// compound statement that was not counted as opening a block (END IF,
// END LOOP, END WHILE, END REPEAT).
func endsCompound(rest string) bool {
	switch strings.ToUpper(nextWord(rest)) {
	case "IF", "LOOP", "WHILE", "REPEAT":
		return true
	}
	return false
}

func containsFold(list []string, up string) bool {
	for _, s := range list {
		if s == up {
			return true
		}
	}
	return false
}

func firstWord(s string) string {
	s = strings.TrimLeft(s, " \t\r\n(")
	end := strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_')
	})
	if end < 0 {
		return s
	}
	return s[:end]
}

func isWordStart(s string, i int) bool {
	c := s[i]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
		return false
	}
	return i == 0 || !isWordByte(s[i-1])
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$'
}

func wordAt(s string, i int) string {
	j := i
	for j < len(s) && isWordByte(s[j]) {
		j++
	}
	return s[i:j]
}

// stripComments removes -- and /* */ comments (for telling what kind of
// statement a SQLite statement is).
func stripComments(st string) string {
	var b strings.Builder
	for i := 0; i < len(st); i++ {
		switch {
		case st[i] == '-' && i+1 < len(st) && st[i+1] == '-':
			for i < len(st) && st[i] != '\n' {
				i++
			}
		case st[i] == '/' && i+1 < len(st) && st[i+1] == '*':
			j := strings.Index(st[i+2:], "*/")
			if j < 0 {
				i = len(st)
			} else {
				i += j + 3
			}
		default:
			b.WriteByte(st[i])
		}
	}
	return strings.TrimSpace(b.String())
}
