package engines_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/datasource"
	"github.com/golinkis/golinkis/datasource/testdb"
	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/engineconn/engines"
	"github.com/golinkis/golinkis/linkis"
)

// The jdbc engine's tests run against a real PostgreSQL 15 and a real
// MariaDB (scripts/testdb.sh; they fail when the servers cannot start),
// with a whole EngineConn in the test process reached over its task API.

// jdbcEC is an EngineConn of the jdbc engine.
type jdbcEC struct {
	*shellEC
	dir string
}

func startJDBC(t testing.TB) *jdbcEC {
	t.Helper()
	dir := t.TempDir()
	cfg := engineconn.DefaultConfig()
	cfg.Ticket = shTicket
	cfg.EngineType = linkis.EngineType{Type: "jdbc", Version: "4"}
	cfg.Managers = []string{"http://127.0.0.1:1"}
	cfg.Token = "cluster-secret"
	cfg.WorkDir, cfg.LogDir, cfg.ResultDir = filepath.Join(dir, "work"), filepath.Join(dir, "logs"), filepath.Join(dir, "results")
	cfg.Concurrency = 4
	cfg.MaxTasks = 1 << 30
	cfg.ExitLinger = 100 * time.Millisecond
	ec, err := engineconn.New(cfg, engines.Builtin(), grantAll{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ec.Run(ctx) }()
	for deadline := time.Now().Add(30 * time.Second); ec.Addr() == "" || ec.Info().Status == "Starting"; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the engine did not listen")
		}
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the engine did not stop")
		}
	})
	return &jdbcEC{shellEC: &shellEC{t: t, cli: api.NewEngineClient(ec.Addr(), cfg.Token, nil), cfg: cfg}, dir: dir}
}

// db is one server as the tests see it: its connection settings and how
// to ask it (as its administrator) what it is doing.
type db struct {
	name     string
	params   map[string]string
	password string
	restart  func(testing.TB)
	sleep    func(secs int) string // a statement that sleeps
	// long is a statement that runs for minutes without reading from its
	// client (MariaDB's SLEEP ends when the client goes away: it would
	// not tell a KILL from a closed socket), and like matches it in
	// the server's list of queries.
	long, like string
	// conns lists the server's ids of the test user's connections.
	conns     func(t testing.TB) []string
	running   func(t testing.TB, like string) int
	userConns func(t testing.TB) int    // connections of the test user
	processes func(t testing.TB) string // the server's connections, for a failure's message
	count     func(t testing.TB, table string) string
	series    func(n int) string // a query of n rows, 5 columns
}

