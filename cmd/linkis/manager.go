package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/golinkis/golinkis/raftstore"
)

// runManager is `linkis manager --id ID --data-dir DIR --raft-addr
// HOST:PORT --http-addr HOST:PORT (--bootstrap | --join URL) [--log-store
// wal|bolt]`: one member of a manager cluster, until SIGINT or SIGTERM.
func runManager(args []string) error {
	cfg := raftstore.MemberConfig{Node: raftstore.DefaultConfig()}
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.StringVar(&cfg.Node.ID, "id", "", "member id, unique in the cluster and stable across restarts")
	fs.StringVar(&cfg.Node.DataDir, "data-dir", "", "directory for the log, stable store and snapshots")
	fs.StringVar((*string)(&cfg.Node.LogStore), "log-store", string(cfg.Node.LogStore),
		`where the Raft log is kept: "wal" (DIR/wal, one fsync per append) or "bolt" (DIR/raft.db); a log in the other moves over at start`)
	fs.StringVar(&cfg.Node.RaftAddr, "raft-addr", "", "host:port for Raft traffic")
	fs.StringVar(&cfg.Node.HTTPAddr, "http-addr", "", "host:port of the manager API")
	fs.StringVar(&cfg.Token, "token", os.Getenv("LINKIS_TOKEN"), "cluster token (default $LINKIS_TOKEN)")
	fs.BoolVar(&cfg.Bootstrap, "bootstrap", false, "start a new cluster with this member")
	join := fs.String("join", "", "API URLs of members to join, comma-separated")
	fs.DurationVar(&cfg.Node.HeartbeatTimeout, "heartbeat-timeout", cfg.Node.HeartbeatTimeout, "Raft heartbeat timeout")
	fs.DurationVar(&cfg.Node.ElectionTimeout, "election-timeout", cfg.Node.ElectionTimeout, "Raft election timeout")
	fs.DurationVar(&cfg.Node.LeaderLeaseTimeout, "lease-timeout", cfg.Node.LeaderLeaseTimeout, "Raft leader lease")
	verbose := fs.Bool("v", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, u := range strings.Split(*join, ",") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.Join = append(cfg.Join, u)
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Node.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return raftstore.RunMember(ctx, cfg)
}
