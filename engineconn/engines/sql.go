package engines

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/engineconn"
)

// SQLDBFile is the database file an sql engine keeps in its work
// directory: one database per EngineConn, alive as long as it is.
const SQLDBFile = "engine.db"

// SQL runs SQLite statements on a database of its own (through the pure-Go
// modernc.org/sqlite driver). A task's code is one or more statements
// separated by ';'; each statement that returns rows writes a table result
// set with the column names and types, the others log how many rows they
// changed. Tables created by one task are there for the next.
type SQL struct{}

// Open implements engineconn.Engine.
func (SQL) Open(ctx context.Context, c *engineconn.Context) (engineconn.Session, error) {
	path := filepath.Join(c.WorkDir, SQLDBFile)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return nil, fmt.Errorf("sql engine: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sql engine: %w", err)
	}
	return &sqlSession{db: db}, nil
}

type sqlSession struct{ db *sql.DB }

func (s *sqlSession) Run(ctx context.Context, t *engineconn.Task) error {
	stmts := splitSQL(t.Code)
	if len(stmts) == 0 {
		return fmt.Errorf("sql: no statement in the code")
	}
	// One connection for the whole task, so that BEGIN ... COMMIT and
	// temporary tables work across its statements.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for i, st := range stmts {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		if returnsRows(st) {
			n, err := s.query(ctx, conn, t, st)
			if err != nil {
				return fmt.Errorf("statement %d: %w", i+1, err)
			}
			t.Logf("statement %d: %d rows in %v", i+1, n, time.Since(start).Round(time.Microsecond))
		} else {
			res, err := conn.ExecContext(ctx, st)
			if err != nil {
				return fmt.Errorf("statement %d: %w", i+1, err)
			}
			n, _ := res.RowsAffected()
			t.Logf("statement %d: OK, %d rows affected in %v", i+1, n, time.Since(start).Round(time.Microsecond))
		}
		t.SetProgress(float64(i+1) / float64(len(stmts)))
	}
	return nil
}

// query writes a statement's rows as a table result set.
func (s *sqlSession) query(ctx context.Context, conn *sql.Conn, t *engineconn.Task, st string) (int64, error) {
	rows, err := conn.QueryContext(ctx, st)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return 0, err
	}
	if len(cts) == 0 {
		return 0, rows.Err()
	}
	vals := make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	// The header comes first, so the types of untyped columns (expressions)
	// are taken from the first row.
	have := rows.Next()
	if have {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, err
		}
	}
	cols := make([]api.ResultColumn, len(cts))
	for i, ct := range cts {
		typ := strings.ToUpper(ct.DatabaseTypeName())
		if typ == "" && have {
			typ = valueType(vals[i])
		}
		if typ == "" {
			typ = "NULL"
		}
		cols[i] = api.ResultColumn{Name: ct.Name(), Type: typ}
	}
	rs, err := t.NewResultSet("table", cols)
	if err != nil {
		return 0, err
	}
	for have {
		for i, v := range vals {
			if tm, ok := v.(time.Time); ok {
				vals[i] = tm.Format(time.RFC3339Nano)
			}
		}
		if err := rs.Row(vals...); err != nil {
			rs.Close()
			return rs.Rows(), err
		}
		if have = rows.Next(); have {
			if err := rows.Scan(ptrs...); err != nil {
				rs.Close()
				return rs.Rows(), err
			}
		}
	}
	if err := rows.Err(); err != nil {
		rs.Close()
		return rs.Rows(), err
	}
	return rs.Rows(), rs.Close()
}

func valueType(v any) string {
	switch v.(type) {
	case int64, int, int32, bool:
		return "INTEGER"
	case float64, float32:
		return "REAL"
	case string, time.Time:
		return "TEXT"
	case []byte:
		return "BLOB"
	}
	return ""
}

func (s *sqlSession) Close() error { return s.db.Close() }

// returnsRows reports whether a statement is one that yields rows.
func returnsRows(st string) bool {
	st = stripComments(st)
	w := strings.ToUpper(firstWord(st))
	switch w {
	case "SELECT", "WITH", "VALUES", "PRAGMA", "EXPLAIN":
		return true
	}
	return strings.Contains(strings.ToUpper(st), " RETURNING ")
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

// splitSQL splits code into statements at ';' outside quotes, identifiers
// in brackets or backquotes, and comments; a CREATE TRIGGER body (BEGIN ...
// END) stays whole. Comments are kept; empty statements are dropped.
func splitSQL(code string) []string {
	var out []string
	start, depth := 0, 0 // depth: BEGIN ... END nesting inside a trigger
	trigger := false
	flush := func(end int) {
		st := strings.TrimSpace(code[start:end])
		if stripComments(st) != "" {
			out = append(out, st)
		}
		start = end + 1
		trigger, depth = false, 0
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(code) {
				if code[j] == c {
					if j+1 < len(code) && code[j+1] == c { // doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			i = j
		case c == '[':
			for i < len(code) && code[i] != ']' {
				i++
			}
		case c == '-' && i+1 < len(code) && code[i+1] == '-':
			for i < len(code) && code[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(code) && code[i+1] == '*':
			j := strings.Index(code[i+2:], "*/")
			if j < 0 {
				i = len(code)
			} else {
				i += j + 3
			}
		case isWordStart(code, i):
			w := wordAt(code, i)
			switch strings.ToUpper(w) {
			case "TRIGGER":
				if strings.EqualFold(firstWord(code[start:]), "CREATE") {
					trigger = true
				}
			case "BEGIN":
				if trigger {
					depth++
				}
			case "END":
				if trigger && depth > 0 {
					depth--
				}
			}
			i += len(w) - 1
		case c == ';' && !(trigger && depth > 0):
			flush(i)
		}
	}
	if start < len(code) {
		flush(len(code))
	}
	return out
}

func isWordStart(s string, i int) bool {
	c := s[i]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
		return false
	}
	return i == 0 || !isWordByte(s[i-1])
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func wordAt(s string, i int) string {
	j := i
	for j < len(s) && isWordByte(s[j]) {
		j++
	}
	return s[i:j]
}

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
