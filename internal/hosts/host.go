//go:build linux

package hosts

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Host is one host of a Net: a network namespace with one interface,
// eth0, at IP, whose other end is the switch's port "p-Name".
type Host struct {
	Name string
	IP   string // its address on Subnet
	net  *Net
	ns   string

	mu      sync.Mutex
	procs   []*Proc
	clients []*http.Transport
}

func (h *Host) build() error {
	if err := ip("netns", "add", h.ns); err != nil {
		return err
	}
	sw := h.net.name
	for _, args := range [][]string{
		{"-n", sw, "link", "add", h.port(), "type", "veth", "peer", "name", "eth0", "netns", h.ns},
		{"-n", sw, "link", "set", h.port(), "master", "br0"},
		{"-n", sw, "link", "set", h.port(), "up"},
		{"-n", h.ns, "addr", "add", h.IP + "/24", "dev", "eth0"},
		{"-n", h.ns, "link", "set", "eth0", "up"},
		{"-n", h.ns, "link", "set", "lo", "up"},
	} {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return nil
}

// port is the name of the host's port on the switch.
func (h *Host) port() string { return "p-" + h.Name }

// Namespace returns the name of the host's network namespace (for `ip
// netns exec`).
func (h *Host) Namespace() string { return h.ns }

// Addr returns IP:port.
func (h *Host) Addr(port int) string { return net.JoinHostPort(h.IP, fmt.Sprint(port)) }

// URL returns http://IP:port.
func (h *Host) URL(port int) string { return "http://" + h.Addr(port) }

// Disconnect takes the host's link to the switch down: it reaches no other
// host and no other host reaches it (connections stay open and time out),
// while its own processes still reach each other. Reconnect undoes it.
func (h *Host) Disconnect() error {
	return ip("-n", h.net.name, "link", "set", h.port(), "down")
}

// Reconnect brings the host's link to the switch up again.
func (h *Host) Reconnect() error {
	return ip("-n", h.net.name, "link", "set", h.port(), "up")
}

// Command returns a command that runs path with args on the host (through
// `ip netns exec`, which then becomes path: the process's pid is path's).
// Start it with Host.Start.
func (h *Host) Command(path string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.ns, path}, args...)...)
}

// Crash kills (SIGKILL) every process on the host - the ones started with
// Start and whatever they started - as a host that loses its power, and
// waits until they are gone.
func (h *Host) Crash() error { return h.crash() }

func (h *Host) crash() error {
	killed, err := killNamespace(h.ns)
	h.mu.Lock()
	procs := h.procs
	h.procs = nil
	h.mu.Unlock()
	mine := map[int]bool{}
	for _, p := range procs {
		_ = p.Kill() // one that was still entering the namespace
		mine[p.Pid()] = true
	}
	var orphans []int
	for _, pid := range killed {
		if !mine[pid] {
			orphans = append(orphans, pid)
		}
	}
	reap(orphans)
	return err
}

// Pids returns the processes running on the host.
func (h *Host) Pids() ([]int, error) { return nsPids(h.ns) }

// DialContext dials addr from inside the host, as a process of the host
// would: the socket is made in the host's namespace by a thread that
// enters it for the dial (the namespace of a socket is the one it was
// made in).
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread enters the host and comes back before it is
		// unlocked; if it cannot come back it stays locked, and a
		// goroutine that ends locked ends its thread.
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer home.Close()
		if err := enter(filepath.Join(netnsDir, h.ns)); err != nil {
			ch <- result{nil, fmt.Errorf("entering host %s: %w", h.Name, err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		ch <- result{c, err}
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	r := <-ch
	return r.c, r.err
}

// enter moves the calling thread into the network namespace at path.
func enter(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
}

// HTTPClient returns an HTTP client whose connections are made from inside
// the host, each request bounded by timeout (0: none). Its idle
// connections are closed with the Net.
func (h *Host) HTTPClient(timeout time.Duration) *http.Client {
	tr := &http.Transport{DialContext: h.DialContext, MaxIdleConns: 256, MaxIdleConnsPerHost: 64,
		IdleConnTimeout: 30 * time.Second}
	h.mu.Lock()
	h.clients = append(h.clients, tr)
	h.mu.Unlock()
	return &http.Client{Transport: tr, Timeout: timeout}
}

func (h *Host) closeClients() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, tr := range h.clients {
		tr.CloseIdleConnections()
	}
}
