package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/engineconn/engines"
)

// runEngineConn is `linkis engineconn --ticket ec-N --engine TYPE-VERSION
// [--param k=v]...`, started by an ECM with the creation context in its
// environment. It exits 0 after a clean shutdown (SIGTERM, idle, max
// tasks, a once job that succeeded).
func runEngineConn(args []string) error {
	cfg, err := engineconn.ParseArgs(args, os.Getenv)
	if err != nil {
		return err
	}
	if err := engineconn.ProtectSecrets(); err != nil {
		return err
	}
	mgr, err := api.NewClient(cfg.Managers, cfg.Token, nil)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ec, err := engineconn.New(cfg, engines.Builtin(), mgr, log)
	if err != nil {
		return err
	}
	// Outlive the ECM: its end breaks our output pipe, and a write to a
	// broken pipe must fail (EPIPE), not kill the engine. (Notify rather
	// than Ignore: an ignored signal would be inherited by the engine's
	// children.)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return ec.Run(ctx)
}
