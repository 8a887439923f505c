package engines

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/datasource"
	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/linkis"
)

// JDBC runs SQL on a PostgreSQL (github.com/jackc/pgx/v5) or MySQL/MariaDB
// (github.com/go-sql-driver/mysql) server, through database/sql, the
// driver chosen by the URL: Linkis's jdbc engine (engineType jdbc-4, run
// types jdbc and sql).
//
// Connections: the settings come with each task (datasource.FromParams on
// the task's params: jdbc.url, jdbc.username, jdbc.password, jdbc.auth.type,
// jdbc.connect.max, or a data source the orchestrator resolved into them),
// never as start-up parameters, so no credential is on the engine's command
// line or in the manager's log. The engine opens a pool (up to
// jdbc.connect.max connections) at the first task of a data source, after
// checking it with the dialect's validation query, and keeps it for the
// next tasks; it keeps up to JDBCMaxPools pools, one per set of credentials
// (see package datasource: an engine serves one user, possibly several of
// their data sources), and closes the least recently used idle one beyond
// that. A pool that fails to open is not kept, nor its password.
//
// A task runs its statements (split as the dialect writes them) in order on
// one connection, so BEGIN ... COMMIT and session settings span them. Each
// statement that returns rows writes a table result set (column names and
// the database's type names), streamed row by row from the server's text
// into the file: a million rows never sit in memory. The others log their
// update count. A result set stops at wds.linkis.jdbc.query.result.max rows:
// the log says it was truncated, and the statement runs to its end, its
// other rows read and dropped (as JDBC's setMaxRows, which Linkis uses).
// Cancelling it on the server, as this engine did, undid what it wrote -
// an INSERT ... RETURNING, a SELECT of a function that writes, a
// procedure that selects before it writes - while the task succeeded. A
// row longer than api.MaxResultLine fails the task (no reader would
// accept the file); COPY from or to the client is refused (clientCopy).
// The log has a line per statement (n of m, rows, time) and one every 5 s
// while rows stream; progress moves per statement. A task that ends with a
// transaction open (an error inside it, or no COMMIT) has it rolled back.
//
// Cancelling (a kill, a shutdown, wds.linkis.jdbc.query.timeout per
// statement) stops the statement on the server: PostgreSQL gets a cancel
// request and the connection stays in the pool (pgconn's
// CancelRequestContextWatcherHandler; pgx's default closes the connection,
// cancelling as it goes, so every kill would cost a reconnect); MySQL's
// connection is killed from a connection of its own (the driver only closes
// its socket, and a statement that does not read from its client runs on). A lost
// connection (the server restarted) fails the task with a retryable error
// saying so; the pool drops the connection, and the next task reconnects.
type JDBC struct{}

// JDBCMaxPools is how many pools (data sources) one jdbc engine keeps.
const JDBCMaxPools = 8

// Open implements engineconn.Engine. Nothing connects yet: a pool opens
// at the first task that names its database.
func (JDBC) Open(_ context.Context, c *engineconn.Context) (engineconn.Session, error) {
	return &jdbcSession{ticket: c.Ticket, pools: map[string]*jdbcPool{}}, nil
}

type jdbcSession struct {
	ticket string
	mu     sync.Mutex
	pools  map[string]*jdbcPool // by credentials digest
}

// jdbcPool is one data source's connections.
type jdbcPool struct {
	key   string
	set   datasource.Settings // of the task that opened it
	size  int                 // connections at most (session.mu)
	db    *sql.DB
	conn  driver.Connector // db's, for connections outside the pool
	drv   dbDriver
	ready chan struct{} // closed once opened (or failed: err)
	err   error
	busy  int       // tasks using it (session.mu)
	used  time.Time // last released (session.mu)
}

