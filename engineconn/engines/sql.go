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
