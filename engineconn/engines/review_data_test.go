package engines_test

// Reproducers of the data-facing security review (branch rev-data), kept
// as tests of what the jdbc engine promises.

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/datasource"
)

// TestRowCapKeepsTheStatementsWork: the row cap stops a result by
// cancelling the statement on the server (PostgreSQL cancel request,
// MariaDB KILL QUERY) and then treats the "canceled" error as success. A
// statement whose rows are the RETURNING of a modification, or a
// procedure that selects before it writes, is undone on the server by that
// cancel - yet the task ends SUCCEED with "truncated" in its log, and the
// user believes the rows were written.
func TestRowCapKeepsTheStatementsWork(t *testing.T) {
	dbs, _ := servers(t)
	h := startJDBC(t)
	capped := func(d db) map[string]string { return d.with(datasource.KeyResultMax, "10") }
	for _, d := range dbs {
		t.Run(d.name, func(t *testing.T) {
			h.t = t
			h.ok("DROP TABLE IF EXISTS capdml; CREATE TABLE capdml (a int)", d.params)
			var ins string
			if d.name == "postgresql" {
				ins = "INSERT INTO capdml SELECT g FROM generate_series(1, 1000000) g RETURNING a"
			} else {
				ins = "INSERT INTO capdml SELECT seq FROM seq_1_to_1000000 RETURNING a" // MariaDB's sequence engine
			}
			st := h.exec(ins, capped(d))
			n := d.count(t, "capdml")
			t.Logf("%s: task %s %q, table holds %s rows; log:\n%s", d.name, st.State, st.Error, n, strings.Join(h.logOf(st.ID), "\n"))
			if st.State == api.TaskSuccess && n != "1000000" {
				t.Errorf("the INSERT ... RETURNING task SUCCEEDED but the table holds %s rows of 1000000: the row cap's cancel rolled the insert back", n)
			}
			if d.name == "postgresql" {
				// A SELECT whose rows come from a function that writes: PostgreSQL
				// streams it, and the cancel rolls back every row written.
				h.ok(`DELETE FROM capdml; CREATE OR REPLACE FUNCTION capins(x int) RETURNS int LANGUAGE sql AS
					$$ INSERT INTO capdml VALUES (x) RETURNING x $$`, d.params)
				st = h.exec("SELECT capins(g) FROM generate_series(1, 1000000) g", capped(d))
				n = d.count(t, "capdml")
				t.Logf("capped SELECT capins(g): task %s %q, capdml holds %s rows", st.State, st.Error, n)
				if st.State == api.TaskSuccess && n == "0" {
					t.Errorf("SELECT capins(g) SUCCEEDED, its log says only that the result was truncated, but every row it wrote was rolled back by the row cap's cancel")
				}
				return
			}
			// A procedure that returns rows before it writes: uncapped, its
			// INSERT runs; capped, it does not, and the task succeeds.
			h.ok(`DROP TABLE IF EXISTS capaudit; CREATE TABLE capaudit (a int); DROP PROCEDURE IF EXISTS capproc;
				CREATE PROCEDURE capproc() BEGIN SELECT seq FROM seq_1_to_1000000; INSERT INTO capaudit VALUES (1); END`, d.params)
			h.ok("CALL capproc()", d.params)
			if n := d.count(t, "capaudit"); n != "1" {
				t.Fatalf("uncapped, the procedure's INSERT did not run: %s rows", n)
			}
			h.ok("DELETE FROM capaudit", d.params)
			st = h.exec("CALL capproc()", capped(d))
			n = d.count(t, "capaudit")
			t.Logf("capped CALL: task %s %q, capaudit holds %s rows; log:\n%s", st.State, st.Error, n, strings.Join(h.logOf(st.ID), "\n"))
			if st.State == api.TaskSuccess && n != "1" {
				t.Errorf("CALL capproc() SUCCEEDED but its INSERT never ran (capaudit holds %s rows): the row cap's KILL QUERY stopped the procedure", n)
			}
		})
	}
}

