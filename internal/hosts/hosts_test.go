//go:build linux

package hosts

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary is its own helper program: with HOSTS_HELPER set it
// serves an echo on the address given, after starting a child of itself
// in a session of its own (as an ECM starts an engine).
func TestMain(m *testing.M) {
	switch os.Getenv("HOSTS_HELPER") {
	case "":
		os.Exit(m.Run())
	case "child":
		select {}
	default:
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), "HOSTS_HELPER=child")
		child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := child.Start(); err != nil {
			panic(err)
		}
		ln, err := net.Listen("tcp", os.Getenv("HOSTS_HELPER"))
		if err != nil {
			panic(err)
		}
		fmt.Println(child.Process.Pid)
		for {
			c, err := ln.Accept()
			if err != nil {
				panic(err)
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprint(c, "echo "+line)
			}()
		}
	}
}

func echo(ctx context.Context, from *Host, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := from.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprint(c, "hi\n")
	return bufio.NewReader(c).ReadString('\n')
}

func namespaces(t *testing.T) string {
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v %s", err, out)
	}
	return string(out)
}

// Two hosts reach each other's addresses and nothing of the machine's
// namespace carries them; a disconnected host is cut off from the other
// but not from itself; a crash kills what the host's processes started
// too; the Net's cleanup leaves no namespace behind.
func TestHosts(t *testing.T) {
	var names []string
	var grandchild int
	t.Run("net", func(t *testing.T) {
		n := New(t)
		a, b := n.AddHost("a"), n.AddHost("b")
		names = []string{n.name, a.Namespace(), b.Namespace()}
		if a.IP != "10.77.0.1" || b.IP != "10.77.0.2" {
			t.Fatalf("addresses %s %s", a.IP, b.IP)
		}
		addrs, _ := net.InterfaceAddrs()
		for _, ad := range addrs {
			if strings.HasPrefix(ad.String(), "10.77.0.") {
				t.Fatalf("the machine's namespace has %s", ad)
			}
		}
		cmd := a.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "HOSTS_HELPER="+a.Addr(7000))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		p, err := a.Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			t.Fatalf("the helper: %v", err)
		}
		grandchild, _ = strconv.Atoi(strings.TrimSpace(line))
		ctx := context.Background()
		if got, err := echo(ctx, b, a.Addr(7000)); err != nil || got != "echo hi\n" {
			t.Fatalf("b to a: %q %v", got, err)
		}
		if pids, err := a.Pids(); err != nil || len(pids) != 2 {
			t.Fatalf("a runs %v (%v), want the helper and its child", pids, err)
		}
		if err := a.Disconnect(); err != nil {
			t.Fatal(err)
		}
		if got, err := echo(ctx, b, a.Addr(7000)); err == nil {
			t.Fatalf("b reached a while it was disconnected: %q", got)
		}
		if got, err := echo(ctx, a, a.Addr(7000)); err != nil || got != "echo hi\n" {
			t.Fatalf("a to itself while disconnected: %q %v", got, err)
		}
		if err := a.Reconnect(); err != nil {
			t.Fatal(err)
		}
		if got, err := echo(ctx, b, a.Addr(7000)); err != nil || got != "echo hi\n" {
			t.Fatalf("b to a once reconnected: %q %v", got, err)
		}
		if err := a.Crash(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.Done():
		default:
			t.Fatal("the helper survived the crash")
		}
		if pids, err := a.Pids(); err != nil || len(pids) != 0 {
			t.Fatalf("a runs %v after its crash (%v)", pids, err)
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", grandchild)); err == nil {
			t.Fatalf("the helper's child %d is still there (alive or a zombie)", grandchild)
		}
	})
	if grandchild == 0 {
		t.Fatal("the helper did not start")
	}
	left := namespaces(t)
	for _, name := range names {
		for _, l := range strings.Split(left, "\n") {
			if strings.Fields(l + " x")[0] == name {
				t.Errorf("namespace %s is left behind", name)
			}
		}
	}
}
