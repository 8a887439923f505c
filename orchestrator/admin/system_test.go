package admin_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// The management API against a running system with real engines: the
// embedded system (manager, its ECM "ecm-embedded", entrance) plus a
// second real ECM, "ecm-b", behind Linkis's REST API.

func TestMain(m *testing.M) {
	embedded.ServeEngine() // the ECMs start engines as this test binary
	os.Exit(m.Run())
}

var codes = map[string]string{"ops": "ops-code-0123456789", "alice": "alice-code-0123456789", "bob": "bob-code-0123456789", "carol": "carol-code-0123456789"}

var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

// dropEnded is the manager API as an ECM sees it, except that while drop
// is set, engines' ends are not heard (a manager that is unreachable for
// exactly those reports): the ledger then holds what no process holds.
type dropEnded struct {
	ecm.Manager
	drop atomic.Bool
}

func (d *dropEnded) ECEnded(ctx context.Context, r api.ECEndedRequest) error {
	if d.drop.Load() {
		return linkis.Errorf(linkis.ErrUnavailable, "manager", "dropped by the test")
	}
	return d.Manager.ECEnded(ctx, r)
}

type system struct {
	t                      *testing.T
	sys                    *embedded.System
	srv                    *httptest.Server
	ops, alice, bob, carol *restapi.Client
	ecmB                   *dropEnded
	ecmBAddr               string
	ctx                    context.Context
}

// brokenPlugins are the built-in engines and "broken", whose start command
// prints a line to each stream and exits 3 before it ever serves.
func brokenPlugins(t *testing.T) *manager.Plugins {
	p := manager.DefaultPlugins()
	if err := p.Register(manager.Plugin{Type: "broken", Version: "*", Concurrency: 1,
		Resources: manager.StandardResources{Memory: 64 * linkis.MiB, MilliCores: 100},
		Launcher: manager.LaunchFunc(func(c manager.LaunchContext) (manager.LaunchRequest, error) {
			lr, err := manager.StandardLauncher{}.Build(c)
			lr.Command, lr.Args = "bash", []string{"-c", "echo starting the broken engine; echo 'fatal: no such queue: q7' >&2; exit 3"}
			return lr, err
		})}); err != nil {
		t.Fatal(err)
	}
	return p
}

