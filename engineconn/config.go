package engineconn

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Environment variables an ECM sets for an EngineConn (the manager's
// launcher sets the LINKIS_TICKET ... LINKIS_MILLICORES ones; the ECM adds
// the rest).
const (
	EnvTicket     = "LINKIS_TICKET"
	EnvEngineType = "LINKIS_ENGINE_TYPE"
	EnvUser       = "LINKIS_USER"
	EnvECM        = "LINKIS_ECM"
	EnvLabels     = "LINKIS_LABELS"
	EnvMemory     = "LINKIS_MEMORY"
	EnvMilliCores = "LINKIS_MILLICORES"
	EnvManager    = "LINKIS_MANAGER"  // comma-separated manager base URLs
	EnvToken      = "LINKIS_TOKEN"    // the cluster token (by hand only; an ECM uses EnvTokenFD)
	EnvTokenFD    = "LINKIS_TOKEN_FD" // an inherited descriptor to read the cluster token from
	EnvAddrFD     = "LINKIS_ADDR_FD"  // an inherited socket to report the task API's address to the ECM on
	EnvWorkDir    = "LINKIS_WORK_DIR"
	EnvLogDir     = "LINKIS_LOG_DIR"
	EnvResultDir  = "LINKIS_RESULT_DIR"
	EnvHost       = "LINKIS_EC_HOST" // the host the task API binds to
	// EnvMaxFreeTime is the ECM's default for ParamMaxFreeTime.
	EnvMaxFreeTime = "LINKIS_MAX_FREE_TIME"
)

// Startup parameters an EngineConn reads (from --param k=v).
const (
	ParamMaxFreeTime  = "engineconn.max.free.time"  // idle exit, e.g. "30m"
	ParamMaxTasks     = "engineconn.max.task.num"   // exit after this many tasks
	ParamHeartbeat    = "engineconn.heartbeat"      // periodic heartbeat, e.g. "2m"
	ParamExitLinger   = "engineconn.exit.linger"    // see Config.ExitLinger, e.g. "5s"
	ParamTaskLogCap   = "engineconn.task.log.cap"   // bytes of log kept per task, e.g. "4m"
	ParamOnceCode     = "engineconn.once.code"      // the job of a once engine
	ParamOnceCodeFile = "engineconn.once.code.file" // or a material holding it
)

// Config is an EngineConn's creation context and limits.
type Config struct {
	Ticket     string // "ec-N"
	EngineType linkis.EngineType
	User       string
	ECM        string
	Labels     linkis.Labels
	Params     map[string]string

	Managers []string // manager base URLs
	Token    string   // cluster token
	Host     string   // the host the task API listens on (port chosen by the kernel)
	// AddrReport is the ECM's end of the channel the engine reports its
	// task API's address on (EnvAddrFD; see Run), nil when run by hand.
	AddrReport *os.File

	WorkDir, LogDir, ResultDir string

	Mode        linkis.EngineConnMode // computation (serial or concurrent) or once
	Concurrency int                   // tasks at once; 1 = serial executor
	OnceCode    string                // the job of a once engine

	MaxFreeTime       time.Duration // exit after this long with no task and no grant
	MaxTasks          int           // exit after this many tasks (Linkis: 50)
	HeartbeatInterval time.Duration // periodic heartbeat (Linkis: 2 min)
	TaskLogCap        int           // log bytes kept per task
	MaxResultBytes    int64         // bytes per result-set file
	KeepTasks         int           // ended tasks kept for status queries
	// KeepKeys is how many keyed tasks (api.TaskRequest.Key) are still
	// remembered by key, with their final status, after their record is
	// forgotten (past KeepTasks): a resubmission of such a key answers with
	// the task instead of running it again. Tasks still kept are always
	// remembered by key.
	KeepKeys    int
	KillGrace   time.Duration // how long a killed task may take to stop
	LockRecheck time.Duration // how often an expired grant is re-checked with the manager
	GrantTTL    time.Duration // a grant verified longer ago is verified again on its next use
	// ExitLinger is how long an engine that ends by itself after its last
	// task (max tasks, a once job) keeps answering status and log queries
	// about it, refusing new work, before it exits.
	ExitLinger time.Duration
}

// DefaultConfig returns the defaults (Linkis's where it has one). The
// identity and directories must be filled in.
func DefaultConfig() Config {
	return Config{
		Host:              "127.0.0.1",
		Mode:              linkis.ModeComputation,
		Concurrency:       1,
		MaxFreeTime:       time.Hour,
		MaxTasks:          50,
		HeartbeatInterval: 2 * time.Minute,
		TaskLogCap:        1 << 20,
		MaxResultBytes:    1 << 30,
		KeepTasks:         200, // with TaskLogCap: at most 200 MiB of kept logs
		KeepKeys:          1000,
		KillGrace:         3 * time.Second,
		LockRecheck:       time.Second,
		GrantTTL:          30 * time.Second,
		ExitLinger:        5 * time.Second,
	}
}

// Validate rejects a configuration an EngineConn cannot run with, naming
// the field.
func (c Config) Validate() error {
	if _, err := manager.ParseECID(c.Ticket); err != nil {
		return linkis.ValueError(linkis.ErrInvalidArgument, "ticket", c.Ticket, "must be ec-N")
	}
	if c.EngineType.Type == "" {
		return linkis.Errorf(linkis.ErrInvalidArgument, "engine", "an engine type (type-version) is required")
	}
	if len(c.Managers) == 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "manager", "at least one manager URL is required (%s)", EnvManager)
	}
	if c.Token == "" {
		return linkis.Errorf(linkis.ErrInvalidArgument, "token", "the cluster token is required (%s)", EnvToken)
	}
	for _, d := range []struct{ name, v string }{{"workDir", c.WorkDir}, {"logDir", c.LogDir}, {"resultDir", c.ResultDir}} {
		if d.v == "" {
			return linkis.Errorf(linkis.ErrInvalidArgument, d.name, "a directory is required")
		}
	}
	if net.ParseIP(c.Host) == nil && c.Host != "localhost" {
		return linkis.ValueError(linkis.ErrInvalidArgument, "host", c.Host, "must be an IP address")
	}
	if c.Mode != linkis.ModeComputation && c.Mode != linkis.ModeOnce {
		return linkis.ValueError(linkis.ErrInvalidArgument, "mode", c.Mode.String(), "an EngineConn runs computation or once")
	}
	if c.Mode == linkis.ModeOnce && strings.TrimSpace(c.OnceCode) == "" {
		return linkis.Errorf(linkis.ErrInvalidArgument, ParamOnceCode, "a once engine needs its job (%s or %s)", ParamOnceCode, ParamOnceCodeFile)
	}
	if c.Concurrency < 1 || c.Concurrency > linkis.MaxConcurrency {
		return linkis.Errorf(linkis.ErrInvalidArgument, "concurrency", "must be from 1 to %d, got %d", linkis.MaxConcurrency, c.Concurrency)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"maxFreeTime", c.MaxFreeTime}, {"heartbeat", c.HeartbeatInterval}, {"killGrace", c.KillGrace}, {"lockRecheck", c.LockRecheck}, {"grantTTL", c.GrantTTL}} {
		if d.v <= 0 {
			return linkis.Errorf(linkis.ErrInvalidArgument, d.name, "must be positive, got %v", d.v)
		}
	}
	if c.ExitLinger < 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "exitLinger", "must not be negative, got %v", c.ExitLinger)
	}
	if c.MaxTasks < 1 || c.KeepTasks < 1 || c.TaskLogCap < 1 || c.MaxResultBytes < 1 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "limits", "maxTasks, keepTasks, taskLogCap and maxResultBytes must be positive")
	}
	if c.KeepKeys < 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "keepKeys", "must not be negative, got %d", c.KeepKeys)
	}
	return nil
}

