package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/orchestrator/restapi"
	"github.com/golinkis/golinkis/raftstore"
)

// runServer is `linkis server --data-dir DIR [--http-addr HOST:PORT]
// [--users FILE]`: a manager, an ECM and the entrance in one process for a
// team, serving Linkis's REST API (and /metrics) until SIGINT/SIGTERM. The
// manager's state is a single-node Raft log in DIR, so a restart keeps
// the job history, the queues and the engines' books.
func runServer(out io.Writer, args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "the server's files: job history, results, engines, the manager's log (required)")
	addr := fs.String("http-addr", "127.0.0.1:8088", "where the REST API listens")
	usersFile := fs.String("users", "", "a file of 'user token-code' lines (default: $LINKIS_USERS, 'user:code,user:code')")
	inMemory := fs.Bool("in-memory", false, "keep the manager's state in memory (engines are forgotten at a restart)")
	store := fs.String("log-store", string(raftstore.LogStoreWAL), `where the manager's Raft log is kept: "wal" or "bolt" (see linkis manager)`)
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if *dataDir == "" {
		return errors.New("server: --data-dir is required")
	}
	users, err := loadUsers(*usersFile, os.Getenv("LINKIS_USERS"))
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	sys, err := embedded.Start(embedded.Config{DataDir: *dataDir, Durable: !*inMemory, LogStore: raftstore.LogStore(*store), Logger: log})
	if err != nil {
		return err
	}
	defer sys.Close()
	rc := restapi.DefaultConfig()
	rc.Users = users
	rc.Logger = log
	h, err := sys.Handler(rc)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv := newAPIServer(h)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(out, "linkis server: REST API on http://%s/api/rest_j/v1, metrics on /metrics, %d users, data in %s\n", ln.Addr(), len(users), *dataDir)
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// loadUsers reads users and their token codes from a file of "user code"
// (or "user:code") lines, or else from spec ("user:code,user:code").
func loadUsers(file, spec string) (map[string]string, error) {
	users := map[string]string{}
	add := func(where, line string) error {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			return nil
		}
		// The user ends at the first ':' or blank, whichever comes first:
		// the code may hold either.
		i := strings.IndexFunc(line, func(r rune) bool { return r == ':' || r == ' ' || r == '\t' })
		ok := i > 0
		var u, c string
		if ok {
			u, c = line[:i], strings.TrimSpace(line[i+1:])
		}
		if !ok || u == "" || c == "" {
			return fmt.Errorf("server: %s: want 'user token-code' (the line is not shown: it may hold a code)", where)
		}
		if _, dup := users[u]; dup {
			return fmt.Errorf("server: %s: user %q is listed twice", where, u)
		}
		users[u] = c
		return nil
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			if err := add(fmt.Sprintf("%s line %d", file, n), sc.Text()); err != nil {
				return nil, err
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	} else {
		for i, p := range strings.Split(spec, ",") {
			if err := add(fmt.Sprintf("$LINKIS_USERS entry %d", i+1), p); err != nil {
				return nil, err
			}
		}
	}
	if len(users) == 0 {
		return nil, errors.New("server: no users: give --users FILE or $LINKIS_USERS=user:code,...")
	}
	return users, nil
}