func servers(t testing.TB) ([]db, *testdb.Servers) {
	s := testdb.Start(t)
	pg := db{name: "postgresql", password: s.PG.Password,
		params:  map[string]string{datasource.KeyURL: s.PG.URL(), datasource.KeyUsername: s.PG.User, datasource.KeyPassword: s.PG.Password},
		restart: s.RestartPG,
		sleep:   func(n int) string { return fmt.Sprintf("SELECT pg_sleep(%d)", n) },
		long:    "SELECT pg_sleep(600)", like: "SELECT pg_sleep_600_%",
		conns: func(t testing.TB) []string {
			var ids []string
			for _, r := range s.PGQuery(t, "SELECT pid FROM pg_stat_activity WHERE usename = '"+s.PG.User+"' ORDER BY pid") {
				ids = append(ids, r[0])
			}
			return ids
		},
		running: func(t testing.TB, like string) int {
			return len(s.PGQuery(t, "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE '"+like+"' AND pid <> pg_backend_pid()"))
		},
		userConns: func(t testing.TB) int {
			return len(s.PGQuery(t, "SELECT pid FROM pg_stat_activity WHERE usename = '"+s.PG.User+"'"))
		},
		processes: func(t testing.TB) string {
			return fmt.Sprint(s.PGQuery(t, "SELECT pid, usename, state, query FROM pg_stat_activity"))
		},
		count: func(t testing.TB, table string) string { return s.PGQuery(t, "SELECT count(*) FROM "+table)[0][0] },
		series: func(n int) string {
			return fmt.Sprintf("SELECT g AS id, g * 2 AS twice, 'name-' || g AS name, g / 7.0 AS ratio, now() AS at FROM generate_series(1, %d) g", n)
		},
	}
	my := db{name: "mariadb", password: s.MySQL.Password,
		params:  map[string]string{datasource.KeyURL: s.MySQL.URL(), datasource.KeyUsername: s.MySQL.User, datasource.KeyPassword: s.MySQL.Password},
		restart: s.RestartMySQL,
		sleep:   func(n int) string { return fmt.Sprintf("SELECT SLEEP(%d)", n) },
		long:    "SELECT BENCHMARK(1000000000000, MD5('linkis'))", like: "SELECT BENCHMARK_1000000000000%",
		running: func(t testing.TB, like string) int {
			return len(s.MySQLQuery(t, "SELECT id FROM information_schema.processlist WHERE command = 'Query' AND info LIKE '"+like+"' AND id <> CONNECTION_ID()"))
		},
		userConns: func(t testing.TB) int {
			return len(s.MySQLQuery(t, "SELECT id FROM information_schema.processlist WHERE user = '"+s.MySQL.User+"'"))
		},
		processes: func(t testing.TB) string {
			return fmt.Sprint(s.MySQLQuery(t, "SELECT id, user, command, time, state, info FROM information_schema.processlist"))
		},
		count: func(t testing.TB, table string) string { return s.MySQLQuery(t, "SELECT count(*) FROM "+table)[0][0] },
		series: func(n int) string {
			return fmt.Sprintf("WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %d) "+
				"SELECT n AS id, n * 2 AS twice, CONCAT('name-', n) AS name, n / 7 AS ratio, NOW() AS at FROM g", n)
		},
	}
	return []db{pg, my}, s
}

