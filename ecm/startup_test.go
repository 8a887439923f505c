package ecm_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/raftstore"
)

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runningECM is an ECM run in the test process until stop.
type runningECM struct {
	ready chan struct{}
	done  chan error
	stop  context.CancelFunc
	log   *lockedBuffer
}

func startECM(t *testing.T, mutate func(*ecm.Config)) *runningECM {
	t.Helper()
	cfg := ecm.DefaultConfig()
	cfg.ID = "ecm-test"
	cfg.Token = clusterToken
	cfg.DataDir = t.TempDir()
	cfg.Binary = linkisBin
	cfg.HeartbeatInterval = 200 * time.Millisecond
	cfg.KillGrace = time.Second
	cfg.AllowRootEngines = true
	capacity := linkis.Resource{Memory: 8 * linkis.GiB, MilliCores: 8000, Instances: 10}
	cfg.Capacity = &capacity
	mutate(&cfg)
	client, err := api.NewClient(cfg.Managers, clusterToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &runningECM{ready: make(chan struct{}), done: make(chan error, 1), log: &lockedBuffer{}}
	m, err := ecm.New(cfg, client, slog.New(slog.NewTextHandler(r.log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go func() { r.done <- m.Run(ctx, r.ready) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Error("the ECM did not stop")
		}
	})
	return r
}

// ended waits for Run to return and returns its error.
func (r *runningECM) ended(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(within):
		t.Fatalf("the ECM still runs after %v:\n%s", within, r.log.String())
		return nil
	}
}

// serveManager serves an in-memory manager's API at addr until cleanup.
func serveManager(t *testing.T, addr string) *raftstore.Memory {
	t.Helper()
	mcfg := raftstore.DefaultMemoryConfig()
	mcfg.Manager.NewECMStandby = 0
	mcfg.Plugins = testPlugins(nil)
	mcfg.ECMs = api.NewECMClient(clusterToken, nil)
	mcfg.Reconciler.Interval = 50 * time.Millisecond
	mem, err := raftstore.OpenMemory(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := raftstore.NewHandler(mem, raftstore.HandlerConfig{Token: clusterToken})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); mem.Close() })
	return mem
}

// An ECM started before any manager answers keeps trying, saying so,
// and registers once one does. Before, it exited at once: a refused
// connection did not count as worth another try.
func TestECMWaitsForItsManager(t *testing.T) {
	addr := freeAddr(t)
	e := startECM(t, func(c *ecm.Config) { c.Managers = []string{"http://" + addr}; c.RegisterWait = time.Minute })
	time.Sleep(time.Second)
	select {
	case err := <-e.done:
		t.Fatalf("the ECM gave up at once: %v\n%s", err, e.log.String())
	case <-e.ready:
		t.Fatal("registered with no manager")
	default:
	}
	mem := serveManager(t, addr)
	select {
	case <-e.ready:
	case err := <-e.done:
		t.Fatalf("the ECM stopped: %v\n%s", err, e.log.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("the ECM did not register once the manager answered:\n%s", e.log.String())
	}
	if !strings.Contains(e.log.String(), "no manager answers yet") {
		t.Errorf("the ECM did not say why it waited:\n%s", e.log.String())
	}
	c := &cluster{t: t, mem: mem}
	c.state(func(s *manager.State) {
		if _, ok := s.ECM("ecm-test"); !ok {
			t.Error("not registered")
		}
	})
}

// With no manager for its whole RegisterWait, the ECM stops with an error
// naming the managers and the bound.
func TestECMGivesUpWithoutAManager(t *testing.T) {
	addr := freeAddr(t)
	e := startECM(t, func(c *ecm.Config) { c.Managers = []string{"http://" + addr}; c.RegisterWait = time.Second })
	err := e.ended(t, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "within 1s") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("%v", err)
	}
}

// A second ECM with an id another live ECM holds is refused, naming the
// first and --replace; the first keeps its registration. With Replace it
// takes the id over: the first's engines are ended in the books, and the
// first, still running, can neither keep the registration alive nor
// remove it.
func TestSecondECMWithTheSameID(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	first := c.ecm.Addr()
	g := c.mustAsk(labels("shell-5"), nil)
	second := startECM(t, func(cfg *ecm.Config) { cfg.Managers = []string{c.srv.URL} })
	err := second.ended(t, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "--replace") || !strings.Contains(err.Error(), first) {
		t.Fatalf("the second ECM: %v", err)
	}
	c.state(func(s *manager.State) {
		if m, ok := s.ECM("ecm-test"); !ok || m.Addr != first {
			t.Fatalf("the first ECM's registration: %+v", m)
		}
	})

	third := startECM(t, func(cfg *ecm.Config) { cfg.Managers = []string{c.srv.URL}; cfg.Replace = true })
	select {
	case <-third.ready:
	case err := <-third.done:
		t.Fatalf("the replacing ECM: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the replacing ECM did not register")
	}
	id, _ := manager.ParseECID(g.EC)
	var thirdAddr string
	c.state(func(s *manager.State) {
		m, _ := s.ECM("ecm-test")
		thirdAddr = m.Addr
		if _, ok := s.EC(id); ok || m.Addr == first {
			t.Fatalf("after the replacement: %+v, the first's engine known: %v", m, ok)
		}
	})
	time.Sleep(time.Second) // the first ECM heartbeats five times meanwhile
	c.stop()                // the first ECM stops and says goodbye
	err = <-c.done
	c.done <- err // for the cleanup
	c.state(func(s *manager.State) {
		if m, ok := s.ECM("ecm-test"); !ok || m.Addr != thirdAddr {
			t.Errorf("the replaced ECM's goodbye removed its successor: %+v", m)
		}
	})
}