// dbDriver is what the engine needs of one kind of database.
type dbDriver interface {
	dialect() sqlDialect
	// open returns the pool's connector (nothing connects yet).
	open(s datasource.Settings, appName string) (driver.Connector, error)
	// validation is the query that checks a new pool.
	validation() string
	// withConn runs body on a connection of the pool taken for one task.
	withConn(ctx context.Context, p *jdbcPool, body func(taskConn) error) error
}

// taskConn is one task's connection.
type taskConn interface {
	// exec runs one statement, its rows into o.
	exec(ctx context.Context, st string, o *stmtOut) error
	// finish ends the task's work on the connection: an open transaction
	// is rolled back (reported true when known).
	finish(ctx context.Context) (rolledBack bool)
	// lost reports whether err means the connection is gone.
	lost(err error) bool
}

func driverFor(dialect string) dbDriver {
	if dialect == datasource.MySQL {
		return mysqlDriver{}
	}
	return pgDriver{}
}

func (s *jdbcSession) Run(ctx context.Context, t *engineconn.Task) error {
	set, err := datasource.FromParams(t.Params)
	if err != nil {
		return err
	}
	p, err := s.acquire(ctx, set, t)
	if err != nil {
		return scrub(err, set.Password)
	}
	defer s.release(p)
	stmts := splitStatements(t.Code, p.drv.dialect())
	if len(stmts) == 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "code", "no statement in the code")
	}
	err = p.drv.withConn(ctx, p, func(c taskConn) error { return runStatements(ctx, t, set, c, stmts) })
	return scrub(err, set.Password)
}

// runStatements runs a task's statements on c, in order, under the task's
// settings (row cap, statement timeout), and cleans up.
func runStatements(ctx context.Context, t *engineconn.Task, set datasource.Settings, c taskConn, stmts []string) error {
	var err error
	m := len(stmts)
	for i, st := range stmts {
		if err = ctx.Err(); err != nil {
			break
		}
		o := &stmtOut{t: t, n: i + 1, of: m, cap: set.ResultMax, start: time.Now()}
		o.lastLog = o.start
		t.Logf("statement %d of %d: %s", o.n, m, preview(st))
		sctx, cancel := ctx, context.CancelFunc(func() {})
		if set.QueryTimeout > 0 {
			sctx, cancel = context.WithTimeoutCause(ctx, set.QueryTimeout, errQueryTimeout)
		}
		err = c.exec(sctx, st, o)
		if err != nil && sctx.Err() != nil {
			err = cancelled(sctx, set.QueryTimeout, err)
		}
		cancel()
		if err != nil {
			err = statementErr(o, st, c.lost(err), err)
			break
		}
		o.done()
		t.SetProgress(float64(i+1) / float64(m))
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if c.finish(fctx) {
		t.Logf("the transaction the task left open was rolled back")
	}
	cancel()
	return err
}

var errQueryTimeout = errors.New("query timeout")

// cancelled names why a statement's context ended.
func cancelled(ctx context.Context, timeout time.Duration, err error) error {
	if errors.Is(context.Cause(ctx), errQueryTimeout) {
		return linkis.Errorf(linkis.ErrTimeout, datasource.KeyQueryTimeout, "the statement ran longer than %v and was cancelled on the server", timeout)
	}
	return fmt.Errorf("cancelled on the server: %w", err)
}

// statementErr is a failed statement's error: the database's message with
// the statement's number, a retryable kind when the connection was lost.
func statementErr(o *stmtOut, st string, lost bool, err error) error {
	where := "statement " + strconv.Itoa(o.n) + " of " + strconv.Itoa(o.of)
	if line := errorLine(st, err); line > 0 {
		where += " (line " + strconv.Itoa(line) + ")"
	}
	if lost {
		done := "no statement of the task"
		if o.n > 1 {
			done = "statements 1 to " + strconv.Itoa(o.n-1)
		}
		return &linkis.Error{Kind: linkis.ErrUnavailable, Field: "jdbc", Retry: ptrTrue(),
			Reason: where + ": the connection to the database was lost (the server restarted, or the network failed): " + err.Error() +
				"; " + done + " ran before; retryable: the next task reconnects"}
	}
	var le *linkis.Error
	if errors.As(err, &le) {
		cp := *le
		cp.Reason = where + ": " + cp.Reason
		return &cp
	}
	return fmt.Errorf("%s: %w", where, err)
}

func ptrTrue() *bool { b := true; return &b }

// preview is a statement's first line, clipped, for the log.
func preview(st string) string {
	line, _, more := strings.Cut(st, "\n")
	if len(line) > 200 {
		line, more = line[:200], true
	}
	if more {
		line += " ..."
	}
	return line
}

// scrub removes a password from an error's text (a driver might quote it;
// none we use does, but the log and the job record must never hold it).
func scrub(err error, password string) error {
	if err == nil || len(password) < 4 || !strings.Contains(err.Error(), password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), password, "******"))
}

