package raftstore

import (
	"errors"
	"testing"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// settle fails an engine only when its launch is refused outright; a
// refused kill or a failure that may pass settles nothing (retried).
func TestSettleOnECMErrors(t *testing.T) {
	launch := manager.Effect{Kind: manager.EffectLaunch, EC: 3}
	kill := manager.Effect{Kind: manager.EffectKill, EC: 3}
	refused := linkis.Errorf(linkis.ErrInvalidArgument, "command", "no such binary")
	if c, ok := settle(launch, api.LaunchResponse{}, refused, 1).(manager.EngineEnded); !ok || !c.Failed || c.Retryable {
		t.Errorf("refused launch: %#v, want the engine ended, failed, not retryable", c)
	}
	if c := settle(kill, api.LaunchResponse{}, refused, 1); c != nil {
		t.Errorf("refused kill: %#v, want nothing (the process may still run)", c)
	}
	if c := settle(launch, api.LaunchResponse{}, errors.New("connection reset"), 1); c != nil {
		t.Errorf("a failure that may pass: %#v, want nothing", c)
	}
	if c, ok := settle(launch, api.LaunchResponse{EC: "ec-3", State: api.ECRunning, Addr: "h:1"}, nil, 1).(manager.EngineStarted); !ok || c.Addr != "h:1" {
		t.Errorf("running: %#v", c)
	}
}
