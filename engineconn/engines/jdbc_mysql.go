package engines

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/datasource"
)

// mysqlDriver speaks MySQL and MariaDB through go-sql-driver/mysql. A
// statement without arguments goes as a plain query (the text protocol),
// so rows arrive as text, scanned as sql.RawBytes and encoded as they come.
// The driver only closes its socket when a context is cancelled, and the
// server would go on: the statement's connection is killed from a
// connection of its own (outside the pool, which may be full).
type mysqlDriver struct{}

func (mysqlDriver) dialect() sqlDialect { return mysqlDialect }

func (mysqlDriver) validation() string { return "SELECT 1" }

func (mysqlDriver) open(s datasource.Settings, _ string) (driver.Connector, error) {
	q := url.Values{}
	for k, v := range s.Target.Params {
		q.Set(k, v)
	}
	cfg, err := mysql.ParseDSN("tcp(" + s.Target.Addr() + ")/?" + q.Encode())
	if err != nil {
		return nil, errors.New("jdbc.url: parameters the MySQL driver does not accept")
	}
	cfg.User, cfg.Passwd, cfg.DBName = s.Username, s.Password, s.Target.Database
	if q.Get("timeout") == "" {
		cfg.Timeout = s.ConnectTimeout
	}
	cfg.AllowAllFiles, cfg.MultiStatements = false, false
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, errors.New("jdbc.url: " + err.Error())
	}
	return conn, nil
}

func (mysqlDriver) withConn(ctx context.Context, p *jdbcPool, body func(taskConn) error) error {
	conn, err := p.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	c := &mysqlTaskConn{conn: conn, connector: p.conn}
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&c.id); err != nil {
		return err
	}
	return body(c)
}

type mysqlTaskConn struct {
	conn      *sql.Conn
	connector driver.Connector
	id        uint64 // the server's id of the connection (for KILL)
}

// killQuery stops the connection's statement on the server: a cancelled
// context has already closed the driver's socket, but the server would go
// on. It kills the connection (KILL, not KILL QUERY: a KILL QUERY that
// reaches the server before the statement does - a loaded machine - is
// forgotten when the statement starts, while a killed connection stays
// killed) and waits until the server no longer has it, trying again for a
// while when the kill's own connection fails.
func (c *mysqlTaskConn) killQuery() error {
	ctx, cancel := context.WithTimeout(context.Background(), killPatience)
	defer cancel()
	db := sql.OpenDB(c.connector)
	defer db.Close()
	db.SetMaxOpenConns(1)
	for {
		err := c.killOnce(ctx, db)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// killPatience bounds how long killQuery keeps trying.
const killPatience = 10 * time.Second

var errStillRunning = errors.New("the statement's connection still lives on the server")

func (c *mysqlTaskConn) killOnce(ctx context.Context, db *sql.DB) error {
	var me *mysql.MySQLError
	if _, err := db.ExecContext(ctx, "KILL "+strconv.FormatUint(c.id, 10)); err != nil && !(errors.As(err, &me) && me.Number == 1094) { // ER_NO_SUCH_THREAD: gone already
		return err
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", c.id).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return errStillRunning
	}
	return nil
}

func (c *mysqlTaskConn) exec(ctx context.Context, st string, o *stmtOut) error {
	// A cancelled statement is killed on the server; stop waits for the
	// kill to be sent before exec returns.
	killed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(killed)
		if err := c.killQuery(); err != nil {
			o.t.Logf("the statement could not be stopped on the server (connection %d): %v", c.id, err)
		} else {
			o.t.Logf("the statement's connection %d was killed on the server", c.id)
		}
	})
	defer func() {
		if !stop() {
			<-killed
		}
	}()
	rows, err := c.conn.QueryContext(ctx, st)
	if err != nil {
		return err
	}
	anyCols := false
	for {
		cts, err := rows.ColumnTypes()
		if err != nil {
			rows.Close()
			return err
		}
		if len(cts) > 0 {
			anyCols = true
			if err := c.stream(rows, cts, o); err != nil {
				rows.Close()
				return err
			}
		}
		if !rows.NextResultSet() {
			break
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return err
	}
	if !anyCols {
		if err := c.conn.QueryRowContext(ctx, "SELECT ROW_COUNT()").Scan(&o.affected); err != nil {
			return err
		}
		if o.affected < 0 {
			o.affected = 0
		}
	}
	return nil
}

// stream writes the rows of the current result set.
func (c *mysqlTaskConn) stream(rows *sql.Rows, cts []*sql.ColumnType, o *stmtOut) error {
	cols := make([]api.ResultColumn, len(cts))
	encs := make([]valueEnc, len(cts))
	for i, ct := range cts {
		typ := ct.DatabaseTypeName()
		cols[i] = api.ResultColumn{Name: ct.Name(), Type: typ}
		encs[i] = mysqlEncoder(typ)
	}
	w, err := o.newResult(cols)
	if err != nil {
		return err
	}
	raw := make([]sql.RawBytes, len(cts))
	ptrs := make([]any, len(cts))
	vals := make([][]byte, len(cts))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	more := true
	for rows.Next() {
		if !more {
			continue // past the row cap: read to the statement's end, not kept
		}
		if err := rows.Scan(ptrs...); err != nil {
			w.Close()
			return err
		}
		for i, r := range raw {
			vals[i] = r
		}
		if more, err = o.row(w, encs, vals); err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}

func (c *mysqlTaskConn) finish(ctx context.Context) bool {
	// The driver does not say whether a transaction is open: roll back
	// whatever may be (a no-op otherwise).
	_, _ = c.conn.ExecContext(ctx, "ROLLBACK")
	return false
}

func (c *mysqlTaskConn) lost(err error) bool {
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &ne) && !ne.Timeout()
}

// mysqlEncoder is the JSON encoder of a column type's text form.
func mysqlEncoder(typ string) valueEnc {
	t := strings.TrimPrefix(typ, "UNSIGNED ")
	switch t {
	case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT", "DECIMAL", "FLOAT", "DOUBLE", "YEAR":
		return encNumber
	case "BIT":
		return encBit
	case "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "BINARY", "VARBINARY", "GEOMETRY":
		return encBytes
	}
	return encText
}
