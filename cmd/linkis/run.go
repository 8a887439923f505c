package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/golinkis/golinkis/datasource"
	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// runUser is the user `linkis run` runs jobs as: $USER with each
// character a Linkis user name does not allow (a '-', say) made '_', or
// "linkis".
func runUser() string {
	u := os.Getenv("USER")
	if u == "" || len(u) > 64 || strings.Trim(u, ".") == "" {
		return "linkis"
	}
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '@') {
			return r
		}
		return '_'
	}, u)
}

// runRun is `linkis run --engine shell|python|sql|jdbc (--code C | --file F)
// [--var k=v]... [--label k=v]... [--datasource NAME --datasources FILE]
// [--data-dir D]`: one job on a system
// started for it (manager in memory, one ECM, the entrance), its log as it
// runs and its result tables at the end. It exits non-zero when the job
// does not succeed.
func runRun(out io.Writer, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var jf jobFlags
	jf.register(fs, "LINKISCLI")
	dataDir := fs.String("data-dir", "", "keep the system's files here (default: a temporary directory, removed at exit)")
	verbose := fs.Bool("v", false, "log the system's warnings to stderr")
	sourcesFile := fs.String("datasources", os.Getenv("LINKIS_DATASOURCES"), "the data source file (mode 0600) --datasource names come from (default $LINKIS_DATASOURCES)")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	sources, err := loadDataSources(*sourcesFile)
	if err != nil {
		return err
	}
	user := runUser()
	req, err := jf.request("run", user)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	level := slog.LevelError + 1
	if *verbose {
		level = slog.LevelWarn
	}
	sys, err := embedded.Start(embedded.Config{DataDir: *dataDir, DataSources: sources,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))})
	if err != nil {
		return err
	}
	defer sys.Close()
	// The job goes through the REST API on loopback, as `linkis submit
	// --wait` would: one path for logs, progress and result tables.
	token := make([]byte, 16)
	rand.Read(token)
	code := hex.EncodeToString(token)
	c, shutdown, err := serveLoopback(sys, map[string]string{user: code})
	if err != nil {
		return err
	}
	defer shutdown()
	cl, err := restapi.NewClient(c, user, code, nil)
	if err != nil {
		return err
	}
	sub, err := cl.Submit(ctx, req)
	if err != nil {
		return err
	}
	st, f, err := follow(ctx, cl, out, os.Stderr, c, sub.ExecID, 0, true)
	if err != nil {
		return err
	}
	if err := ended(ctx, cl, out, st); err != nil {
		return err
	}
	// The log showed the job's output lines; its text result sets hold
	// the same lines, and are printed only when the log was cut.
	return printResults(ctx, cl, out, sub.TaskID, 1, restapi.DefaultFilePageSize, !f.truncated)
}

// loadDataSources reads the data source file, if one is named.
func loadDataSources(file string) (*datasource.Set, error) {
	if file == "" {
		return nil, nil
	}
	return datasource.Load(file)
}

// serveLoopback serves a system's REST API on a loopback port for users;
// it returns the base URL and a function that stops the server.
func serveLoopback(sys *embedded.System, users map[string]string) (string, func(), error) {
	return serveAt(sys, users, "127.0.0.1:0")
}

// serveAt is serveLoopback at addr.
func serveAt(sys *embedded.System, users map[string]string, addr string) (string, func(), error) {
	rc := restapi.DefaultConfig()
	rc.Users = users
	h, err := sys.Handler(rc)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := newAPIServer(h)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}

// newAPIServer is the HTTP server of the REST API (run and server). Every
// wait is bounded: a connection that sends nothing, sends its request
// slowly or idles between requests is closed, so connections cannot be
// piled up by someone without a token.
func newAPIServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
}
