package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/linkis"
)

// runECM is `linkis ecm --manager URL[,URL] --data-dir DIR --http-addr
// HOST:PORT [--token-file FILE]`: the host agent, until SIGTERM.
func runECM(_ io.Writer, args []string) error {
	cfg := ecm.DefaultConfig()
	fs := flag.NewFlagSet("ecm", flag.ContinueOnError)
	managers := fs.String("manager", "", "manager base URLs, comma-separated (http://host:port)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory for engine work, log and result dirs")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:0", "ECM API listen address")
	fs.StringVar(&cfg.Addr, "advertise", "", "API address the manager calls (default: the listen address)")
	token := clusterTokenFlags(fs)
	fs.StringVar(&cfg.ID, "id", cfg.ID, "ECM id, unique among the manager's ECMs")
	fs.BoolVar(&cfg.Replace, "replace", false, "take the id over from another ECM registered with it (its engines end); without it, such a start fails")
	fs.DurationVar(&cfg.RegisterWait, "manager-wait", cfg.RegisterWait, "how long start-up keeps trying while no manager answers")
	fs.DurationVar(&cfg.EngineMaxFreeTime, "engine-idle-time", 0, "engines exit after this long without work (default: the engine's own, 1h; an ask's engineconn.max.free.time wins)")
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
	capf := capacityFlags(fs)
	fs.IntVar(&cfg.MaxStarting, "max-starting", cfg.MaxStarting, "engines starting at once")
	fs.Int64Var(&cfg.LogCap, "log-cap", cfg.LogCap, "bytes of an engine's output kept")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat", cfg.HeartbeatInterval, "heartbeat interval")
	fs.DurationVar(&cfg.StartTimeout, "start-timeout", cfg.StartTimeout, "stop an engine that has not started by then")
	fs.DurationVar(&cfg.KillGrace, "kill-grace", cfg.KillGrace, "SIGTERM to SIGKILL when a kill names none")
	fs.DurationVar(&cfg.Retention, "retention", cfg.Retention, "how long an ended engine's task logs and result files are kept and served")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	for _, u := range strings.Split(*managers, ",") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.Managers = append(cfg.Managers, serverURL(u))
		}
	}
	var err error
	if cfg.Token, err = token.value(os.Stderr); err != nil {
		return fmt.Errorf("ecm: %w", err)
	}
	if err := missing("ecm", map[string]bool{"--manager URL": len(cfg.Managers) > 0, "--data-dir DIR": cfg.DataDir != "",
		tokenFlagNeeded: cfg.Token != ""}); err != nil {
		return err
	}
	cfg.Labels = labels
	c, err := capf.resource()
	if err != nil {
		return err
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

// capacity holds the flags that say what an ECM offers (ecm and server).
type capacity struct {
	memory, cores *string
	instances     *int64
}

func capacityFlags(fs *flag.FlagSet) capacity {
	return capacity{
		memory:    fs.String("memory", "", "memory offered to engines, e.g. 64g (default: the host's)"),
		cores:     fs.String("cores", "", "cores offered to engines, e.g. 16 or 0.5 (default: the host's)"),
		instances: fs.Int64("instances", ecm.DefaultInstances, "engines offered at most"),
	}
}

// resource is the capacity the flags give, the host's where they are not
// given.
func (c capacity) resource() (linkis.Resource, error) {
	r := ecm.DetectCapacity()
	r.Instances = *c.instances
	var err error
	if *c.memory != "" {
		if r.Memory, err = linkis.ParseMemory(*c.memory); err != nil {
			return r, linkis.ValueError(linkis.ErrInvalidArgument, "memory", *c.memory, "must be a size like 64g")
		}
	}
	if *c.cores != "" {
		if r.MilliCores, err = linkis.ParseCores(*c.cores); err != nil {
			return r, linkis.ValueError(linkis.ErrInvalidArgument, "cores", *c.cores, "must be cores like 16 or 0.5")
		}
	}
	if err := r.Validate(); err != nil {
		return r, err
	}
	if r.Instances < 1 {
		return r, linkis.ValueError(linkis.ErrInvalidArgument, "instances", strconv.FormatInt(r.Instances, 10), "must be at least 1")
	}
	return r, nil
}

// missing returns an error naming the required flags that are not set
// (given is keyed by how the flag is written), or nil.
func missing(cmd string, given map[string]bool) error {
	var names []string
	for name, ok := range given {
		if !ok {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	return fmt.Errorf("%s needs %s (linkis help %s shows them all with an example)", cmd, strings.Join(names, ", "), cmd)
}