func (d db) with(kv ...string) map[string]string {
	p := map[string]string{}
	for k, v := range d.params {
		p[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}

func (h *jdbcEC) start(code string, params map[string]string) string {
	h.t.Helper()
	sub, err := h.cli.Submit(context.Background(), api.TaskRequest{AskID: shAsk, Token: shToken, Code: code, RunType: "jdbc", Params: params})
	if err != nil {
		h.t.Fatalf("submit: %v", err)
	}
	return sub.ID
}

func (h *jdbcEC) exec(code string, params map[string]string) api.TaskStatus {
	h.t.Helper()
	return h.wait(h.start(code, params))
}

func (h *jdbcEC) ok(code string, params map[string]string) api.TaskStatus {
	h.t.Helper()
	st := h.exec(code, params)
	if st.State != api.TaskSuccess {
		h.t.Fatalf("%q: %s %s\n%s", code, st.State, st.Error, strings.Join(h.logOf(st.ID), "\n"))
	}
	return st
}

func (h *jdbcEC) logOf(id string) []string {
	lg, err := h.cli.Log(context.Background(), id, 0, 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	return lg.Lines
}

func (h *jdbcEC) result(path string) api.ResultSet {
	h.t.Helper()
	f, err := os.Open(path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	rs, err := api.ReadResultSet(f, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return rs
}

func logHas(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// asJSON renders a decoded row for comparing.
func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestJDBCAgainstRealServers(t *testing.T) {
	dbs, srv := servers(t)
	h := startJDBC(t)
	for _, d := range dbs {
		t.Run(d.name, func(t *testing.T) {
			h.t = t
			t.Run("types", func(t *testing.T) { h.t = t; testTypes(t, h, d) })
			t.Run("ddl-dml-and-several-statements", func(t *testing.T) { h.t = t; testDML(t, h, d) })
			t.Run("rollback-on-error", func(t *testing.T) { h.t = t; testRollback(t, h, d) })
			t.Run("kill-on-the-server", func(t *testing.T) { h.t = t; testKill(t, h, d) })
			t.Run("query-timeout", func(t *testing.T) { h.t = t; testQueryTimeout(t, h, d) })
			t.Run("row-cap", func(t *testing.T) { h.t = t; testRowCap(t, h, d) })
			t.Run("bad-input", func(t *testing.T) { h.t = t; testBadInput(t, h, d) })
			t.Run("lost-connection", func(t *testing.T) { h.t = t; testLostConnection(t, h, d) })
		})
	}
	h.t = t
	t.Run("streams-without-holding-rows", func(t *testing.T) { h.t = t; testStreaming(t, h, dbs[0]) })
	t.Run("a-pool-per-data-source", func(t *testing.T) { h.t = t; testPools(t, h, dbs[0], srv) })
	t.Run("no-secret-in-any-file", func(t *testing.T) {
		for _, d := range dbs {
			grepTree(t, h.dir, d.password)
		}
	})
}

// grepTree fails t when any file under dir holds secret.
func grepTree(t *testing.T, dir, secret string) {
	t.Helper()
	n := 0
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		n++
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), secret) {
			t.Errorf("%s holds the password", p)
		}
		return nil
	})
	if n == 0 {
		t.Errorf("no file under %s: nothing was checked", dir)
	}
}

func testTypes(t *testing.T, h *jdbcEC, d db) {
	var ddl, ins, sel string
	var wantTypes []string
	if d.name == "postgresql" {
		ddl = `DROP TABLE IF EXISTS typed; CREATE TABLE typed (i2 smallint, i4 integer, i8 bigint, num numeric(30,10), f8 double precision,
			b boolean, t text, vc varchar(20), by bytea, d date, ts timestamp, tz timestamptz, j json, jb jsonb, u uuid)`
		ins = `INSERT INTO typed VALUES (-32768, 2147483647, 9223372036854775807, 12345678901234567890.0123456789, 1.5e300,
			true, E'multi\nline "quoted" \\ ünï', 'short', '\x00ff10'::bytea, '2024-02-29', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15+02',
			'{"a": [1, 2]}', '{"b": null}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
			(NULL, NULL, NULL, 'NaN', 'Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`
		sel = "SET TIME ZONE 'UTC'; SELECT * FROM typed ORDER BY i2 NULLS LAST"
		wantTypes = []string{"INT2", "INT4", "INT8", "NUMERIC", "FLOAT8", "BOOL", "TEXT", "VARCHAR", "BYTEA", "DATE", "TIMESTAMP", "TIMESTAMPTZ", "JSON", "JSONB", "UUID"}
	} else {
		ddl = `DROP TABLE IF EXISTS typed; CREATE TABLE typed (i2 smallint, i4 int, i8 bigint, num decimal(30,10), f8 double,
			b bit(1), t text, vc varchar(20), bl blob, d date, ts datetime(6), tz timestamp NULL, j json, ui bigint unsigned, e enum('x','y'))`
		ins = `INSERT INTO typed VALUES (-32768, 2147483647, 9223372036854775807, 12345678901234567890.0123456789, 1.5e300,
			b'1', 'multi\nline "quoted" \\ ünï', 'short', x'00ff10', '2024-02-29', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15',
			'{"a": [1, 2]}', 18446744073709551615, 'y'),
			(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`
		sel = "SET time_zone = '+00:00'; SELECT * FROM typed ORDER BY i2 IS NULL, i2"
		wantTypes = []string{"SMALLINT", "INT", "BIGINT", "DECIMAL", "DOUBLE", "BIT", "TEXT", "VARCHAR", "BLOB", "DATE", "DATETIME", "TIMESTAMP", "TEXT", "UNSIGNED BIGINT", "ENUM"}
	}
	h.ok(ddl, d.params)
	h.ok(ins, d.params)
	st := h.ok(sel, d.params)
	if len(st.Results) != 1 {
		t.Fatalf("one result set expected, got %v", st.Results)
	}
	rs := h.result(st.Results[0])
	var gotTypes []string
	for _, c := range rs.Columns {
		gotTypes = append(gotTypes, c.Type)
	}
	if strings.Join(gotTypes, ",") != strings.Join(wantTypes, ",") {
		t.Errorf("types\n got %v\nwant %v", gotTypes, wantTypes)
	}
	if len(rs.Rows) != 2 {
		t.Fatalf("rows: %v", rs.Rows)
	}
	row := rs.Rows[0]
	want := map[int]string{0: "-32768", 1: "2147483647", 2: "9223372036854775807", 3: "12345678901234567890.0123456789", 4: "1.5e+300",
		6: `"multi\nline \"quoted\" \\ ünï"`, 7: `"short"`, 8: `"AP8Q"`, 9: `"2024-02-29"`}
	if d.name == "postgresql" {
		want[5] = "true"
		want[10] = `"2024-02-29 13:14:15.123456"`
		want[11] = `"2024-02-29 11:14:15+00"`
		want[12] = `"{\"a\": [1, 2]}"`
		want[13] = `"{\"b\": null}"`
		want[14] = `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`
	} else {
		want[5] = "1"
		want[10] = `"2024-02-29 13:14:15.123456"`
		want[12] = `"{\"a\": [1, 2]}"`
		want[13] = "18446744073709551615"
		want[14] = `"y"`
	}
	for i, w := range want {
		if got := asJSON(row[i]); got != w {
			t.Errorf("column %s: got %s, want %s", rs.Columns[i].Name, got, w)
		}
	}
	for i, v := range rs.Rows[1] {
		if d.name == "postgresql" && (i == 3 || i == 4) {
			continue // NaN and Infinity, checked below
		}
		if v != nil {
			t.Errorf("column %s of the NULL row: %v", rs.Columns[i].Name, v)
		}
	}
	if d.name == "postgresql" && (asJSON(rs.Rows[1][3]) != `"NaN"` || asJSON(rs.Rows[1][4]) != `"Infinity"`) {
		t.Errorf("NaN and Infinity are strings in JSON: %v", rs.Rows[1])
	}
}

func testDML(t *testing.T, h *jdbcEC, d db) {
	st := h.ok(`DROP TABLE IF EXISTS items;
		CREATE TABLE items (id int PRIMARY KEY, name varchar(20));
		INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');
		UPDATE items SET name = 'z' WHERE id >= 2;
		SELECT id, name FROM items ORDER BY id;
		DELETE FROM items WHERE id = 1;
		SELECT count(*) AS n FROM items`, d.params)
	lines := h.logOf(st.ID)
	for _, want := range []string{"statement 3 of 7: OK", "3 rows affected", "statement 4 of 7: OK", "2 rows affected",
		"statement 5 of 7: 3 rows in", "statement 6 of 7: OK", "1 rows affected", "statement 7 of 7: 1 rows in"} {
		if !logHas(lines, want) {
			t.Errorf("the log lacks %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	if len(st.Results) != 2 || st.Progress != 1 {
		t.Fatalf("two result sets expected: %+v", st)
	}
	if rs := h.result(st.Results[0]); asJSON(rs.Rows) != `[[1,"a"],[2,"z"],[3,"z"]]` || rs.Columns[1].Name != "name" {
		t.Errorf("first result: %+v", rs)
	}
	if rs := h.result(st.Results[1]); asJSON(rs.Rows) != `[[2]]` {
		t.Errorf("second result: %+v", rs)
	}
}

func testRollback(t *testing.T, h *jdbcEC, d db) {
	h.ok("DROP TABLE IF EXISTS ledger; CREATE TABLE ledger (id int PRIMARY KEY)", d.params)
	begin := "BEGIN"
	if d.name == "mariadb" {
		begin = "START TRANSACTION"
	}
	st := h.exec(begin+"; INSERT INTO ledger VALUES (1);\nINSERT INTO ledger VALUES (2);\nINSERT INTO no_such_table VALUES (3); COMMIT", d.params)
	if st.State != api.TaskError || !strings.Contains(st.Error, "statement 4 of 5") || !strings.Contains(strings.ToLower(st.Error), "no_such_table") {
		t.Fatalf("want the database's message with the statement number: %+v", st)
	}
	if n := d.count(t, "ledger"); n != "0" {
		t.Fatalf("the failed transaction left %s rows", n)
	}
	if d.name == "postgresql" && !logHas(h.logOf(st.ID), "rolled back") {
		t.Errorf("the log does not say the transaction was rolled back")
	}
	// The connection is clean for the next task: no transaction hangs on.
	h.ok("INSERT INTO ledger VALUES (7)", d.params)
	if n := d.count(t, "ledger"); n != "1" {
		t.Fatalf("after a clean insert: %s rows", n)
	}
}

// testKill: a killed task's statement stops on the server (a PostgreSQL
// cancel request, a MySQL KILL of the connection), not only in the client.
func testKill(t *testing.T, h *jdbcEC, d db) {
	h.ok("SELECT 1", d.params)
	var before []string
	if d.conns != nil {
		before = d.conns(t)
	}
	id := h.start(d.long, d.params)
	if !testdb.Eventually(20*time.Second, func() bool { return d.running(t, d.like) == 1 }) {
		t.Fatal("the query never showed on the server")
	}
	st, err := h.cli.Kill(context.Background(), id)
	if err != nil || st.State != api.TaskCancel {
		t.Fatalf("kill: %+v %v", st, err)
	}
	if !testdb.Eventually(10*time.Second, func() bool { return d.running(t, d.like) == 0 }) {
		t.Fatalf("the query still runs on the server after the kill; the task's log:\n%s\nthe server's:\n%s", strings.Join(h.logOf(id), "\n"), d.processes(t))
	}
	if d.conns != nil {
		// PostgreSQL: the cancel request stopped the query and kept the
		// connection (pgx's default would have closed it, costing the
		// next task a new connection).
		if after := d.conns(t); strings.Join(after, ",") != strings.Join(before, ",") {
			t.Errorf("the connection was not kept: backends %v before, %v after", before, after)
		}
	}
	// The engine goes on serving.
	h.ok("SELECT 1", d.params)
}

func testQueryTimeout(t *testing.T, h *jdbcEC, d db) {
	start := time.Now()
	st := h.exec(d.long, d.with(datasource.KeyQueryTimeout, "1"))
	if st.State != api.TaskError || !strings.Contains(st.Error, "longer than 1s") || !strings.Contains(st.Error, "cancelled on the server") {
		t.Fatalf("%+v", st)
	}
	if time.Since(start) > 20*time.Second {
		t.Fatalf("the timeout took %v", time.Since(start))
	}
	if !testdb.Eventually(10*time.Second, func() bool { return d.running(t, d.like) == 0 }) {
		t.Fatalf("the timed-out query still runs on the server; the task's log:\n%s\nthe server's:\n%s", strings.Join(h.logOf(st.ID), "\n"), d.processes(t))
	}
}

func testRowCap(t *testing.T, h *jdbcEC, d db) {
	st := h.ok(d.series(200000)+"; SELECT 42 AS after", d.with(datasource.KeyResultMax, "10"))
	if len(st.Results) != 2 {
		t.Fatalf("results %v", st.Results)
	}
	if rs := h.result(st.Results[0]); len(rs.Rows) != 10 || len(rs.Columns) != 5 {
		t.Fatalf("capped result: %d rows", len(rs.Rows))
	}
	if rs := h.result(st.Results[1]); asJSON(rs.Rows) != "[[42]]" {
		t.Fatalf("the statement after a capped one: %v", rs.Rows)
	}
	if !logHas(h.logOf(st.ID), "truncated at 10 rows") {
		t.Errorf("the log does not say the result was truncated")
	}
}

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

func testBadInput(t *testing.T, h *jdbcEC, d db) {
	before := d.userConns(t)
	scheme := strings.SplitN(d.params[datasource.KeyURL], "//", 2)[0]
	silent := scheme + "//" + silentServer(t) + "/x"
	for _, c := range []struct {
		name   string
		code   string
		params map[string]string
		says   []string
	}{
		{"wrong password", "SELECT 1", d.with(datasource.KeyPassword, "not-the-password"), []string{"connecting to", "denied|authentication failed"}},
		{"unreachable host", "SELECT 1", d.with(datasource.KeyURL, silent, datasource.KeyConnectTimeout, "1"), []string{"no answer within 1s"}},
		{"refused port", "SELECT 1", d.with(datasource.KeyURL, scheme+"//127.0.0.1:1/x"), []string{"connecting to", "refused"}},
		{"malformed URL", "SELECT 1", d.with(datasource.KeyURL, "jdbc:postgresql:/nohost"), []string{"jdbc.url"}},
		{"unknown driver", "SELECT 1", d.with(datasource.KeyURL, "jdbc:oracle://h:1521/x"), []string{`"oracle"`}},
		{"zero row cap", "SELECT 1", d.with(datasource.KeyResultMax, "0"), []string{datasource.KeyResultMax}},
		{"negative row cap", "SELECT 1", d.with(datasource.KeyResultMax, "-3"), []string{datasource.KeyResultMax}},
		{"syntax error", "SELECT 1;\nSELEC 2", d.params, []string{"statement 2 of 2", "syntax"}},
		{"only comments", "-- nothing", d.params, []string{"no statement"}},
	} {
		start := time.Now()
		st := h.exec(c.code, c.params)
		if st.State != api.TaskError {
			t.Errorf("%s: %+v", c.name, st)
			continue
		}
		for _, s := range c.says {
			ok := false
			for _, alt := range strings.Split(s, "|") {
				ok = ok || strings.Contains(st.Error, alt)
			}
			if !ok {
				t.Errorf("%s: the error does not say %q: %s", c.name, s, st.Error)
			}
		}
		if strings.Contains(st.Error, d.password) || strings.Contains(st.Error, "not-the-password") {
			t.Errorf("%s: the error holds the password: %s", c.name, st.Error)
		}
		if time.Since(start) > 15*time.Second {
			t.Errorf("%s took %v", c.name, time.Since(start))
		}
	}
	// No connection was left open by the failed attempts (the engine's
	// pool of the right credentials is as it was).
	if after := d.userConns(t); after > before {
		t.Errorf("%d connections of the test user before the bad input, %d after", before, after)
	}
}

func testLostConnection(t *testing.T, h *jdbcEC, d db) {
	h.ok("SELECT 1", d.params) // the pool holds a connection
	id := h.start(d.sleep(30), d.params)
	like := "%" + strings.ReplaceAll(d.sleep(30), "(", "_") + "%"
	if !testdb.Eventually(20*time.Second, func() bool { return d.running(t, like) == 1 }) {
		t.Fatal("the query never showed on the server")
	}
	d.restart(t)
	st := h.wait(id)
	if st.State != api.TaskError || !strings.Contains(st.Error, "connection to the database was lost") || !strings.Contains(st.Error, "retryable") {
		t.Fatalf("want a clear retryable error: %+v", st)
	}
	// The next task reconnects (the server may take a moment to accept).
	var last api.TaskStatus
	if !testdb.Eventually(20*time.Second, func() bool { last = h.exec("SELECT 2 AS two", d.params); return last.State == api.TaskSuccess }) {
		t.Fatalf("the next task did not reconnect: %+v", last)
	}
}

func testStreaming(t *testing.T, h *jdbcEC, d db) {
	const rows = 1_000_000
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	stop := make(chan struct{})
	var peak uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
		}
	}()
	st := h.ok(d.series(rows), d.params)
	close(stop)
	wg.Wait()
	info, err := os.Stat(st.Results[0])
	if err != nil {
		t.Fatal(err)
	}
	// The file is far larger than what the heap grew by: rows were not held.
	if grew := int64(peak) - int64(base.HeapInuse); grew > info.Size()/3 {
		t.Errorf("the heap grew by %d bytes streaming a %d-byte result", grew, info.Size())
	}
	t.Logf("%d rows, %d bytes, heap grew by at most %d bytes", rows, info.Size(), int64(peak)-int64(base.HeapInuse))
	if !logHas(h.logOf(st.ID), fmt.Sprintf("statement 1 of 1: %d rows in", rows)) {
		t.Error("the log does not count the rows")
	}
}

// testPools: one pool per set of credentials, at most JDBCMaxPools; the
// least recently used idle one is closed beyond that.
func testPools(t *testing.T, h *jdbcEC, d db, s *testdb.Servers) {
	for i := range engines.JDBCMaxPools + 2 {
		h.ok("SELECT 1", d.with(datasource.KeyURL, fmt.Sprintf("%s?ApplicationName=pool%02d", d.params[datasource.KeyURL], i)))
	}
	var names []string
	if !testdb.Eventually(10*time.Second, func() bool {
		names = nil
		for _, r := range s.PGQuery(t, "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'pool%' ORDER BY 1") {
			names = append(names, r[0])
		}
		return len(names) == engines.JDBCMaxPools
	}) {
		t.Fatalf("want the %d most recent pools open, got %v", engines.JDBCMaxPools, names)
	}
	if names[0] != "pool02" {
		t.Errorf("the two least recently used pools should be closed: %v", names)
	}
}
