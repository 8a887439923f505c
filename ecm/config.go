package ecm

import (
	"net"
	"os"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// Config is an ECM's configuration.
type Config struct {
	// ID names the ECM to the manager (default: "ecm-" + hostname).
	ID string
	// HTTPAddr is where the ECM API listens (host:port; port 0 picks one).
	HTTPAddr string
	// Addr is the API address the manager calls (default: the address
	// actually listened on).
	Addr string
	// Managers are the manager base URLs; Token is the cluster token.
	Managers []string
	Token    string
	// DataDir holds one directory per engine: work/, logs/, results/.
	DataDir string
	// Labels are registered with the ECM (e.g. tenant, yarnCluster).
	Labels map[string]string
	// Capacity is what the ECM offers; nil detects memory and cores from
	// the host (instances: 50, as Linkis).
	Capacity *linkis.Resource
	// Binary is the program that runs the command "linkis" (the built-in
	// engines); empty means this process's own executable.
	Binary string
	// EngineHost is the host engines bind their task API to (default: the
	// host of HTTPAddr, or 127.0.0.1 when that is a wildcard).
	EngineHost string

	// Commands are the programs a launch may name besides "linkis" (the
	// ECM's own binary, which runs the built-in engines): names looked up
	// on PATH, or absolute paths. A launch naming any other program fails,
	// not retryable. Empty: only "linkis". The cluster token lets a caller
	// launch; this list bounds what it can launch.
	Commands []string
	// Replace registers this ECM even when another one, at another
	// address, is registered with its ID: that one's registration and
	// engines end. Without it such a registration fails.
	Replace bool
	// RegisterWait bounds how long start-up waits for a manager to accept
	// the registration (none answers yet, no leader).
	RegisterWait time.Duration
	// EngineMaxFreeTime is how long the engines this ECM starts stay
	// without work before they exit (engineconn.max.free.time), unless an
	// ask's startup parameters say otherwise; 0 keeps the engine's own
	// default (1 h).
	EngineMaxFreeTime time.Duration

	// AllowRootEngines lets an ECM that runs as root start an engine as
	// root when its submitting user does not exist on the host. Off, such
	// a launch fails (not retryable), as Linkis's `sudo su - user` does.
	AllowRootEngines bool

	StartTimeout      time.Duration // an engine that has not written its address by then is stopped, failed (retryable)
	HeartbeatInterval time.Duration // ECM heartbeat (Linkis: 10 s)
	KillGrace         time.Duration // SIGTERM → SIGKILL when a kill names none
	MaxStarting       int           // launches that may be starting at once
	LogCap            int64         // bytes of an engine's output kept in its log file
	TailLines         int           // log lines quoted when an engine fails
	// Retention is how long an ended engine's directory - its task logs
	// and result files, served to the cluster (api.PathECMEngines), and
	// its ticket, so a late launch of it starts nothing - is kept after
	// the engine ended; then the API answers it is gone and the directory
	// is removed (within CleanInterval). Default: 7 days, for a job
	// history.
	Retention     time.Duration
	CleanInterval time.Duration // how often old directories are removed
}

// DefaultConfig returns working defaults; Managers, Token and DataDir must
// be set.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		ID:                "ecm-" + host,
		HTTPAddr:          "127.0.0.1:0",
		StartTimeout:      5 * time.Minute,
		RegisterWait:      2 * time.Minute,
		HeartbeatInterval: 10 * time.Second,
		KillGrace:         5 * time.Second,
		MaxStarting:       16,
		LogCap:            16 << 20,
		TailLines:         20,
		Retention:         7 * 24 * time.Hour,
		CleanInterval:     10 * time.Minute,
	}
}

// Validate rejects a configuration the ECM cannot run with, naming the
// field.
func (c Config) Validate() error {
	if c.ID == "" || len(c.ID) > 128 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "id", "must be 1-128 bytes")
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return linkis.ValueError(linkis.ErrInvalidArgument, "http-addr", c.HTTPAddr, "must be host:port")
	}
	if c.Addr != "" {
		if err := linkis.ValidateAddress("addr", c.Addr); err != nil {
			return err
		}
	}
	if len(c.Managers) == 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "manager", "at least one manager URL is required")
	}
	if c.Token == "" {
		return linkis.Errorf(linkis.ErrInvalidArgument, "token", "the cluster token is required (--token-file or LINKIS_TOKEN)")
	}
	if len(c.Token) > 1024 {
		// Engines get it through a socket written before they start: it must
		// fit the socket's buffer, and an engine reads at most 4 KiB.
		return linkis.Errorf(linkis.ErrInvalidArgument, "token", "longer than 1024 bytes")
	}
	if c.DataDir == "" {
		return linkis.Errorf(linkis.ErrInvalidArgument, "data-dir", "a data directory is required")
	}
	if _, err := linkis.ParseLabels(c.Labels); err != nil {
		return err
	}
	if c.Capacity != nil {
		if err := c.Capacity.Validate(); err != nil {
			return err
		}
		if c.Capacity.Instances < 1 {
			return linkis.Errorf(linkis.ErrInvalidArgument, "instances", "an ECM must offer at least one engine instance")
		}
	}
	if c.EngineHost != "" && net.ParseIP(c.EngineHost) == nil {
		return linkis.ValueError(linkis.ErrInvalidArgument, "engine-host", c.EngineHost, "must be an IP address")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"start-timeout", c.StartTimeout}, {"manager-wait", c.RegisterWait}, {"heartbeat", c.HeartbeatInterval}, {"kill-grace", c.KillGrace}, {"retention", c.Retention}, {"clean-interval", c.CleanInterval}} {
		if d.v <= 0 {
			return linkis.Errorf(linkis.ErrInvalidArgument, d.name, "must be positive, got %v", d.v)
		}
	}
	if c.EngineMaxFreeTime < 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "engine-idle-time", "must not be negative, got %v", c.EngineMaxFreeTime)
	}
	if c.MaxStarting < 1 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "max-starting", "must be at least 1, got %d", c.MaxStarting)
	}
	if c.LogCap < 1024 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "log-cap", "must be at least 1024 bytes, got %d", c.LogCap)
	}
	if c.TailLines < 1 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "tail-lines", "must be at least 1, got %d", c.TailLines)
	}
	return nil
}
