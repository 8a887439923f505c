package manager

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// A second ECM that registers with an id another ECM holds is refused
// while the first is registered (field "addr", naming where the first
// is), unless it replaces it: then the first's engines end, their asks
// hear why, and the id is the second's. The same ECM registering again
// (same address: a restart, a retried call) is told so (field "id").
// What the replaced ECM sends under the id afterwards is refused.
func TestECMRegistrationByIDIsRefusedUnlessReplaced(t *testing.T) {
	h := newHarness(t)
	h.apply(RegisterECM{ID: "ecm-host", Addr: "10.0.0.1:9101", Max: res(8, 4, 10)})
	a := h.ask("job-1", "alice-IDE", "shell-1")
	h.start(a.EC)
	h.advance(3 * time.Second)

	var le *linkis.Error
	err := h.refuse(RegisterECM{ID: "ecm-host", Addr: "10.0.0.1:9101"}, linkis.ErrDuplicate)
	if !errors.As(err, &le) || le.Field != "id" {
		t.Fatalf("the same ECM again: %v", err)
	}
	err = h.refuse(RegisterECM{ID: "ecm-host", Addr: "10.0.0.1:9102", Max: res(8, 4, 10)}, linkis.ErrDuplicate)
	if !errors.As(err, &le) || le.Field != "addr" || le.Value != "10.0.0.1:9101" || !strings.Contains(err.Error(), "3s ago") {
		t.Fatalf("a second ECM with the id: %v", err)
	}
	// A replacement that is bad input changes nothing either.
	h.refuse(RegisterECM{ID: "ecm-host", Addr: "10.0.0.1:9102", Replace: true, Labels: labels(t, linkis.LabelUserCreator, "x-y")}, linkis.ErrInvalidLabel)

	r := h.apply(RegisterECM{ID: "ecm-host", Addr: "10.0.0.1:9102", Max: res(16, 8, 20), Replace: true})
	if n, ok := noticeFor(r, "job-1"); !ok || n.Status != AskFailed || !strings.Contains(n.Err.Error(), "replaced") {
		t.Fatalf("the ask on the replaced ECM's engine: %+v (%v)", n, ok)
	}
	if _, ok := h.s.EC(a.EC); ok {
		t.Fatal("the replaced ECM's engine is still in the books")
	}
	ecms := h.s.ECMs()
	if len(ecms) != 1 || ecms[0].Addr != "10.0.0.1:9102" || !reflect.DeepEqual(ecms[0].Ledger.Max, res(16, 8, 20)) || !ecms[0].Ledger.Used.IsZero() {
		t.Fatalf("ECMs after the replacement: %+v", ecms)
	}
	// The replaced ECM's heartbeat and goodbye do not touch its successor.
	h.refuse(ECMHeartbeat{ID: "ecm-host", Addr: "10.0.0.1:9101", Health: linkis.HealthHealthy}, linkis.ErrUnknownNode)
	h.refuse(DeregisterECM{ID: "ecm-host", Addr: "10.0.0.1:9101"}, linkis.ErrUnknownNode)
	h.apply(ECMHeartbeat{ID: "ecm-host", Addr: "10.0.0.1:9102", Health: linkis.HealthHealthy})
	h.apply(ECMHeartbeat{ID: "ecm-host", Health: linkis.HealthHealthy}) // no address: not checked, as before
	// A replacement applied twice (a retry after a leader change) is the
	// same ECM the second time.
	err = h.refuse(RegisterECM{ID: "ecm-host", Addr: "10.0.0.1:9102", Replace: true}, linkis.ErrDuplicate)
	if !errors.As(err, &le) || le.Field != "id" {
		t.Fatalf("a repeated replacement: %v", err)
	}
	h.apply(DeregisterECM{ID: "ecm-host", Addr: "10.0.0.1:9102"})
}

// Commands written at body version 1, before RegisterECM.Replace and the
// ECM address of heartbeats and deregistrations, still decode (a Raft log
// written by an older binary), with those fields zero.
func TestCodecReadsVersion1ECMCommands(t *testing.T) {
	for _, c := range []Command{
		RegisterECM{Time: codecT0, ID: "ecm-1", Addr: "10.0.0.1:9101", Labels: codecLabels(t, "tenant", "acme"), Max: res(1, 1, 1)},
		DeregisterECM{Time: codecT0, ID: "ecm-1", Force: true},
		ECMHeartbeat{Time: codecT0, ID: "ecm-1", Health: linkis.HealthWarn, Load: codecFullLoad()},
	} {
		e := enc{}
		e.byte(byte(c.Type()))
		e.byte(1)
		e.i(c.At())
		switch c := c.(type) {
		case RegisterECM:
			e.str(c.ID)
			e.str(c.Addr)
			e.labels(c.Labels)
			e.res(c.Max)
		case DeregisterECM:
			e.str(c.ID)
			e.bool(c.Force)
		case ECMHeartbeat:
			e.str(c.ID)
			e.byte(byte(c.Health))
			e.load(c.Load)
		}
		got, err := DecodeCommand(e.b)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("version 1 %v: %#v, %v", c.Type(), got, err)
		}
		if _, err := DecodeCommand(append(e.b, 1)); !errors.Is(err, linkis.ErrMalformed) {
			t.Fatalf("version 1 %v with a trailing byte: %v", c.Type(), err)
		}
	}
}
