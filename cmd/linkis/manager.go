package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/golinkis/golinkis/raftstore"
)

// runManager is `linkis manager --id ID --data-dir DIR --raft-addr
// HOST:PORT --http-addr HOST:PORT (--bootstrap | --join URL) [--log-store
// wal|bolt]`: one member of a manager cluster, until SIGINT or SIGTERM.
func runManager(_ io.Writer, args []string) error {
	cfg := raftstore.MemberConfig{Node: raftstore.DefaultConfig()}
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.StringVar(&cfg.Node.ID, "id", "", "member id, unique in the cluster and stable across restarts")
	fs.StringVar(&cfg.Node.DataDir, "data-dir", "", "directory for the log, stable store and snapshots")
	fs.StringVar((*string)(&cfg.Node.LogStore), "log-store", string(cfg.Node.LogStore),
		`where the Raft log is kept: "wal" (DIR/wal, one fsync per append) or "bolt" (DIR/raft.db); a log in the other moves over at start`)
	fs.StringVar(&cfg.Node.RaftAddr, "raft-addr", "", "host:port for Raft traffic")
	fs.StringVar(&cfg.Node.HTTPAddr, "http-addr", "", "host:port of the manager API")
	token := clusterTokenFlags(fs)
	fs.BoolVar(&cfg.Bootstrap, "bootstrap", false, "start a new cluster with this member")
	join := fs.String("join", "", "API URLs of members to join, comma-separated")
	fs.DurationVar(&cfg.Node.HeartbeatTimeout, "heartbeat-timeout", cfg.Node.HeartbeatTimeout, "Raft heartbeat timeout")
	fs.DurationVar(&cfg.Node.ElectionTimeout, "election-timeout", cfg.Node.ElectionTimeout, "Raft election timeout")
	fs.DurationVar(&cfg.Node.LeaderLeaseTimeout, "lease-timeout", cfg.Node.LeaderLeaseTimeout, "Raft leader lease")
	verbose := fs.Bool("v", false, "log at debug level")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	var err error
	if cfg.Token, err = token.value(os.Stderr); err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	if err := missing("manager", map[string]bool{"--id ID": cfg.Node.ID != "", "--data-dir DIR": cfg.Node.DataDir != "",
		"--raft-addr HOST:PORT": cfg.Node.RaftAddr != "", "--http-addr HOST:PORT": cfg.Node.HTTPAddr != "",
		tokenFlagNeeded: cfg.Token != ""}); err != nil {
		return fmt.Errorf("%w; the first member of a new cluster also takes --bootstrap, the others --join URL", err)
	}
	cfg.Join = splitList(*join)
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Node.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return raftstore.RunMember(ctx, cfg)
}
