package engines

import (
	"context"
	"database/sql/driver"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/datasource"
	"github.com/golinkis/golinkis/linkis"
)

// pgDriver speaks PostgreSQL through pgx: database/sql holds the pool
// (pgx's stdlib connector), and a task works on the raw pgconn of its
// connection, with the simple query protocol: every statement is sent as
// it is (no prepared statement per ad hoc query), and rows arrive in text
// form, which the encoders turn into JSON as they come.
type pgDriver struct{}

func (pgDriver) dialect() sqlDialect { return postgresDialect }

func (pgDriver) validation() string { return "SELECT 1" }

func (pgDriver) open(s datasource.Settings, appName string) (driver.Connector, error) {
	u := url.URL{Scheme: "postgres", Host: s.Target.Addr(), Path: "/" + s.Target.Database}
	q := url.Values{}
	for k, v := range s.Target.Params {
		q.Set(k, v)
	}
	if q.Get("application_name") == "" {
		q.Set("application_name", appName)
	}
	u.RawQuery = q.Encode()
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, errors.New("jdbc.url: " + pgConfigReason(err))
	}
	cfg.User, cfg.Password = s.Username, s.Password
	// A server (or whoever stands between) that asks for the password in
	// clear text is refused, unless the URL says which methods it takes:
	// the password goes as a digest (SCRAM, MD5) or not at all.
	if cfg.RequireAuth == "" {
		cfg.RequireAuth = "!password"
	}
	if q.Get("connect_timeout") == "" {
		cfg.ConnectTimeout = s.ConnectTimeout
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cfg.StatementCacheCapacity, cfg.DescriptionCacheCapacity = 0, 0
	// A cancelled context sends the server a cancel request at once (pgx's
	// default only closes the socket, and the server goes on with the
	// query); the socket is cut if the server has not answered 5 s later.
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
	}
	return stdlib.GetConnector(*cfg), nil
}

// pgConfigReason is pgx's complaint about a connection string without the
// string it quotes.
func pgConfigReason(err error) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		return pe.Unwrap().Error()
	}
	return "not a connection pgx accepts"
}

func (pgDriver) withConn(ctx context.Context, p *jdbcPool, body func(taskConn) error) error {
	conn, err := p.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var berr error
	err = conn.Raw(func(dc any) error {
		c := &pgTaskConn{pc: dc.(*stdlib.Conn).Conn().PgConn(), types: pgtype.NewMap()}
		berr = body(c)
		if c.pc.IsClosed() {
			return driver.ErrBadConn // database/sql drops it; the next task reconnects
		}
		return nil
	})
	if berr != nil {
		return berr
	}
	if errors.Is(err, driver.ErrBadConn) {
		return nil // lost after the task's work (an ended transaction's rollback)
	}
	return err
}

type pgTaskConn struct {
	pc    *pgconn.PgConn
	types *pgtype.Map
}

func (c *pgTaskConn) exec(ctx context.Context, st string, o *stmtOut) error {
	if clientCopy(st) {
		return linkis.Errorf(linkis.ErrInvalidArgument, "code",
			"COPY ... FROM STDIN or TO STDOUT moves data over the client's connection, which the jdbc engine does not do (nothing would be sent, and nothing kept): use INSERT for the one and SELECT for the other")
	}
	mrr := c.pc.Exec(ctx, st)
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		fds := rr.FieldDescriptions()
		if len(fds) == 0 {
			tag, err := rr.Close()
			if err == nil {
				o.affected, o.tag = tag.RowsAffected(), tag.String()
			}
			continue
		}
		cols := make([]api.ResultColumn, len(fds))
		encs := make([]valueEnc, len(fds))
		for i, fd := range fds {
			cols[i] = api.ResultColumn{Name: fd.Name, Type: c.typeName(fd.DataTypeOID)}
			encs[i] = pgEncoder(fd.DataTypeOID)
		}
		w, err := o.newResult(cols)
		if err != nil {
			rr.Close()
			mrr.Close()
			return err
		}
		more := true
		for rr.NextRow() {
			if !more {
				continue // past the row cap: read to the statement's end, not kept
			}
			if more, err = o.row(w, encs, rr.Values()); err != nil {
				break
			}
		}
		if err != nil {
			w.Close()
			rr.Close()
			mrr.Close()
			return err
		}
		_, rerr := rr.Close()
		if cerr := w.Close(); cerr != nil {
			mrr.Close()
			return cerr
		}
		if rerr != nil {
			break // mrr.Close reports it
		}
	}
	return mrr.Close()
}

// clientCopy reports whether st is a COPY from or to the client (STDIN,
// STDOUT), whose data would go over the task's connection: its first word
// (past blanks and comments) is COPY and it names STDIN or STDOUT.
func clientCopy(st string) bool {
	s := skipLeadingComments(st, postgresDialect)
	if len(s) < 4 || !strings.EqualFold(s[:4], "copy") || len(s) > 4 && isWordByte(s[4]) {
		return false
	}
	u := strings.ToUpper(s)
	for _, w := range []string{"STDIN", "STDOUT"} {
		for i := strings.Index(u, w); i >= 0; {
			end := i + len(w)
			if !isWordByte(u[i-1]) && (end == len(u) || !isWordByte(u[end])) {
				return true
			}
			j := strings.Index(u[end:], w)
			if j < 0 {
				break
			}
			i = end + j
		}
	}
	return false
}

func (c *pgTaskConn) finish(ctx context.Context) bool {
	if c.pc.IsClosed() || c.pc.TxStatus() == 'I' {
		return false
	}
	_, err := c.pc.Exec(ctx, "ROLLBACK").ReadAll()
	return err == nil
}

func (c *pgTaskConn) lost(err error) bool { return c.pc.IsClosed() }

// typeName is the name of a column's type, as PostgreSQL spells it in
// upper case (INT4, NUMERIC, TIMESTAMPTZ, JSONB, ...); a type pgx does not
// know (an enum, a domain) is "OID n".
func (c *pgTaskConn) typeName(oid uint32) string {
	if t, ok := c.types.TypeForOID(oid); ok {
		return strings.ToUpper(t.Name)
	}
	return "OID " + strconv.FormatUint(uint64(oid), 10)
}

// pgEncoder is the JSON encoder of a column type's text form.
func pgEncoder(oid uint32) valueEnc {
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID, pgtype.Float4OID, pgtype.Float8OID, pgtype.NumericOID:
		return encNumber
	case pgtype.BoolOID:
		return encBool
	case pgtype.ByteaOID:
		return encPGBytea
	}
	return encText
}

// errorLine is the line of the statement a PostgreSQL error points at
// (0 when it points nowhere).
func errorLine(st string, err error) int {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Position <= 0 {
		return 0
	}
	line, chars := 1, 0
	for _, r := range st {
		chars++
		if chars >= int(pe.Position) {
			break
		}
		if r == '\n' {
			line++
		}
	}
	return line
}
