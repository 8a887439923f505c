package raftstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// The linearizability check: clients ask for, release and read a small
// pool of asks through every member while leaders are stopped and
// restarted; porcupine checks the recorded history against a sequential
// model of one ask.

type opKind uint8

const (
	opAsk opKind = iota
	opRelease
	opGet
)

func (k opKind) String() string { return [...]string{"ask", "release", "get"}[k] }

type lzInput struct {
	kind opKind
	id   string
}

// lzOutput is what a client saw. unknown: the call failed in a way that
// leaves open whether it was applied (timeout, connection lost, leadership
// lost); such calls are given a return time after every other call.
type lzOutput struct {
	unknown bool
	status  string // Pending, Granted, Done, Failed, or "absent" (unknown ask)
	token   string
}

// lzState is one ask as the model sees it: absent, Pending or Granted.
// A call's answer may be a later observation than the moment the call
// took effect (an ask that waits is applied, pending, and answered once
// granted), so a Pending ask may carry the token it will be granted with,
// and a Granted one whose grant was never observed has token "" (any).
type lzState struct {
	status string
	token  string
}

func lzStep(s lzState, in lzInput, out lzOutput) []lzState {
	absent := lzState{status: "absent"}
	if out.unknown {
		next := []lzState{s} // maybe it never took effect
		switch {
		case in.kind == opAsk && s.status == "absent":
			next = append(next, lzState{status: "Pending"}, lzState{status: "Granted"})
		case in.kind == opRelease:
			next = append(next, absent)
		}
		return next
	}
	matches := s.token == "" || s.token == out.token
	switch in.kind {
	case opAsk:
		switch {
		case out.status == "Granted" && s.status == "absent":
			return []lzState{{status: "Granted", token: out.token}, {status: "Pending", token: out.token}}
		case out.status == "Granted" && s.status == "Pending" && matches:
			return []lzState{{status: "Granted", token: out.token}, {status: "Pending", token: out.token}}
		case out.status == "Granted" && s.status == "Granted" && matches:
			return []lzState{{status: "Granted", token: out.token}}
		case out.status == "Pending" && s.status == "absent":
			return []lzState{{status: "Pending"}}
		case out.status == "Pending" && s.status == "Pending":
			return []lzState{s}
		case (out.status == "Done" || out.status == "Failed") && s.status != "Granted":
			// Applied while absent or pending; before its wait ended another
			// client released it (or its engine failed). The release is its
			// own operation: here the ask only makes it pending.
			if s.status == "absent" {
				return []lzState{{status: "Pending"}}
			}
			return []lzState{s}
		}
	case opRelease:
		switch {
		case out.status == "Done" && s.status != "absent":
			return []lzState{absent}
		case out.status == "absent" && s.status == "absent":
			return []lzState{s}
		}
	case opGet:
		switch {
		case (out.status == "absent" || out.status == "Done" || out.status == "Failed") && s.status == "absent":
			return []lzState{s} // forgotten; the member may remember how it ended
		case out.status == "Failed" && s.status == "Pending":
			return []lzState{absent} // its engine failed
		case out.status == "Pending" && s.status == "Pending":
			return []lzState{s}
		case out.status == "Granted" && s.status != "absent" && matches:
			return []lzState{{status: "Granted", token: out.token}}
		}
	}
	return nil
}

var lzModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var ids []string
		for _, op := range h {
			id := op.Input.(lzInput).id
			if _, ok := by[id]; !ok {
				ids = append(ids, id)
			}
			by[id] = append(by[id], op)
		}
		out := make([][]porcupine.Operation, 0, len(ids))
		for _, id := range ids {
			out = append(out, by[id])
		}
		return out
	},
	Init: func() []any { return []any{lzState{status: "absent"}} },
	Step: func(state, input, output any) []any {
		var out []any
		for _, s := range lzStep(state.(lzState), input.(lzInput), output.(lzOutput)) {
			out = append(out, s)
		}
		return out
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(lzInput), output.(lzOutput)
		if out.unknown {
			return fmt.Sprintf("%v(%s) → ?", in.kind, in.id)
		}
		return fmt.Sprintf("%v(%s) → %s %s", in.kind, in.id, out.status, out.token)
	},
	DescribeState: func(state any) string { s := state.(lzState); return s.status + " " + s.token },
}

// outputOf classifies a call's result.
func outputOf(a api.AskResult, err error) lzOutput {
	switch {
	case err == nil:
		return lzOutput{status: a.Status, token: a.Token}
	case errors.Is(err, linkis.ErrUnknownAsk):
		return lzOutput{status: "absent"}
	default:
		return lzOutput{unknown: true}
	}
}