// argFlags is the command line of an engine.
func argFlags(getenv func(string) string) (fs *flag.FlagSet, ticket, engine *string, params map[string]string) {
	fs = flag.NewFlagSet("engineconn", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	ticket = fs.String("ticket", getenv(EnvTicket), "the engine's ticket, ec-N (default $"+EnvTicket+")")
	engine = fs.String("engine", getenv(EnvEngineType), "engine type, TYPE-VERSION (default $"+EnvEngineType+")")
	params = map[string]string{}
	fs.Func("param", "startup parameter k=v, e.g. "+ParamMaxFreeTime+"=30m (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("must be k=v, got %q", s)
		}
		params[k] = v
		return nil
	})
	return fs, ticket, engine, params
}

// PrintFlags writes the flags of an engine's command line to w, as
// flag.PrintDefaults does.
func PrintFlags(w io.Writer) {
	fs, _, _, _ := argFlags(func(string) string { return "" })
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// ParseArgs builds the creation context from the command line
// (`--ticket ec-N --engine TYPE-VERSION --param k=v ...`) and the
// environment the ECM set (getenv), over DefaultConfig. It checks
// everything and returns a clear error naming what is wrong.
//
// -h or --help gives an error that is flag.ErrHelp (PrintFlags prints
// the flags).
func ParseArgs(args []string, getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	fs, ticket, engine, params := argFlags(getenv)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, err
		}
		return Config{}, linkis.Errorf(linkis.ErrInvalidArgument, "args", "%v", err)
	}
	if fs.NArg() > 0 {
		return Config{}, linkis.ValueError(linkis.ErrInvalidArgument, "args", fs.Arg(0), "unexpected argument")
	}
	if env := getenv(EnvTicket); env != "" && env != *ticket {
		return Config{}, linkis.ValueError(linkis.ErrInvalidArgument, "ticket", *ticket, "differs from "+EnvTicket+"="+env)
	}
	c.Ticket = *ticket
	et, err := linkis.ParseEngineType(*engine)
	if err != nil {
		return Config{}, err
	}
	c.EngineType = et
	c.User = getenv(EnvUser)
	c.ECM = getenv(EnvECM)
	c.Params = params
	if ls := getenv(EnvLabels); ls != "" {
		m := map[string]string{}
		for _, kv := range strings.Split(ls, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return Config{}, linkis.ValueError(linkis.ErrInvalidLabel, EnvLabels, kv, "must be k=v")
			}
			m[k] = v
		}
		if c.Labels, err = linkis.ParseLabels(m); err != nil {
			return Config{}, err
		}
		if v, ok := c.Labels.Get(linkis.LabelEngineConnMode); ok {
			if c.Mode, err = linkis.ParseEngineConnMode(v); err != nil {
				return Config{}, err
			}
		}
		if v, ok := c.Labels.Get(linkis.LabelExecuteOnce); ok && v == "true" && c.Mode == linkis.ModeComputation {
			c.Mode = linkis.ModeOnce
		}
		if v, ok := c.Labels.Get(linkis.LabelConcurrentEngineConn); ok {
			if c.Concurrency, err = linkis.ParseConcurrency(v); err != nil {
				return Config{}, err
			}
		}
	}
	if m := getenv(EnvManager); m != "" {
		for _, u := range strings.Split(m, ",") {
			if u = strings.TrimSpace(u); u != "" {
				c.Managers = append(c.Managers, u)
			}
		}
	}
	if fd := getenv(EnvTokenFD); fd != "" {
		if c.Token, err = readTokenFD(fd); err != nil {
			return Config{}, err
		}
	} else {
		c.Token = getenv(EnvToken)
	}
	if fd := getenv(EnvAddrFD); fd != "" {
		if c.AddrReport, err = addrReportFD(fd); err != nil {
			return Config{}, err
		}
	}
	c.WorkDir, c.LogDir, c.ResultDir = getenv(EnvWorkDir), getenv(EnvLogDir), getenv(EnvResultDir)
	if h := getenv(EnvHost); h != "" {
		c.Host = h
	}
	if v := getenv(EnvMaxFreeTime); v != "" { // the ECM's default; a startup parameter wins
		if c.MaxFreeTime, err = time.ParseDuration(v); err != nil || c.MaxFreeTime <= 0 {
			return Config{}, linkis.ValueError(linkis.ErrInvalidArgument, EnvMaxFreeTime, v, "must be a positive duration like 30s or 5m")
		}
	}
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{{ParamMaxFreeTime, &c.MaxFreeTime}, {ParamHeartbeat, &c.HeartbeatInterval}, {ParamExitLinger, &c.ExitLinger}} {
		if v, ok := params[d.key]; ok {
			if *d.dst, err = time.ParseDuration(v); err != nil || *d.dst <= 0 {
				return Config{}, linkis.ValueError(linkis.ErrInvalidArgument, d.key, v, "must be a positive duration like 30s or 5m")
			}
		}
	}
	if v, ok := params[ParamMaxTasks]; ok {
		if c.MaxTasks, err = strconv.Atoi(v); err != nil || c.MaxTasks < 1 {
			return Config{}, linkis.ValueError(linkis.ErrInvalidArgument, ParamMaxTasks, v, "must be a positive integer")
		}
	}
	if v, ok := params[ParamTaskLogCap]; ok {
		n, err := linkis.ParseMemory(v)
		if err != nil || n < 1 || n > 1<<30 {
			return Config{}, linkis.ValueError(linkis.ErrInvalidArgument, ParamTaskLogCap, v, "must be a size from 1 byte to 1g, like 64k or 4m")
		}
		c.TaskLogCap = int(n)
	}
	c.OnceCode = params[ParamOnceCode]
	if f, ok := params[ParamOnceCodeFile]; ok && c.OnceCode == "" {
		code, err := readMaterial(c.WorkDir, f)
		if err != nil {
			return Config{}, err
		}
		c.OnceCode = code
	}
	return c, c.Validate()
}

