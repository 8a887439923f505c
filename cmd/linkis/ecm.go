package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/linkis"
)

// runECM is `linkis ecm --manager URL[,URL] --data-dir DIR --http-addr
// HOST:PORT [--token T]`: the host agent, until SIGTERM.
func runECM(args []string) error {
	cfg := ecm.DefaultConfig()
	fs := flag.NewFlagSet("ecm", flag.ContinueOnError)
	managers := fs.String("manager", "", "manager base URLs, comma-separated (http://host:port)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory for engine work, log and result dirs")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:0", "ECM API listen address")
	fs.StringVar(&cfg.Addr, "advertise", "", "API address the manager calls (default: the listen address)")
	fs.StringVar(&cfg.Token, "token", os.Getenv("LINKIS_TOKEN"), "cluster token (default $LINKIS_TOKEN)")
	fs.StringVar(&cfg.ID, "id", cfg.ID, "ECM id")
	fs.StringVar(&cfg.EngineHost, "engine-host", "", "IP engines bind their task API to (default: the API's host)")
	fs.BoolVar(&cfg.AllowRootEngines, "allow-root-engines", false, "when running as root, start engines of users unknown to this host as root")
	fs.Func("allow-command", "a program launches may name besides linkis (repeatable)", func(s string) error {
		cfg.Commands = append(cfg.Commands, s)
		return nil
	})
	labels := map[string]string{}
	fs.Func("label", "ECM label k=v (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("must be k=v, got %q", s)
		}
		labels[k] = v
		return nil
	})
	memory := fs.String("memory", "", "memory offered, e.g. 64g (default: detected)")
	cores := fs.String("cores", "", "cores offered, e.g. 16 (default: detected)")
	instances := fs.Int64("instances", ecm.DefaultInstances, "engines offered")
	fs.IntVar(&cfg.MaxStarting, "max-starting", cfg.MaxStarting, "engines starting at once")
	fs.Int64Var(&cfg.LogCap, "log-cap", cfg.LogCap, "bytes of an engine's output kept")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat", cfg.HeartbeatInterval, "heartbeat interval")
	fs.DurationVar(&cfg.StartTimeout, "start-timeout", cfg.StartTimeout, "stop an engine that has not started by then")
	fs.DurationVar(&cfg.KillGrace, "kill-grace", cfg.KillGrace, "SIGTERM to SIGKILL when a kill names none")
	fs.DurationVar(&cfg.Retention, "retention", cfg.Retention, "how long an ended engine's task logs and result files are kept and served")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, u := range strings.Split(*managers, ",") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.Managers = append(cfg.Managers, u)
		}
	}
	cfg.Labels = labels
	c := ecm.DetectCapacity()
	c.Instances = *instances
	var err error
	if *memory != "" {
		if c.Memory, err = linkis.ParseMemory(*memory); err != nil {
			return linkis.ValueError(linkis.ErrInvalidArgument, "memory", *memory, "must be a size like 64g")
		}
	}
	if *cores != "" {
		if c.MilliCores, err = linkis.ParseCores(*cores); err != nil {
			return linkis.ValueError(linkis.ErrInvalidArgument, "cores", *cores, "must be cores like 16 or 0.5")
		}
	}
	cfg.Capacity = &c
	if err := cfg.Validate(); err != nil {
		return err
	}
	mgr, err := api.NewClient(cfg.Managers, cfg.Token, nil)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	m, err := ecm.New(cfg, mgr, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return m.Run(ctx, nil)
}