func TestClusterLinearizable(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.registerECM("ecm-1")
	const clients, ids = 6, 8
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var history []porcupine.Operation
	var wg sync.WaitGroup
	for ci := 0; ci < clients; ci++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(ci), 7))
			cl := c.client()
			for ctx.Err() == nil {
				in := lzInput{kind: opKind(rng.IntN(3)), id: fmt.Sprintf("k%d", rng.IntN(ids))}
				cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
				call := time.Since(start).Nanoseconds()
				var a api.AskResult
				var err error
				switch in.kind {
				case opAsk:
					// Two users share the pool, so asks reuse each other's engines.
					req := askReq(in.id, fmt.Sprintf("u%d", len(in.id)%2))
					req.WaitMs = int64(rng.IntN(2)) * 500
					a, err = cl.Ask(cctx, req)
				case opRelease:
					a, err = cl.Release(cctx, in.id)
				case opGet:
					a, err = cl.GetAsk(cctx, in.id, 0)
				}
				ccancel()
				ret := time.Since(start).Nanoseconds()
				if ctx.Err() != nil && err != nil {
					return // the test is over; the call was cut short by it
				}
				if errors.Is(err, linkis.ErrNotLeader) || (err != nil && in.kind == opGet) {
					continue // refused before it was proposed, or a read that saw nothing: it did not happen
				}
				out := outputOf(a, err)
				if out.unknown {
					ret = -1 // set after the run
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: ci, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		}()
	}
	// Failovers: stop the leader, bring it back, stop the next one.
	for round := 0; round < 2; round++ {
		time.Sleep(400 * time.Millisecond)
		old := c.leader()
		c.stop(old)
		c.leader()
		time.Sleep(400 * time.Millisecond)
		c.start(old)
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	wg.Wait()
	end := time.Since(start).Nanoseconds()
	unknown := 0
	for i := range history {
		if history[i].Return < 0 {
			history[i].Return = end
			unknown++
		}
	}
	if len(history) < 100 {
		t.Fatalf("only %d operations recorded", len(history))
	}
	res, info := porcupine.CheckOperationsVerbose(lzModel.ToModel(), history, 60*time.Second)
	if res != porcupine.Ok {
		path := filepath.Join(os.TempDir(), "linkis-linearizability.html")
		if f, err := os.Create(path); err == nil {
			_ = porcupine.Visualize(lzModel.ToModel(), info, f)
			f.Close()
		}
		for _, part := range lzModel.Partition(history) {
			if porcupine.CheckOperations(lzModel.ToModel(), part) {
				continue
			}
			sort.Slice(part, func(i, j int) bool { return part[i].Call < part[j].Call })
			for _, op := range part {
				t.Logf("client %d [%d, %d] %s", op.ClientId, op.Call/1e6, op.Return/1e6, lzModel.DescribeOperation(op.Input, op.Output))
			}
		}
		t.Fatalf("history of %d operations is %v (visualisation: %s)", len(history), res, path)
	}
	t.Logf("%d operations (%d of unknown outcome) linearizable across 2 failovers", len(history), unknown)
	c.converge()
}

// TestLinearizabilityModelRejects checks the checker: histories that no
// sequential order explains must be refused.
func TestLinearizabilityModelRejects(t *testing.T) {
	op := func(kind opKind, call, ret int64, out lzOutput) porcupine.Operation {
		return porcupine.Operation{Input: lzInput{kind: kind, id: "k"}, Call: call, Return: ret, Output: out}
	}
	for _, c := range []struct {
		name string
		h    []porcupine.Operation
		ok   bool
	}{
		{"grant then read it", []porcupine.Operation{op(opAsk, 0, 1, lzOutput{status: "Granted", token: "a"}), op(opGet, 2, 3, lzOutput{status: "Granted", token: "a"})}, true},
		{"read sees another token", []porcupine.Operation{op(opAsk, 0, 1, lzOutput{status: "Granted", token: "a"}), op(opGet, 2, 3, lzOutput{status: "Granted", token: "b"})}, false},
		{"stale read after release", []porcupine.Operation{op(opAsk, 0, 1, lzOutput{status: "Granted", token: "a"}), op(opRelease, 2, 3, lzOutput{status: "Done"}), op(opGet, 4, 5, lzOutput{status: "Granted", token: "a"})}, false},
		{"lost acknowledged ask", []porcupine.Operation{op(opAsk, 0, 1, lzOutput{status: "Granted", token: "a"}), op(opGet, 2, 3, lzOutput{status: "absent"})}, false},
		{"released twice", []porcupine.Operation{op(opAsk, 0, 1, lzOutput{status: "Granted", token: "a"}), op(opRelease, 2, 3, lzOutput{status: "Done"}), op(opRelease, 4, 5, lzOutput{status: "Done"})}, false},
		{"unknown ask may have happened", []porcupine.Operation{op(opAsk, 0, 100, lzOutput{unknown: true}), op(opGet, 2, 3, lzOutput{status: "Granted", token: "z"})}, true},
		{"concurrent read may see either", []porcupine.Operation{op(opAsk, 0, 10, lzOutput{status: "Granted", token: "a"}), op(opGet, 1, 2, lzOutput{status: "absent"})}, true},
	} {
		if got := porcupine.CheckOperations(lzModel.ToModel(), c.h); got != c.ok {
			t.Errorf("%s: linearizable = %v, want %v", c.name, got, c.ok)
		}
	}
}
