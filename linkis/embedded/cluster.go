package embedded

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/raftstore"
)

// managerStore is the manager the system runs: raftstore's Memory or a
// single-node Node.
type managerStore interface {
	raftstore.Store
	Gatherer() prometheus.Gatherer
	Close() error
}

// openManager opens the manager state: a single-node Raft member in dir
// (durable; its log in store, "" for raftstore's default) or a Memory
// store, with the reconciler calling the ECM over HTTP.
func openManager(durable bool, store raftstore.LogStore, mc manager.Config, plugins *manager.Plugins, rec raftstore.ReconcilerConfig,
	dir, token string, log *slog.Logger) (managerStore, error) {
	ecms := api.NewECMClient(token, nil)
	if !durable {
		cfg := raftstore.DefaultMemoryConfig()
		cfg.ID = "embedded"
		cfg.Manager = mc
		cfg.Plugins = plugins
		cfg.ECMs = ecms
		cfg.Reconciler = rec
		cfg.Logger = log
		m, err := raftstore.OpenMemory(cfg)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	rc := raftstore.DefaultConfig()
	rc.ID = "embedded"
	rc.DataDir = dir
	if store != "" {
		rc.LogStore = store
	}
	rc.RaftAddr = "127.0.0.1:1" // never dialled: a single member, over a stream with no network
	rc.HTTPAddr = "127.0.0.1:1"
	rc.Stream = &noNetwork{closed: make(chan struct{})}
	rc.Manager = mc
	rc.Plugins = plugins
	rc.ECMs = ecms
	rc.Reconciler = rec
	rc.HeartbeatTimeout = 200 * time.Millisecond
	rc.ElectionTimeout = 200 * time.Millisecond
	rc.LeaderLeaseTimeout = 100 * time.Millisecond
	rc.Logger = log
	n, err := raftstore.Open(rc)
	if err != nil {
		return nil, err
	}
	if !n.HasState() {
		if err := n.Bootstrap(); err != nil {
			n.Close()
			return nil, err
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for self, _ := n.Leader(); !self; self, _ = n.Leader() {
		if time.Now().After(deadline) {
			n.Close()
			return nil, errors.New("embedded: the single-node manager did not become leader in 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return n, nil
}

// noNetwork is the Raft stream of a single-member cluster: nothing ever
// dials it and it dials nothing, so it needs no port.
type noNetwork struct{ closed chan struct{} }

func (s *noNetwork) Accept() (net.Conn, error) {
	<-s.closed
	return nil, net.ErrClosed
}

func (s *noNetwork) Close() error {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	return nil
}

func (s *noNetwork) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

func (s *noNetwork) Dial(raft.ServerAddress, time.Duration) (net.Conn, error) {
	return nil, errors.New("embedded: a single-member cluster has no peers")
}

// listen opens a loopback listener. In a durable system it reuses the port
// it used last time (kept in dir/name.addr): engines that outlive a restart
// still know the manager's address, and the manager still knows the
// ECM's.
func listen(durable bool, dir, name string) (net.Listener, error) {
	if !durable {
		return net.Listen("tcp", "127.0.0.1:0")
	}
	return listenKept(dir, name, "127.0.0.1")
}

// listenKept listens on host at the port kept in dir/name.addr, or on a new
// port it keeps there. A kept address for another host - or cut short by a
// crash ("" would listen on every interface) - is replaced.
func listenKept(dir, name, host string) (net.Listener, error) {
	file := filepath.Join(dir, name+".addr")
	if b, err := os.ReadFile(file); err == nil && keptFor(strings.TrimSpace(string(b)), host) {
		addr := strings.TrimSpace(string(b))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("embedded: the %s must listen on %s again (engines and the manager remember it): %w", name, addr, err)
		}
		return ln, nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, []byte(ln.Addr().String()+"\n"), 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// keptFor reports whether addr is host with a port other than 0 (a
// loopback address for the loopback host).
func keptFor(addr, host string) bool {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || ap.Port() == 0 {
		return false
	}
	if h, err := netip.ParseAddr(host); err == nil && h.IsLoopback() {
		return ap.Addr().IsLoopback()
	}
	return ap.Addr().String() == host
}

// secret returns the cluster token, kept in dir/token for a durable system
// (engines that outlive a restart present it), fresh otherwise.
func secret(durable bool, dir string) (string, error) {
	file := filepath.Join(dir, "token")
	if durable {
		if b, err := os.ReadFile(file); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
			// Only this user may read it, whoever loosened it (WriteFile
			// below keeps the mode of a file that exists, too).
			if err := os.Chmod(file, 0o600); err != nil {
				return "", err
			}
			return strings.TrimSpace(string(b)), nil
		}
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	t := hex.EncodeToString(b)
	if durable {
		if err := os.WriteFile(file, []byte(t+"\n"), 0o600); err != nil {
			return "", err
		}
		if err := os.Chmod(file, 0o600); err != nil {
			return "", err
		}
	}
	return t, nil
}

// serve runs h on ln until stop; the returned function stops it and waits.
func serve(ln net.Listener, h http.Handler, log *slog.Logger) func() {
	base, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return base },
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return func() {
		cancel() // long polls end now
		ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		srv.Shutdown(ctx)
		<-done
	}
}
