package raftstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/manager"
)

// FakeECMs is an ECMClient that plays every ECM in memory, for tests and
// benchmarks: a launch "starts" the engine at once at a made-up address
// (Running), unless Launched says otherwise; a kill ends it. Like a real
// ECM it is idempotent per ticket.
type FakeECMs struct {
	// Launched, when set, decides the answer to a ticket's first launch;
	// returning an error makes the call fail with it.
	Launched func(r api.LaunchRequest) (api.LaunchResponse, error)

	mu       sync.Mutex
	engines  map[string]api.LaunchResponse // by ticket
	launches int                           // calls, repeats included
	kills    int
}

// Launch implements ECMClient.
func (f *FakeECMs) Launch(_ context.Context, addr string, r api.LaunchRequest) (api.LaunchResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.launches++
	if e, ok := f.engines[r.Ticket]; ok {
		return e, nil
	}
	id, err := manager.ParseECID(r.Ticket)
	if err != nil {
		return api.LaunchResponse{}, err
	}
	resp := api.LaunchResponse{EC: r.Ticket, State: api.ECRunning, Addr: fakeAddr(id)}
	if f.Launched != nil {
		if resp, err = f.Launched(r); err != nil {
			return api.LaunchResponse{}, err
		}
	}
	if f.engines == nil {
		f.engines = map[string]api.LaunchResponse{}
	}
	f.engines[r.Ticket] = resp
	return resp, nil
}

// Kill implements ECMClient.
func (f *FakeECMs) Kill(_ context.Context, addr string, r api.KillRequest) (api.KillResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kills++
	e, ok := f.engines[r.EC]
	if !ok {
		return api.KillResponse{EC: r.EC, State: api.ECUnknown}, nil
	}
	e.State, e.Addr = api.ECExited, ""
	f.engines[r.EC] = e
	return e, nil
}

// Calls returns how many launches and kills were sent, repeats included.
func (f *FakeECMs) Calls() (launches, kills int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.launches, f.kills
}

// fakeAddr gives each ticket its own address in 127.1.0.0/16.
func fakeAddr(id manager.ECID) string {
	return fmt.Sprintf("127.1.%d.%d:%d", (id>>16)&0xff, (id>>8)&0xff, 1024+int(id&0xff))
}
