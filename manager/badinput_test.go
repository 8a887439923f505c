package manager

import (
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// Every bad command gets a typed error naming the problem and changes
// nothing (harness.refuse compares snapshots before and after).
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("held", "alice-IDE", "shell-1")
	h.start(a.EC)
	started := h.ec(a.EC)
	pending := h.ask("pending", "bob-IDE", "shell-1")

	raw := func(kv ...string) linkis.Labels { // labels that bypass NewLabels' checks
		var ls linkis.Labels
		for i := 0; i < len(kv); i += 2 {
			ls = append(ls, linkis.Label{Key: kv[i], Value: kv[i+1]})
		}
		return ls
	}
	ask := func(ls linkis.Labels, params map[string]string) AskEngine {
		return AskEngine{ID: "new", Nonce: 1, Labels: ls, Params: params}
	}
	uc, et := linkis.LabelUserCreator, linkis.LabelEngineType
	many := map[string]string{}
	for i := 0; i <= MaxParams; i++ {
		many[strings.Repeat("k", i+1)] = "v"
	}
	for _, c := range []struct {
		name  string
		cmd   Command
		kind  error
		names string // a word the message must contain
	}{
		{"zero time", Tick{Time: -1}, linkis.ErrInvalidArgument, "time"},
		{"ask without userCreator", ask(raw(et, "shell-1"), nil), linkis.ErrMissingLabel, "userCreator"},
		{"ask without engineType", ask(raw(uc, "alice-IDE"), nil), linkis.ErrMissingLabel, "engineType"},
		{"malformed userCreator", ask(raw(et, "shell-1", uc, "alice"), nil), linkis.ErrInvalidLabel, "userCreator"},
		{"malformed engineType", ask(raw(et, "shell", uc, "alice-IDE"), nil), linkis.ErrInvalidLabel, "engineType"},
		{"unsorted labels", ask(raw(uc, "alice-IDE", et, "shell-1"), nil), linkis.ErrInvalidLabel, "sorted"},
		{"control character", ask(raw(et, "shell-1", "note", "a\x00b", uc, "alice-IDE"), nil), linkis.ErrInvalidLabel, "control"},
		{"unknown engine type", ask(raw(et, "spark-2.4.3", uc, "alice-IDE"), nil), linkis.ErrUnknownEngineType, "spark"},
		{"bad concurrency", ask(raw("concurrentEngineConn", "0", et, "shell-1", uc, "alice-IDE"), nil), linkis.ErrInvalidLabel, "concurrentEngineConn"},
		{"bad mode", ask(raw(et, "shell-1", "engineConnMode", "batch", uc, "alice-IDE"), nil), linkis.ErrInvalidLabel, "engineConnMode"},
		{"negative memory", ask(raw(et, "shell-1", uc, "alice-IDE"), map[string]string{ParamMemory: "-1g"}), linkis.ErrInvalidResource, ParamMemory},
		{"overflowing memory", ask(raw(et, "shell-1", uc, "alice-IDE"), map[string]string{ParamMemory: "99999999999t"}), linkis.ErrInvalidResource, ParamMemory},
		{"garbage cores", ask(raw(et, "shell-1", uc, "alice-IDE"), map[string]string{ParamCores: "lots"}), linkis.ErrInvalidResource, ParamCores},
		{"negative extra dimension", ask(raw(et, "shell-1", uc, "alice-IDE"), map[string]string{ParamExtraPref + "gpu": "-2"}), linkis.ErrInvalidResource, "gpu"},
		{"too many params", ask(raw(et, "shell-1", uc, "alice-IDE"), many), linkis.ErrInvalidArgument, "params"},
		{"empty ask id", AskEngine{Labels: raw(et, "shell-1", uc, "alice-IDE")}, linkis.ErrInvalidArgument, "askID"},
		{"huge ask id", AskEngine{ID: strings.Repeat("x", MaxAskIDLen+1), Labels: raw(et, "shell-1", uc, "alice-IDE")}, linkis.ErrInvalidArgument, "askID"},
		{"negative lock timeout", AskEngine{ID: "n", Labels: raw(et, "shell-1", uc, "alice-IDE"), LockTimeout: -time.Second}, linkis.ErrInvalidArgument, "lockTimeout"},
		{"more than the whole quota", ask(raw(et, "shell-1", uc, "carol-IDE"), map[string]string{ParamMemory: "21g"}), linkis.ErrQuotaExceeded, "whole quota"},
		{"bad ECM id", RegisterECM{ID: "a b", Addr: "h:1"}, linkis.ErrInvalidArgument, "id"},
		{"duplicate ECM", RegisterECM{ID: "ecm1", Addr: "h:1"}, linkis.ErrDuplicate, "ecm1"},
		{"bad ECM address", RegisterECM{ID: "ecm2", Addr: "nohost"}, linkis.ErrInvalidArgument, "addr"},
		{"bad ECM port", RegisterECM{ID: "ecm2", Addr: "h:70000"}, linkis.ErrInvalidArgument, "addr"},
		{"ECM with userCreator", RegisterECM{ID: "ecm2", Addr: "h:1", Labels: raw(uc, "alice-IDE")}, linkis.ErrInvalidLabel, "userCreator"},
		{"negative ECM memory", RegisterECM{ID: "ecm2", Addr: "h:1", Max: linkis.Resource{Memory: -1, Instances: 1}}, linkis.ErrInvalidResource, "memory"},
		{"ECM without instances", RegisterECM{ID: "ecm2", Addr: "h:1", Max: linkis.Resource{Memory: linkis.GiB}}, linkis.ErrInvalidResource, "instances"},
		{"unsorted extra", RegisterECM{ID: "ecm2", Addr: "h:1", Max: linkis.Resource{Instances: 1, Extra: []linkis.Quantity{{Name: "b", Value: 1}, {Name: "a", Value: 1}}}}, linkis.ErrInvalidResource, "sorted"},
		{"unknown ECM heartbeat", ECMHeartbeat{ID: "ghost"}, linkis.ErrUnknownNode, "ghost"},
		{"invalid ECM health", ECMHeartbeat{ID: "ecm1", Health: 9}, linkis.ErrInvalidArgument, "health"},
		{"negative load", ECMHeartbeat{ID: "ecm1", Load: linkis.NodeLoad{RunningTasks: -1}}, linkis.ErrInvalidArgument, "runningTasks"},
		{"unknown ECM deregistration", DeregisterECM{ID: "ghost"}, linkis.ErrUnknownNode, "ghost"},
		{"unknown engine heartbeat", ECHeartbeat{EC: 999, Status: linkis.StatusIdle}, linkis.ErrUnknownNode, "ec-999"},
		{"invalid engine status", ECHeartbeat{EC: a.EC, Status: 0}, linkis.ErrInvalidArgument, "status"},
		{"engine back to Starting", ECHeartbeat{EC: a.EC, Status: linkis.StatusStarting}, linkis.ErrIllegalTransition, "Starting"},
		{"computation engine reports Running", ECHeartbeat{EC: a.EC, Status: linkis.StatusRunning}, linkis.ErrIllegalTransition, "Running"},
		{"starting engine reports Busy", ECHeartbeat{EC: pending.EC, Status: linkis.StatusBusy}, linkis.ErrIllegalTransition, "Busy"},
		{"unknown engine started", EngineStarted{EC: 999, Addr: "h:1"}, linkis.ErrUnknownNode, "ec-999"},
		{"started at a bad address", EngineStarted{EC: pending.EC, Addr: "h"}, linkis.ErrInvalidArgument, "addr"},
		{"started at a taken address", EngineStarted{EC: pending.EC, Addr: started.Addr}, linkis.ErrDuplicate, started.Addr},
		{"started twice elsewhere", EngineStarted{EC: a.EC, Addr: "h:2"}, linkis.ErrIllegalTransition, "cannot start again"},
		{"unknown engine ended", EngineEnded{EC: 999}, linkis.ErrUnknownNode, "ec-999"},
		{"huge reason", EngineEnded{EC: a.EC, Reason: strings.Repeat("x", MaxReasonLen+1)}, linkis.ErrInvalidArgument, "reason"},
		{"unknown engine killed", KillEngine{EC: 999}, linkis.ErrUnknownNode, "ec-999"},
		{"unknown ask released", ReleaseEngine{AskID: "ghost"}, linkis.ErrUnknownAsk, "ghost"},
		{"unknown ask renewed", RenewLock{AskID: "ghost"}, linkis.ErrUnknownAsk, "ghost"},
		{"unlock with a wrong token", UnlockEngine{EC: a.EC, Token: 12345}, linkis.ErrLockMismatch, "token"},
		{"quota below usage", SetQuota{Key: "alice-IDE,shell-1", Max: linkis.Resource{Memory: 1, Instances: 5}}, linkis.ErrInvalidResource, "holds"},
		{"default quota below usage", SetQuota{Max: linkis.Resource{Memory: 1, Instances: 5}}, linkis.ErrInvalidResource, "holds"},
		{"quota with a bad key", SetQuota{Key: "alice,shell-1", Max: res(1, 1, 1)}, linkis.ErrInvalidLabel, "userCreator"},
		{"negative quota", SetQuota{Key: "carol-IDE,shell-1", Max: linkis.Resource{Memory: -5}}, linkis.ErrInvalidResource, "memory"},
		{"params for an unknown engine", SetPluginParams{EngineType: "spark", Params: map[string]string{"a": "b"}}, linkis.ErrUnknownEngineType, "spark"},
		{"params the factory rejects", SetPluginParams{EngineType: "shell", Params: map[string]string{ParamMemory: "x"}}, linkis.ErrInvalidResource, ParamMemory},
		{"invalid configuration", Configure{Config: Config{}}, linkis.ErrInvalidArgument, "LockTimeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			err := h.refuse(c.cmd, c.kind)
			if !strings.Contains(err.Error(), c.names) {
				t.Errorf("error %q does not name %q", err, c.names)
			}
		})
	}
}

func TestUnknownCommandTypeIsRefused(t *testing.T) {
	h := newHarness(t)
	h.refuse(strangeCommand{}, linkis.ErrUnknownCommand)
}

type strangeCommand struct{}

func (strangeCommand) Type() CommandType { return 99 }
func (strangeCommand) At() int64         { return 1 }
