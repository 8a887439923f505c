//go:build linux

package clustertest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golinkis/golinkis/api"
)

// metrics reads member n's /metrics: "name{labels}" → value.
func (c *cluster) metrics(n *node) (map[string]float64, error) {
	resp, err := c.hc.Get(n.URL() + api.PathMetrics)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics of %s: %q", n.Name, line)
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}

// engines returns the engine processes on each ECM host: ticket → pid.
func (c *cluster) engines() (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	for _, n := range c.ecmNodes() {
		pids, err := n.Host.Pids()
		if err != nil {
			return nil, err
		}
		es := map[string]int{}
		for _, pid := range pids {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			if err != nil {
				continue // ended meanwhile
			}
			args := strings.Split(string(b), "\x00")
			if len(args) > 3 && args[1] == "engineconn" && args[2] == "--ticket" {
				es[args[3]] = pid
			}
		}
		out["ecm-"+n.Name] = es
	}
	return out, nil
}

// ecmNodes are the nodes that run an ECM.
func (c *cluster) ecmNodes() []*node {
	if c.cfg.MemberECM {
		return append(append([]*node(nil), c.Members...), c.ECMs...)
	}
	return c.ECMs
}

// ledgerProblems compares the leader's ledger with the engines alive on
// the hosts once every job ended: nothing locked, asked for or waiting;
// each ECM's used instances are its host's engine processes; the
// combined labels' used instances add up to the ECMs'. It returns what
// does not hold (nothing: the books match the hosts).
func (c *cluster) ledgerProblems(l *node) []string {
	var bad []string
	m, err := c.metrics(l)
	if err != nil {
		return []string{err.Error()}
	}
	st, err := c.status(l)
	if err != nil {
		return []string{err.Error()}
	}
	live, err := c.engines()
	if err != nil {
		return []string{err.Error()}
	}
	if st.Asks != 0 {
		bad = append(bad, fmt.Sprintf("%d asks held", st.Asks))
	}
	if w := m["linkis_asks_waiting"]; w != 0 {
		bad = append(bad, fmt.Sprintf("%g asks waiting", w))
	}
	var ecmUsed, labelUsed float64
	for k, v := range m {
		switch {
		case strings.HasPrefix(k, "linkis_ecm_resource{") || strings.HasPrefix(k, "linkis_label_resource{"):
			if strings.Contains(k, `kind="locked"`) && v != 0 {
				bad = append(bad, fmt.Sprintf("%s = %g", k, v))
			}
			if strings.Contains(k, `kind="used"`) && strings.Contains(k, `dim="instances"`) {
				if strings.HasPrefix(k, "linkis_ecm") {
					ecmUsed += v
				} else {
					labelUsed += v
				}
			}
		}
	}
	total := 0
	for ecm, es := range live {
		total += len(es)
		if used := m[`linkis_ecm_resource{dim="instances",ecm="`+ecm+`",kind="used"}`]; int(used) != len(es) {
			bad = append(bad, fmt.Sprintf("%s's books hold %g engines, its host runs %d", ecm, used, len(es)))
		}
	}
	if ecmUsed != labelUsed {
		bad = append(bad, fmt.Sprintf("the ECMs' books hold %g engines, the labels' %g", ecmUsed, labelUsed))
	}
	if st.Engines != total {
		bad = append(bad, fmt.Sprintf("the manager knows %d engines, the hosts run %d", st.Engines, total))
	}
	return bad
}

// checkLedger waits until the leader's ledger matches the hosts, then
// stops every engine through the manager and waits until the ledger is
// empty: used and locked zero for every ECM and combined label, no engine
// known, none running.
func (c *cluster) checkLedger() {
	c.t.Helper()
	l := c.leader()
	var bad []string
	deadline := time.Now().Add(time.Minute)
	for bad = c.ledgerProblems(l); len(bad) > 0 && time.Now().Before(deadline); bad = c.ledgerProblems(l) {
		time.Sleep(200 * time.Millisecond)
	}
	if len(bad) > 0 {
		c.t.Errorf("the ledger does not match the hosts once every job ended: %s", strings.Join(bad, "; "))
		return
	}
	live, err := c.engines()
	if err != nil {
		c.t.Fatal(err)
	}
	mgr := c.manager(l)
	for _, es := range live {
		for ticket := range es {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := mgr.KillEngine(ctx, api.ECKillRequest{EC: ticket, Reason: "the test is over"})
			cancel()
			if err != nil {
				c.t.Errorf("stopping engine %s: %v", ticket, err)
			}
		}
	}
	var left []string
	deadline = time.Now().Add(time.Minute)
	for {
		left = left[:0]
		m, err := c.metrics(l)
		if err != nil {
			left = append(left, err.Error())
		}
		for k, v := range m {
			if (strings.HasPrefix(k, "linkis_ecm_resource{") || strings.HasPrefix(k, "linkis_label_resource{")) &&
				!strings.Contains(k, `kind="max"`) && v != 0 {
				left = append(left, fmt.Sprintf("%s = %g", k, v))
			}
		}
		st, err := c.status(l)
		if err != nil || st.Engines != 0 || st.Asks != 0 {
			left = append(left, fmt.Sprintf("status %d engines, %d asks (%v)", st.Engines, st.Asks, err))
		}
		live, err := c.engines()
		for ecm, es := range live {
			if len(es) > 0 {
				left = append(left, fmt.Sprintf("%d engines run on %s's host", len(es), ecm))
			}
		}
		if err != nil {
			left = append(left, err.Error())
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			sort.Strings(left)
			c.t.Errorf("the ledger did not return to zero once every engine was stopped: %s", strings.Join(left, "; "))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
