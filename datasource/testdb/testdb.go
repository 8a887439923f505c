package testdb

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PG is a running PostgreSQL.
type PG struct {
	Port      int
	User      string // a login role owning DB
	Password  string
	DB        string
	SocketDir string
	Admin     string // the superuser, trusted on the socket
	Bin       string // the server binaries (psql, pg_ctl)
}

// URL is the JDBC URL of the database.
func (p PG) URL() string { return fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/%s", p.Port, p.DB) }

// MySQL is a running MariaDB.
type MySQL struct {
	Port     int
	User     string // granted everything on DB and PROCESS
	Password string
	DB       string
	Socket   string // root, without a password, on this socket
}

// URL is the JDBC URL of the database.
func (m MySQL) URL() string { return fmt.Sprintf("jdbc:mysql://127.0.0.1:%d/%s", m.Port, m.DB) }

// Servers are the servers one Start started.
type Servers struct {
	Dir   string
	PG    PG
	MySQL MySQL
}

// script is scripts/testdb.sh of this module.
func script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", "testdb.sh")
}

// Start starts both servers for tb and stops them when tb ends; it fails
// tb when they cannot start.
func Start(tb testing.TB) *Servers {
	tb.Helper()
	dir, err := os.MkdirTemp("", "linkis-testdb-")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Servers{Dir: dir}
	tb.Cleanup(func() {
		if out, err := s.run(2*time.Minute, "stop", dir); err != nil {
			tb.Errorf("stopping the test databases: %v\n%s", err, out)
		}
		os.RemoveAll(dir)
	})
	out, err := s.run(10*time.Minute, "start", dir)
	if err != nil {
		tb.Fatalf("the test databases did not start (scripts/testdb.sh start): %v\n%s", err, out)
	}
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[k] = v
		}
	}
	num := func(k string) int {
		n, err := strconv.Atoi(kv[k])
		if err != nil {
			tb.Fatalf("scripts/testdb.sh printed no %s", k)
		}
		return n
	}
	s.PG = PG{Port: num("PG_PORT"), User: kv["PG_USER"], Password: kv["PG_PASSWORD"], DB: kv["PG_DB"],
		SocketDir: kv["PG_SOCKET_DIR"], Admin: kv["PG_ADMIN"], Bin: kv["PG_BIN"]}
	s.MySQL = MySQL{Port: num("MYSQL_PORT"), User: kv["MYSQL_USER"], Password: kv["MYSQL_PASSWORD"], DB: kv["MYSQL_DB"], Socket: kv["MYSQL_SOCKET"]}
	if s.PG.Password == "" || s.MySQL.Password == "" {
		tb.Fatal("scripts/testdb.sh printed no passwords")
	}
	return s
}

// run runs the script; the output is stdout (stderr goes to the test's
// stderr, where a failing start explains itself).
func (s *Servers) run(timeout time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script()}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return append(out, stderr.Bytes()...), err
	}
	return out, nil
}

// RestartPG restarts the PostgreSQL at once, cutting every connection (as
// a crash would), on the same port.
func (s *Servers) RestartPG(tb testing.TB) {
	tb.Helper()
	if out, err := s.run(2*time.Minute, "restart-pg", s.Dir); err != nil {
		tb.Fatalf("restarting postgres: %v\n%s", err, out)
	}
}

// RestartMySQL kills the MariaDB (SIGKILL, as a crash) and starts it
// again on the same port.
func (s *Servers) RestartMySQL(tb testing.TB) {
	tb.Helper()
	if out, err := s.run(2*time.Minute, "restart-mariadb", s.Dir); err != nil {
		tb.Fatalf("restarting mariadb: %v\n%s", err, out)
	}
}

// PGQuery runs sql as the superuser (psql over the socket) and returns
// its rows, each a list of fields.
func (s *Servers) PGQuery(tb testing.TB, sql string) [][]string {
	tb.Helper()
	out, err := exec.Command(filepath.Join(s.PG.Bin, "psql"), "-h", s.PG.SocketDir, "-p", strconv.Itoa(s.PG.Port), "-U", s.PG.Admin,
		"-d", s.PG.DB, "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql).CombinedOutput()
	if err != nil {
		tb.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
	return fields(out)
}

// MySQLQuery runs sql as root (over the socket) and returns its rows.
func (s *Servers) MySQLQuery(tb testing.TB, sql string) [][]string {
	tb.Helper()
	out, err := exec.Command("mariadb", "--no-defaults", "--socket="+s.MySQL.Socket, "-uroot", "-N", "-B", s.MySQL.DB, "-e", sql).CombinedOutput()
	if err != nil {
		tb.Fatalf("mariadb %q: %v\n%s", sql, err, out)
	}
	return fields(out)
}

func fields(out []byte) [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line != "" {
			rows = append(rows, strings.Split(line, "\t"))
		}
	}
	return rows
}

// Eventually polls cond every 50 ms for up to d; it reports whether cond
// held.
func Eventually(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