func startSystem(t *testing.T, mc manager.Config, tune func(*ecm.Config)) *system {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	oc := orchestrator.DefaultConfig()
	oc.EngineTypes = append(oc.EngineTypes, "broken")
	capacity := linkis.Resource{Memory: 32 * linkis.GiB, MilliCores: 32_000, Instances: 20}
	sys, err := embedded.Start(embedded.Config{Capacity: &capacity, Plugins: brokenPlugins(t), Orchestrator: &oc, Manager: &mc, Logger: quiet,
		ECM: func(c *ecm.Config) {
			c.Commands = append(c.Commands, "bash")
			if tune != nil {
				tune(c)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	h, err := sys.Handler(restapi.Config{Users: codes, Admins: []string{"ops"}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s := &system{t: t, sys: sys, srv: httptest.NewServer(h), ctx: ctx}
	t.Cleanup(s.srv.Close)
	for u, dst := range map[string]**restapi.Client{"ops": &s.ops, "alice": &s.alice, "bob": &s.bob, "carol": &s.carol} {
		if *dst, err = restapi.NewClient(s.srv.URL, u, codes[u], nil); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// startECMB runs a second real ECM that joins the system.
func (s *system) startECMB(tune func(*ecm.Config)) {
	t := s.t
	t.Helper()
	cfg := ecm.DefaultConfig()
	cfg.ID, cfg.HTTPAddr, cfg.Managers, cfg.Token = "ecm-b", "127.0.0.1:0", []string{s.sys.ManagerURL()}, s.sys.Token()
	cfg.DataDir = t.TempDir()
	cfg.HeartbeatInterval, cfg.KillGrace = 2*time.Second, time.Second
	cfg.AllowRootEngines = true
	cfg.Commands = []string{"bash"} // the broken engine's
	capacity := linkis.Resource{Memory: 32 * linkis.GiB, MilliCores: 32_000, Instances: 20}
	cfg.Capacity = &capacity
	if tune != nil {
		tune(&cfg)
	}
	s.ecmB = &dropEnded{Manager: s.sys.Manager()}
	m, err := ecm.New(cfg, s.ecmB, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, ready := make(chan error, 1), make(chan struct{})
	go func() { done <- m.Run(ctx, ready) }()
	t.Cleanup(func() {
		s.ecmB.drop.Store(false)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ecm-b: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("ecm-b: %v", err)
	}
	s.ecmBAddr = m.Addr()
}

// job submits code as user and waits for its end.
func (s *system) job(c *restapi.Client, user, engine, code string, labels ...string) (restapi.StatusData, restapi.Task) {
	s.t.Helper()
	req := s.request(user, engine, code, labels...)
	sub, err := c.Submit(s.ctx, req)
	if err != nil {
		s.t.Fatalf("submit %q: %v", code, err)
	}
	st, err := c.Wait(s.ctx, sub.ExecID, nil)
	if err != nil {
		s.t.Fatalf("wait %s: %v", sub.ExecID, err)
	}
	task, err := c.Job(s.ctx, sub.TaskID)
	if err != nil {
		s.t.Fatal(err)
	}
	return st, task
}

func (s *system) request(user, engine, code string, labels ...string) orchestrator.JobRequest {
	s.t.Helper()
	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{User: user, Engine: engine, Code: code})
	if err != nil {
		s.t.Fatal(err)
	}
	if engine == "broken-1" {
		req.ExecutionContent.RunType = "sh"
	}
	for i := 0; i+1 < len(labels); i += 2 {
		req.Labels[labels[i]] = labels[i+1]
	}
	return req
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func isPermission(err error) bool { return errors.Is(err, linkis.ErrPermission) }

// listAllEMs, modifyEMInfo (drain), listEMEngines, listUserEngines, the
// kills, ecrHistoryList and openEngineLog of an engine whose start
// command fails, against real engines. Paths, parameters and answers as
// Linkis's EMRestfulApi, EngineRestfulApi and ECResourceInfoRestfulApi
// (linkis-computation-governance/linkis-manager/linkis-application-manager/
// src/main/java/org/apache/linkis/manager/am/restful/) have them.
func TestNodesOfARunningSystem(t *testing.T) {
	mc := manager.DefaultConfig()
	mc.TickInterval, mc.NewECMStandby = time.Second, 0
	s := startSystem(t, mc, nil)
	s.startECMB(nil)

	// listAllEMs: the two ECMs by id, with their resources; not for users.
	d, err := s.ops.ListECMs(s.ctx, restapi.ECMQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Total != 2 || d.EMs[0].ID != "ecm-b" || d.EMs[1].ID != "ecm-embedded" || d.EMs[0].Instance != s.ecmBAddr ||
		d.EMs[0].ApplicationName != restapi.AppECM || d.EMs[0].MaxResource.Instance != 20 || d.EMs[0].NodeHealthy != "Healthy" {
		t.Fatalf("listAllEMs: %+v", d)
	}
	if _, err := s.alice.ListECMs(s.ctx, restapi.ECMQuery{}); !isPermission(err) {
		t.Fatalf("a user listed the ECMs: %v", err)
	}

	// Drain ecm-embedded while alice's job runs there: the job finishes,
	// bob's new engine goes to ecm-b.
	sub, err := s.alice.Submit(s.ctx, s.request("alice", "shell", "sleep 2; echo done", linkis.LabelEMInstance, "ecm-embedded"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice's engine", func() bool {
		e, _ := s.alice.ListEngines(s.ctx, restapi.EngineQuery{})
		return len(e.Engines) == 1 && e.Engines[0].ECMID == "ecm-embedded" && e.Engines[0].NodeStatus != "Starting"
	})
	if err := s.ops.ModifyECM(s.ctx, "ecm-embedded", "UnHealthy", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.alice.ModifyECM(s.ctx, "ecm-b", "UnHealthy", nil); !isPermission(err) {
		t.Fatalf("a user drained an ECM: %v", err)
	}
	d, _ = s.ops.ListECMs(s.ctx, restapi.ECMQuery{NodeHealthy: "UnHealthy"})
	if d.Total != 1 || d.EMs[0].ID != "ecm-embedded" || !d.EMs[0].HealthSet {
		t.Fatalf("drained: %+v", d)
	}
	if st, _ := s.job(s.bob, "bob", "shell", "echo bob"); st.Status != "Succeed" {
		t.Fatalf("bob's job: %+v", st)
	}
	bobs, err := s.ops.ListEngines(s.ctx, restapi.EngineQuery{Users: []string{"bob"}})
	if err != nil || len(bobs.Engines) != 1 || bobs.Engines[0].EMInstance != s.ecmBAddr {
		t.Fatalf("bob's engine is not on ecm-b: %+v %v", bobs, err)
	}
	if st, err := s.alice.Wait(s.ctx, sub.ExecID, nil); err != nil || st.Status != "Succeed" {
		t.Fatalf("the drained ECM's job did not finish: %+v %v", st, err)
	}
	onA, err := s.ops.ListEngines(s.ctx, restapi.EngineQuery{ECM: "ecm-embedded"})
	if err != nil || onA.Total != 1 || onA.Engines[0].Owner != "alice" {
		t.Fatalf("listEMEngines of the drained ECM: %+v %v", onA, err)
	}
	if err := s.ops.ModifyECM(s.ctx, "ecm-embedded", "Healthy", nil); err != nil {
		t.Fatal(err)
	}

	// Kill: bob cannot touch alice's engine (nor learn it exists); alice can.
	mine, _ := s.alice.ListEngines(s.ctx, restapi.EngineQuery{})
	if len(mine.Engines) != 1 {
		t.Fatalf("alice's engines: %+v", mine)
	}
	hers := mine.Engines[0].Instance
	if _, err := s.bob.KillEngines(s.ctx, hers); !errors.Is(err, linkis.ErrUnknownNode) {
		t.Fatalf("bob killing alice's engine: %v", err)
	}
	if _, err := s.bob.KillIdle(s.ctx, "", "alice"); !isPermission(err) {
		t.Fatalf("bob killing alice's idle engines: %v", err)
	}
	if _, err := s.bob.EngineLog(s.ctx, hers, 1, 10); !errors.Is(err, linkis.ErrUnknownNode) {
		t.Fatalf("bob reading alice's engine log: %v", err)
	}
	if e, _ := s.alice.ListEngines(s.ctx, restapi.EngineQuery{}); len(e.Engines) != 1 || e.Engines[0].Killing {
		t.Fatalf("a refused kill changed alice's engine: %+v", e)
	}
	k, err := s.alice.KillEngines(s.ctx, hers)
	if err != nil || k.KillEngineNum != 1 {
		t.Fatalf("alice's kill: %+v %v", k, err)
	}
	waitFor(t, "alice's engine to end", func() bool {
		e, _ := s.alice.ListEngines(s.ctx, restapi.EngineQuery{})
		return len(e.Engines) == 0
	})
	h, err := s.alice.EngineHistory(s.ctx, restapi.HistoryQuery{StartDate: "0"})
	if err != nil || h.TotalPage != 1 || h.EngineList[0].TicketID != mine.Engines[0].TicketID || h.EngineList[0].ECMInstance == "" {
		t.Fatalf("alice's history: %+v %v", h, err)
	}

	// An engine whose start command fails: the job fails; its record says
	// how (exit code 3, on which ECM) and its own output is there to read.
	if st, _ := s.job(s.alice, "alice", "broken-1", "echo never"); st.Status != "Failed" {
		t.Fatalf("the broken engine's job: %+v", st)
	}
	h, _ = s.alice.EngineHistory(s.ctx, restapi.HistoryQuery{EngineType: "broken", StartDate: "0"})
	if h.TotalPage < 1 {
		t.Fatal("the broken engine is not in the history")
	}
	broken := h.EngineList[0]
	if !broken.Failed || broken.ExitCode == nil || *broken.ExitCode != 3 || broken.ECMInstance == "" || broken.UsedResource != nil {
		t.Fatalf("broken engine's record: %+v", broken)
	}
	lg, err := s.alice.EngineLog(s.ctx, broken.TicketID, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lg.Logs, "\n"); !strings.Contains(got, "starting the broken engine") || !strings.Contains(got, "fatal: no such queue: q7") || !lg.Complete {
		t.Fatalf("the broken engine's log: %+v", lg)
	}
	if lg, err := s.ops.EngineLog(s.ctx, broken.TicketID, 2, 1); err != nil || len(lg.Logs) != 1 || lg.EndLine != 2 {
		t.Fatalf("the administrator reads it from line 2: %+v %v", lg, err)
	}
	info, err := s.alice.EngineInfo(s.ctx, broken.TicketID)
	if err != nil || info.ECResourceInfoRecord.Status != "Failed" || len(info.Process) == 0 {
		t.Fatalf("ecinfo/get: %+v %v", info, err)
	}
	if _, err := s.bob.EngineInfo(s.ctx, broken.TicketID); !errors.Is(err, linkis.ErrUnknownNode) {
		t.Fatalf("bob's ecinfo/get of alice's engine: %v", err)
	}
}

// rm/userresources, allUserResource and resetResource (Linkis's
// RMMonitorRest, linkis-computation-governance/linkis-manager/
// linkis-application-manager/src/main/java/org/apache/linkis/manager/rm/
// restful/RMMonitorRest.java): a row made wrong on purpose - an engine
// killed while its ECM's report of the end is lost - is recomputed from
// the engines that really hold it.
func TestResetRecomputesARowFromTheEngines(t *testing.T) {
	mc := manager.DefaultConfig()
	mc.TickInterval, mc.NewECMStandby = time.Second, 0
	s := startSystem(t, mc, nil)
	s.startECMB(nil)
	for user, c := range map[string]*restapi.Client{"carol": s.carol, "bob": s.bob} {
		if st, _ := s.job(c, user, "shell", "echo hi", linkis.LabelEMInstance, "ecm-b"); st.Status != "Succeed" {
			t.Fatalf("%s's job: %+v", user, st)
		}
	}
	carols, _ := s.carol.ListEngines(s.ctx, restapi.EngineQuery{})
	if len(carols.Engines) != 1 {
		t.Fatalf("carol's engines: %+v", carols)
	}
	ticket := carols.Engines[0].TicketID
	hosts := api.NewECMClient(s.sys.Token(), nil)
	p, err := hosts.EngineProcess(s.ctx, s.ecmBAddr, ticket)
	if err != nil || p.PID == 0 {
		t.Fatalf("carol's engine process: %+v %v", p, err)
	}
	// The engine dies and the manager never hears it.
	s.ecmB.drop.Store(true)
	if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ECM to see it exit", func() bool {
		p, err := hosts.EngineProcess(s.ctx, s.ecmBAddr, ticket)
		return err == nil && p.State == api.ECExited
	})
	row := func(c *restapi.Client, user string) restapi.UserResource {
		t.Helper()
		d, err := c.AllUserResources(s.ctx, restapi.ResourceQuery{Username: user})
		if err != nil || len(d.Resources) != 1 {
			t.Fatalf("%s's rows: %+v %v", user, d, err)
		}
		return d.Resources[0]
	}
	wrong := row(s.ops, "carol")
	if wrong.UsedResource.Instance != 1 || wrong.Label != "carol-IDE,shell-1" {
		t.Fatalf("the row before the reset: %+v", wrong)
	}
	// Users see their own rows only, and reset nothing.
	mine, err := s.carol.UserResources(s.ctx)
	if err != nil || len(mine.UserResources) != 1 || mine.UserResources[0].UserCreator != "carol-IDE" {
		t.Fatalf("carol's userresources: %+v %v", mine, err)
	}
	if _, err := s.carol.AllUserResources(s.ctx, restapi.ResourceQuery{}); !isPermission(err) {
		t.Fatalf("a user read every row: %v", err)
	}
	if _, err := s.carol.ResetResource(s.ctx, "carol-IDE,shell-1"); !isPermission(err) {
		t.Fatalf("a user reset a row: %v", err)
	}
	r, err := s.ops.ResetResource(s.ctx, "carol-IDE,shell-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Reset) != 1 || fmt.Sprint(r.Reset[0].Ended) != "["+ticket+"]" || r.Reset[0].Before.Instance != 1 || r.Reset[0].After.Instance != 0 {
		t.Fatalf("reset: %+v", r)
	}
	waitFor(t, "the row to be empty", func() bool {
		d, _ := s.ops.AllUserResources(s.ctx, restapi.ResourceQuery{Username: "carol"})
		return d.Total == 0
	})
	// Bob's engine on the same ECM really runs: a reset of every row
	// leaves it.
	r, err = s.ops.ResetResource(s.ctx, "")
	if err != nil || len(r.Reset) != 1 || len(r.Reset[0].Ended) != 0 || r.Reset[0].After.Instance != 1 {
		t.Fatalf("reset of every row: %+v %v", r, err)
	}
	if got := row(s.ops, "bob"); got.UsedResource.Instance != 1 {
		t.Fatalf("bob's row after a reset: %+v", got)
	}
}
