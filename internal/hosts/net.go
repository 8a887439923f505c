//go:build linux

package hosts

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Subnet is the hosts' network; the n-th host added (from 1) is 10.77.0.n.
const Subnet = "10.77.0.0/24"

// MaxHosts bounds the hosts of one Net (the addresses of Subnet).
const MaxHosts = 250

// namePrefix starts the name of every namespace this package creates,
// followed by the creating process's pid: "lkh<pid>-<net>-<host>".
const namePrefix = "lkh"

// netnsDir is where ip keeps named network namespaces.
const netnsDir = "/run/netns"

var netSeq atomic.Int64

// Net is a virtual network of hosts: a switch and the hosts joined to it.
// Its methods are safe for concurrent use.
type Net struct {
	t      testing.TB
	name   string // of the switch's namespace, and the prefix of the hosts'
	closed atomic.Bool

	mu    sync.Mutex
	hosts []*Host
}

// New builds an empty network - the switch - and registers its removal,
// with every host and process on it, with t.Cleanup. It fails t, saying
// why, when the network cannot be built (not root, no ip command, no
// network namespaces in the kernel).
func New(t testing.TB) *Net {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("hosts: the multi-host tests need the ip command (iproute2): %v", err)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("hosts: the multi-host tests must run as root (they create network namespaces); uid is %d", os.Geteuid())
	}
	sweepStale(t)
	initReaper()
	n := &Net{t: t, name: fmt.Sprintf("%s%d-%d", namePrefix, os.Getpid(), netSeq.Add(1))}
	t.Cleanup(n.close)
	if err := n.build(); err != nil {
		t.Fatalf("hosts: cannot build the test network (network namespaces, a bridge and veth pairs): %v", err)
	}
	return n
}

func (n *Net) build() error {
	if err := ip("netns", "add", n.name); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"link", "add", "br0", "type", "bridge"},
		{"link", "set", "br0", "up"},
		{"link", "set", "lo", "up"},
	} {
		if err := ip(append([]string{"-n", n.name}, args...)...); err != nil {
			return err
		}
	}
	return nil
}

// AddHost adds a host named name (a short word: letters and digits, at
// most 8) with the next address of Subnet, joined to the switch and up.
// It fails the test when the host cannot be made.
func (n *Net) AddHost(name string) *Host {
	n.t.Helper()
	if len(name) == 0 || len(name) > 8 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		n.t.Fatalf("hosts: host name %q: want 1-8 lower-case letters and digits", name)
	}
	n.mu.Lock()
	for _, h := range n.hosts {
		if h.Name == name {
			n.mu.Unlock()
			n.t.Fatalf("hosts: host %q added twice", name)
		}
	}
	if len(n.hosts) >= MaxHosts {
		n.mu.Unlock()
		n.t.Fatalf("hosts: at most %d hosts", MaxHosts)
	}
	h := &Host{Name: name, IP: fmt.Sprintf("10.77.0.%d", len(n.hosts)+1), net: n, ns: n.name + "-" + name}
	n.hosts = append(n.hosts, h)
	n.mu.Unlock()
	if err := h.build(); err != nil {
		n.t.Fatalf("hosts: cannot make host %s: %v", name, err)
	}
	return h
}

// Hosts returns the hosts in the order they were added.
func (n *Net) Hosts() []*Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Host(nil), n.hosts...)
}

// close kills every process on the network and removes its namespaces.
func (n *Net) close() {
	if n.closed.Swap(true) {
		return
	}
	var errs []error
	for _, h := range n.Hosts() {
		if err := h.crash(); err != nil {
			errs = append(errs, err)
		}
		h.closeClients()
	}
	for _, h := range n.Hosts() {
		if err := ip("netns", "del", h.ns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := ip("netns", "del", n.name); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		n.t.Errorf("hosts: removing the test network: %v", err)
	}
}

// ip runs the ip command.
func ip(args ...string) error {
	var out bytes.Buffer
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// nsPids lists the processes in the named network namespace.
func nsPids(ns string) ([]int, error) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns pids %s: %w", ns, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

// killNamespace SIGKILLs every process in the namespace until none is
// left (a process may start another while it is being killed), and
// returns the ones it killed.
func killNamespace(ns string) ([]int, error) {
	deadline := time.Now().Add(30 * time.Second)
	var killed []int
	seen := map[int]bool{}
	for {
		pids, err := nsPids(ns)
		if err != nil || len(pids) == 0 {
			return killed, err
		}
		for _, p := range pids {
			if p == os.Getpid() {
				// A thread of this process in the namespace: never.
				return killed, fmt.Errorf("this process is listed in namespace %s", ns)
			}
			_ = unix.Kill(p, unix.SIGKILL)
			if !seen[p] {
				seen[p] = true
				killed = append(killed, p)
			}
		}
		if time.Now().After(deadline) {
			return killed, fmt.Errorf("processes %v in namespace %s survive SIGKILL", pids, ns)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sweepStale removes the namespaces of this package whose creating
// process is gone (a test binary killed before its cleanup ran), with
// every process in them.
func sweepStale(t testing.TB) {
	ents, err := os.ReadDir(netnsDir)
	if err != nil {
		return // none yet
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), namePrefix)
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(rest[:strings.IndexFunc(rest+"-", func(r rune) bool { return r < '0' || r > '9' })])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
			continue // its test binary still runs
		}
		if _, err := killNamespace(e.Name()); err != nil {
			t.Logf("hosts: a stale namespace: %v", err)
		}
		if err := ip("netns", "del", e.Name()); err != nil {
			t.Logf("hosts: a stale namespace: %v", err)
		}
	}
}
