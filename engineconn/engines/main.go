package engines

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/engineconn"
)

// Main runs one EngineConn with the built-in engines, as an ECM starts it:
// args are what follows "engineconn" on its command line (--ticket, --engine,
// --param), the creation context is in the environment. It returns after a
// clean shutdown (SIGTERM, idle, max tasks, a once job that succeeded).
// `linkis engineconn` is this; a program embedding the system calls it
// through embedded.ServeEngine so that it can be its own engine binary.
func Main(args []string) error {
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
	ec, err := engineconn.New(cfg, Builtin(), mgr, log)
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
