package embedded_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/datasource"
	"github.com/golinkis/golinkis/datasource/testdb"
	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// syncBuffer is a log sink shared by the system's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestJDBCJobsEndToEnd runs jdbc jobs through the whole system - Linkis's
// REST API, the entrance, the orchestrator, the manager, the ECM and real
// engine processes - against a real PostgreSQL and a real MariaDB: a
// data source job with every common type read back through openFile, an
// inline-credentials job, a user refused a data source before any engine
// starts, a job killed on the database server; then it looks for the
// passwords in every file the system wrote, its logs, its metrics, its
// job records, and every process's command line and environment.
func TestJDBCJobsEndToEnd(t *testing.T) {
	dbs := testdb.Start(t)
	dir := t.TempDir()
	dsFile := filepath.Join(dir, "datasources.json")
	body, _ := json.Marshal(datasource.File{DataSources: []datasource.DataSource{
		{Name: "pg", URL: dbs.PG.URL(), Username: dbs.PG.User, Password: dbs.PG.Password, Users: []string{"alice"}},
	}})
	if err := os.WriteFile(dsFile, body, 0o600); err != nil {
		t.Fatal(err)
	}
	sources, err := datasource.Load(dsFile)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	dataDir := filepath.Join(dir, "system")
	sys, err := embedded.Start(embedded.Config{DataDir: dataDir, DataSources: sources,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	h, err := sys.Handler(func() restapi.Config {
		c := restapi.DefaultConfig()
		c.Users = map[string]string{"alice": "alice-code", "bob": "bob-code"}
		return c
	}())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	alice, _ := restapi.NewClient(srv.URL, "alice", "alice-code", nil)
	bob, _ := restapi.NewClient(srv.URL, "bob", "bob-code", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	job := func(user string, code string, runtime, startup orchestrator.Values) orchestrator.JobRequest {
		req, err := orchestrator.NewRequest(orchestrator.RequestSpec{Engine: "jdbc", User: user, Code: code})
		if err != nil {
			t.Fatal(err)
		}
		req.Params.Configuration = orchestrator.Configuration{Runtime: runtime, Startup: startup}
		return req
	}
	run := func(c *restapi.Client, req orchestrator.JobRequest) (restapi.SubmitData, restapi.StatusData) {
		t.Helper()
		sub, err := c.Submit(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.Wait(ctx, sub.ExecID, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sub, st
	}

	// A data source job: every common type, through openFile.
	sub, st := run(alice, job("alice", `DROP TABLE IF EXISTS e2e;
		CREATE TABLE e2e (i int, n numeric(12,3), t text, b bytea, d date, tz timestamptz, j jsonb);
		INSERT INTO e2e VALUES (1, 12.5, 'x"y', '\x0102', '2024-01-31', '2024-01-31 10:00:00+00', '{"k": [1]}'), (NULL, NULL, NULL, NULL, NULL, NULL, NULL);
		SET TIME ZONE 'UTC';
		SELECT * FROM e2e ORDER BY i NULLS LAST`, orchestrator.Values{datasource.KeyDataSource: "pg"}, nil))
	if st.Status != "Succeed" {
		lg, _ := alice.Log(ctx, sub.ExecID, 0, 1000)
		t.Fatalf("%+v\n%s", st, strings.Join(lg.Lines, "\n"))
	}
	rec, err := alice.Job(ctx, sub.TaskID)
	if err != nil || len(rec.ResultLocations) != 1 {
		t.Fatalf("%+v %v", rec, err)
	}
	fd, err := alice.OpenFile(ctx, rec.ResultLocations[0], 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(fd.FileContent)
	// Cells as strings and types by Linkis's names, as its clients read
	// openFile (see orchestrator/restapi/filesystem.go).
	if want := `[["1","12.500","x\"y","AQI=","2024-01-31","2024-01-31 10:00:00+00","{\"k\": [1]}"],[null,null,null,null,null,null,null]]`; string(got) != want {
		t.Errorf("openFile rows\n got %s\nwant %s", got, want)
	}
	var types []string
	for _, c := range fd.Columns() {
		types = append(types, c.DataType)
	}
	if strings.Join(types, ",") != "int,decimal,string,binary,date,timestamp,string" {
		t.Errorf("openFile types %v", types)
	}

	// Inline credentials, Linkis style, in the startup configuration.
	sub, st = run(alice, job("alice", "SELECT VERSION() LIKE '%MariaDB%' AS maria, 1 + 1 AS two", nil, orchestrator.Values{
		datasource.KeyURL: dbs.MySQL.URL(), datasource.KeyUsername: dbs.MySQL.User, datasource.KeyPassword: dbs.MySQL.Password}))
	if st.Status != "Succeed" {
		t.Fatalf("%+v", st)
	}
	rec, _ = alice.Job(ctx, sub.TaskID)
	if fd, err := alice.OpenFile(ctx, rec.ResultLocations[0], 1, 10); err != nil || fmt.Sprint(fd.FileContent) != "[[1 2]]" {
		t.Errorf("%+v %v", fd, err)
	}

	// bob may not use "pg": refused at submission, no engine started.
	engines := func() int {
		n := 0
		filepath.Walk(dataDir, func(p string, info os.FileInfo, err error) error {
			if err == nil && info.IsDir() && strings.HasPrefix(info.Name(), "ec-") {
				n++
			}
			return nil
		})
		return n
	}
	before := engines()
	_, err = bob.Submit(ctx, job("bob", "SELECT 1", orchestrator.Values{datasource.KeyDataSource: "pg"}, nil))
	if err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("bob was not refused: %v", err)
	}
	if list, _, _ := bob.List(ctx, orchestrator.ListQuery{}); len(list) != 0 {
		t.Errorf("a refused job was recorded: %+v", list)
	}
	if after := engines(); after != before {
		t.Errorf("an engine started for a refused job: %d engine directories before, %d after", before, after)
	}

	// A job killed through the REST API stops on the database server.
	sub, err = alice.Submit(ctx, job("alice", "SELECT pg_sleep(600)", orchestrator.Values{datasource.KeyDataSource: "pg"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	active := func() int {
		return len(dbs.PGQuery(t, "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query = 'SELECT pg_sleep(600)'"))
	}
	if !testdb.Eventually(60*time.Second, func() bool { return active() == 1 }) {
		t.Fatal("the query never showed in pg_stat_activity")
	}
	if _, err := alice.Kill(ctx, sub.ExecID); err != nil {
		t.Fatal(err)
	}
	if st, err := alice.Wait(ctx, sub.ExecID, nil); err != nil || st.Status != "Cancelled" {
		t.Fatalf("%+v %v", st, err)
	}
	if !testdb.Eventually(10*time.Second, func() bool { return active() == 0 }) {
		t.Fatal("the killed job's query still runs on the server")
	}

	// No password anywhere: job records (REST), metrics, the system's log,
	// every file under its data directory, every process.
	secrets := []string{dbs.PG.Password, dbs.MySQL.Password}
	list, _, err := alice.List(ctx, orchestrator.ListQuery{PageSize: 100})
	if err != nil || len(list) != 3 {
		t.Fatalf("alice's jobs: %d %v", len(list), err)
	}
	records, _ := json.Marshal(list)
	if !strings.Contains(string(records), datasource.RedactedPrefix) {
		t.Errorf("the inline password's job record holds no handle: %s", records)
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, s := range secrets {
		for what, text := range map[string]string{"job records": string(records), "metrics": string(metrics), "the system's log": logs.String()} {
			if strings.Contains(text, s) {
				t.Errorf("%s hold a password", what)
			}
		}
	}
	files := grepFiles(t, dataDir, secrets)
	procs := grepProcs(t, secrets)
	t.Logf("no password in %d files, %d processes, %d bytes of log, %d of metrics, %d of records",
		files, procs, len(logs.String()), len(metrics), len(records))
}

// grepFiles fails t when a file under dir holds one of secrets; it
// returns how many files it read.
func grepFiles(t *testing.T, dir string, secrets []string) int {
	t.Helper()
	n := 0
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		n++
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a password", p)
			}
		}
		return nil
	})
	if n < 5 {
		t.Errorf("only %d files under %s: the system wrote too little for the check to mean anything", n, dir)
	}
	return n
}

// grepProcs fails t when any process's command line or environment holds
// one of secrets; it returns how many processes it read.
func grepProcs(t *testing.T, secrets []string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n, engines := 0, 0
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil && !errors.Is(err, os.ErrPermission) {
			continue
		}
		n++
		if bytes.Contains(cmd, []byte("engineconn")) && bytes.Contains(cmd, []byte("jdbc-4")) {
			engines++
		}
		for _, s := range secrets {
			if bytes.Contains(cmd, []byte(s)) || bytes.Contains(env, []byte(s)) {
				t.Errorf("process %s (%q) holds a password", e.Name(), strings.ReplaceAll(string(cmd), "\x00", " "))
			}
		}
	}
	if engines == 0 {
		t.Error("no jdbc engine process was found to check")
	}
	return n
}