// TestPasswordNeverGoesInClearText: the engine answers a server's
// request for a cleartext password (pgx's default; no sslmode is forced),
// so the password reaches whatever listens at the URL. With a vault handle
// from another user's record (see orchestrator's
// TestVaultHandleOpensOnlyForItsUserAndKey) this is the last
// step of stealing it; with a data source's URL and the default sslmode
// (prefer) a man in the middle gets it the same way.
func TestPasswordNeverGoesInClearText(t *testing.T) {
	addr, got := fakePGAskingCleartext(t)
	h := startJDBC(t)
	st := h.exec("SELECT 1", map[string]string{datasource.KeyURL: "jdbc:postgresql://" + addr + "/x",
		datasource.KeyUsername: "alice", datasource.KeyPassword: "Alice-Db-Pw-1", datasource.KeyConnectTimeout: "2"})
	if st.State == api.TaskSuccess {
		t.Fatalf("the fake server cannot run a query: %+v", st)
	}
	select {
	case pw := <-got:
		if pw == "Alice-Db-Pw-1" {
			t.Errorf("the server at the job's URL received the password in clear text: %q", pw)
		}
	case <-time.After(5 * time.Second):
	}
}

// fakePGAskingCleartext is a PostgreSQL server that refuses TLS, asks for
// a cleartext password (AuthenticationCleartextPassword) and reports it.
func fakePGAskingCleartext(t *testing.T) (string, <-chan string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				for {
					var hdr [8]byte
					if _, err := io.ReadFull(r, hdr[:]); err != nil {
						return
					}
					n := binary.BigEndian.Uint32(hdr[:4])
					code := binary.BigEndian.Uint32(hdr[4:])
					if _, err := io.CopyN(io.Discard, r, int64(n)-8); err != nil {
						return
					}
					if code == 80877103 || code == 80877104 { // SSLRequest, GSSENCRequest
						c.Write([]byte{'N'})
						continue
					}
					break // the StartupMessage
				}
				c.Write([]byte{'R', 0, 0, 0, 8, 0, 0, 0, 3}) // AuthenticationCleartextPassword
				var hdr [5]byte
				if _, err := io.ReadFull(r, hdr[:]); err != nil || hdr[0] != 'p' {
					return
				}
				body := make([]byte, binary.BigEndian.Uint32(hdr[1:])-4)
				if _, err := io.ReadFull(r, body); err != nil {
					return
				}
				got <- strings.TrimRight(string(body), "\x00")
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String(), got
}

// TestOversizedRowIsRefusedWhenWritten: the jdbc engine writes
// rows with RawRow, which checks no row size, so a value past
// api.MaxResultLine (16 MiB) goes into the result file and the task
// SUCCEEDS - but every reader refuses that file (ReadResultSet, the ECM's
// pages: "a row is longer than ..."). The row cap should have a byte
// counterpart that truncates (or fails) at write time.
func TestOversizedRowIsRefusedWhenWritten(t *testing.T) {
	dbs, _ := servers(t)
	h := startJDBC(t)
	d := dbs[0]
	st := h.exec("SELECT repeat('x', 17 * 1024 * 1024) AS big", d.params)
	if st.State != api.TaskSuccess {
		return // refused at write time: what it should do
	}
	f, err := os.Open(st.Results[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := api.ReadResultSet(f, 0); err != nil {
		t.Errorf("the task SUCCEEDED with a result no reader accepts: %v", err)
	}
}

// TestCopyFromOrToTheClientIsRefused: PostgreSQL's COPY through the simple protocol.
// COPY ... TO STDOUT succeeds and its rows go nowhere (no result set, "2
// rows affected"). COPY ... FROM STDIN waits for data the engine never
// sends until the statement timeout (30 min by default), the cancel does
// not end it, the socket is cut 5 s later, and the task fails as "the
// connection to the database was lost (the server restarted ...)" -
// retryable, so a retry waits as long again.
func TestCopyFromOrToTheClientIsRefused(t *testing.T) {
	dbs, _ := servers(t)
	h := startJDBC(t)
	d := dbs[0]
	h.ok("DROP TABLE IF EXISTS cp; CREATE TABLE cp (a int); INSERT INTO cp VALUES (1), (2)", d.params)
	if st := h.exec("COPY cp TO STDOUT", d.params); st.State == api.TaskSuccess && len(st.Results) == 0 {
		t.Errorf("COPY cp TO STDOUT SUCCEEDED and its two rows went nowhere: %s", strings.Join(h.logOf(st.ID), " | "))
	}
	st := h.exec("COPY cp FROM STDIN", d.with(datasource.KeyQueryTimeout, "2"))
	if strings.Contains(st.Error, "connection to the database was lost") || strings.Contains(st.Error, "retryable") {
		t.Errorf("COPY FROM STDIN waited for the statement timeout and ended as a lost, retryable connection: %s", st.Error)
	}
}