// acquire returns the open pool of set's credentials, opening it (and
// closing the least recently used idle pool beyond JDBCMaxPools).
func (s *jdbcSession) acquire(ctx context.Context, set datasource.Settings, t *engineconn.Task) (*jdbcPool, error) {
	key := poolKey(set)
	s.mu.Lock()
	p := s.pools[key]
	opener := p == nil
	if opener {
		p = &jdbcPool{key: key, set: set, drv: driverFor(set.Target.Dialect), ready: make(chan struct{})}
		s.pools[key] = p
	}
	p.busy++
	s.mu.Unlock()
	if opener {
		start := time.Now()
		p.err = p.open(ctx, s.ticket)
		close(p.ready)
		if p.err == nil {
			t.Logf("connected to %s in %v", set, time.Since(start).Round(time.Millisecond))
		}
	}
	select {
	case <-p.ready:
	case <-ctx.Done():
		s.release(p)
		return nil, ctx.Err()
	}
	if p.err != nil {
		s.mu.Lock()
		if s.pools[key] == p {
			delete(s.pools, key)
		}
		p.busy--
		s.mu.Unlock()
		return nil, p.err
	}
	// The pool's size follows the latest task's jdbc.connect.max.
	s.mu.Lock()
	if set.ConnectMax != p.size {
		p.size = set.ConnectMax
		p.db.SetMaxOpenConns(p.size)
		p.db.SetMaxIdleConns(p.size)
	}
	s.mu.Unlock()
	s.evict()
	return p, nil
}

func (s *jdbcSession) release(p *jdbcPool) {
	s.mu.Lock()
	p.busy--
	p.used = time.Now()
	s.mu.Unlock()
}

// evict closes idle pools, least recently used first, while there are
// more than JDBCMaxPools.
func (s *jdbcSession) evict() {
	var closing []*jdbcPool
	s.mu.Lock()
	for len(s.pools) > JDBCMaxPools {
		var lru *jdbcPool
		for _, p := range s.pools {
			if p.busy == 0 && p.opened() && (lru == nil || p.used.Before(lru.used)) {
				lru = p
			}
		}
		if lru == nil {
			break // every pool is in use
		}
		delete(s.pools, lru.key)
		closing = append(closing, lru)
	}
	s.mu.Unlock()
	for _, p := range closing {
		p.db.Close()
	}
}

// opened reports whether the pool opened (not still opening, not failed).
func (p *jdbcPool) opened() bool {
	select {
	case <-p.ready:
		return p.err == nil
	default:
		return false
	}
}