// addrReportFD takes the inherited socket fd the ECM reads the engine's
// address from. It is closed on exec at once: the engine's children (the
// user's code) must not be able to report an address in its stead.
func addrReportFD(fd string) (*os.File, error) {
	n, err := strconv.Atoi(fd)
	if err != nil || n < 3 {
		return nil, linkis.ValueError(linkis.ErrInvalidArgument, EnvAddrFD, fd, "must be a descriptor number of at least 3")
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(n, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		return nil, linkis.ValueError(linkis.ErrInvalidArgument, EnvAddrFD, fd, "not an open socket")
	}
	syscall.CloseOnExec(n)
	// Non-blocking, so that the wait for the ECM's answer can time out.
	if err := syscall.SetNonblock(n, true); err != nil {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, EnvAddrFD, "%v", err)
	}
	return os.NewFile(uintptr(n), "ecm-addr"), nil
}

// maxTokenLen bounds what is read from the token descriptor.
const maxTokenLen = 4096

// readTokenFD reads the cluster token from the inherited descriptor fd
// (a socket the ECM wrote it to and closed) and closes it, so that the
// engine's children do not inherit it. The token never appears in the
// environment, which a process of the same user can read from /proc
// before ProtectSecrets runs.
func readTokenFD(fd string) (string, error) {
	n, err := strconv.Atoi(fd)
	if err != nil || n < 3 {
		return "", linkis.ValueError(linkis.ErrInvalidArgument, EnvTokenFD, fd, "must be a descriptor number of at least 3")
	}
	f := os.NewFile(uintptr(n), "token")
	if f == nil {
		return "", linkis.ValueError(linkis.ErrInvalidArgument, EnvTokenFD, fd, "not an open descriptor")
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenLen+1))
	if err != nil {
		return "", linkis.Errorf(linkis.ErrInvalidArgument, EnvTokenFD, "reading the token: %v", err)
	}
	if len(b) > maxTokenLen {
		return "", linkis.Errorf(linkis.ErrInvalidArgument, EnvTokenFD, "the token is longer than %d bytes", maxTokenLen)
	}
	return strings.TrimSpace(string(b)), nil
}