// poolKey is a digest of everything that makes two sets of credentials
// different (kept in memory only).
func poolKey(s datasource.Settings) string {
	h := sha256.New()
	for _, v := range []string{s.Target.Dialect, s.URL, s.Username, s.Password, s.AuthType} {
		h.Write([]byte(strconv.Itoa(len(v))))
		h.Write([]byte{':'})
		h.Write([]byte(v))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// open connects the pool and checks it with the validation query, within
// the connect timeout.
func (p *jdbcPool) open(ctx context.Context, ticket string) error {
	conn, err := p.drv.open(p.set, "linkis "+ticket)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(p.set.ConnectMax)
	db.SetMaxIdleConns(p.set.ConnectMax)
	db.SetConnMaxIdleTime(10 * time.Minute)
	vctx, cancel := context.WithTimeout(ctx, p.set.ConnectTimeout)
	defer cancel()
	var one any
	if err := db.QueryRowContext(vctx, p.drv.validation()).Scan(&one); err != nil {
		db.Close()
		if vctx.Err() != nil && ctx.Err() == nil {
			return linkis.Errorf(linkis.ErrTimeout, "jdbc", "connecting to %s: no answer within %v (%s)", p.set, p.set.ConnectTimeout, datasource.KeyConnectTimeout)
		}
		return &linkis.Error{Kind: linkis.ErrUnavailable, Field: "jdbc", Retry: ptrFalse(), Reason: "connecting to " + p.set.String() + ": " + err.Error()}
	}
	p.db, p.conn, p.size = db, conn, p.set.ConnectMax
	return nil
}

func ptrFalse() *bool { b := false; return &b }

func (s *jdbcSession) Close() error {
	s.mu.Lock()
	pools := s.pools
	s.pools = nil
	s.mu.Unlock()
	var errs []error
	for _, p := range pools {
		if p.db != nil {
			errs = append(errs, p.db.Close())
		}
	}
	return errors.Join(errs...)
}

// stmtOut is where one statement's output goes: its result sets, its
// update count, its log lines.
type stmtOut struct {
	t         *engineconn.Task
	n, of     int
	cap       int64
	start     time.Time
	lastLog   time.Time
	rows      int64 // in all of its result sets
	results   int
	affected  int64
	tag       string // the server's word for what it did (UPDATE 3)
	truncated bool
	buf       []byte
}

// logEvery is how often a statement that streams rows says how far it is.
const logEvery = 5 * time.Second

// newResult starts a result set; encs are its columns' encoders.
func (o *stmtOut) newResult(cols []api.ResultColumn) (*engineconn.ResultWriter, error) {
	o.results++
	return o.t.NewResultSet("table", cols)
}

// row writes one row (vals in the database's text form, nil for NULL) and
// reports whether the result set takes more.
func (o *stmtOut) row(w *engineconn.ResultWriter, encs []valueEnc, vals [][]byte) (bool, error) {
	b := append(o.buf[:0], '[')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = encs[i](b, v)
	}
	b = append(b, ']')
	o.buf = b
	if err := w.RawRow(b); err != nil {
		return false, err
	}
	o.rows++
	if o.rows&4095 == 0 {
		if now := time.Now(); now.Sub(o.lastLog) >= logEvery {
			o.lastLog = now
			o.t.Logf("statement %d of %d: %d rows so far (%v)", o.n, o.of, o.rows, now.Sub(o.start).Round(time.Millisecond))
		}
	}
	if w.Rows() >= o.cap {
		o.truncated = true
		o.t.Logf("statement %d of %d: result %d truncated at %d rows (%s); the statement runs to its end, its other rows are not kept", o.n, o.of, o.results, o.cap, datasource.KeyResultMax)
		return false, nil
	}
	return true, nil
}

// done logs the statement's outcome.
func (o *stmtOut) done() {
	took := time.Since(o.start).Round(time.Microsecond)
	switch {
	case o.results > 0:
		o.t.Logf("statement %d of %d: %d rows in %v", o.n, o.of, o.rows, took)
	case o.tag != "":
		o.t.Logf("statement %d of %d: OK (%s), %d rows affected in %v", o.n, o.of, o.tag, o.affected, took)
	default:
		o.t.Logf("statement %d of %d: OK, %d rows affected in %v", o.n, o.of, o.affected, took)
	}
}
