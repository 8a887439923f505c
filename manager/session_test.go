package manager

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/golinkis/golinkis/linkis"
)

// The session commands' samples for the codec tests (codec_test.go).
func sessionSampleCommands() []Command {
	h := strings.Repeat("h", SessionHashLen)
	return []Command{
		CreateSession{Time: codecT0 + 20, Hash: h, User: "alice", Expires: codecT0 + int64(time.Hour), Deadline: codecT0 + int64(24*time.Hour)},
		TouchSession{Time: codecT0 + 21, Hash: h, Expires: codecT0 + int64(2*time.Hour)},
		DeleteSession{Time: codecT0 + 22, Hash: h},
		DeleteUserSessions{Time: codecT0 + 23, User: "alice"},
	}
}

func zeroSessionCommand(typ CommandType) Command {
	switch typ {
	case CmdCreateSession:
		return CreateSession{}
	case CmdTouchSession:
		return TouchSession{}
	case CmdDeleteSession:
		return DeleteSession{}
	case CmdDeleteUserSessions:
		return DeleteUserSessions{}
	}
	return nil
}

func genSessionCommand(t *rapid.T, typ CommandType, at int64) Command {
	str := func(label string, max int) string { return genBytesString(t, label, max) }
	switch typ {
	case CmdCreateSession:
		return CreateSession{Time: at, Hash: str("hash", SessionHashLen), User: str("user", maxJobName),
			Expires: rapid.Int64().Draw(t, "expires"), Deadline: rapid.Int64().Draw(t, "deadline")}
	case CmdTouchSession:
		return TouchSession{Time: at, Hash: str("hash", SessionHashLen), Expires: rapid.Int64().Draw(t, "expires")}
	case CmdDeleteSession:
		return DeleteSession{Time: at, Hash: str("hash", SessionHashLen)}
	case CmdDeleteUserSessions:
		return DeleteUserSessions{Time: at, User: str("user", maxJobName)}
	}
	return nil
}

func hashOf(n int) string {
	return strings.Repeat(string(rune('a'+n%26)), SessionHashLen-4) + string([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

func newSessionState(t *testing.T) *State {
	t.Helper()
	s, err := New(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustApply(t *testing.T, s *State, c Command) {
	t.Helper()
	if _, err := s.Apply(c); err != nil {
		t.Fatalf("%v: %v", c.Type(), err)
	}
}

func TestSessionLifecycle(t *testing.T) {
	s := newSessionState(t)
	t0 := codecT0
	min := int64(time.Minute)
	mustApply(t, s, CreateSession{Time: t0, Hash: hashOf(1), User: "alice", Expires: t0 + 10*min, Deadline: t0 + 60*min})
	if v, ok := s.Session(hashOf(1), t0+min); !ok || v.User != "alice" || v.Created != t0 {
		t.Fatalf("a new session reads %+v %v", v, ok)
	}
	if _, ok := s.Session(hashOf(1), t0+10*min); ok {
		t.Fatal("a session is live at its idle expiry")
	}
	// Touch pushes the idle expiry, never past the deadline.
	mustApply(t, s, TouchSession{Time: t0 + 5*min, Hash: hashOf(1), Expires: t0 + 15*min})
	if _, ok := s.Session(hashOf(1), t0+12*min); !ok {
		t.Fatal("a touched session expired at its old expiry")
	}
	mustApply(t, s, TouchSession{Time: t0 + 14*min, Hash: hashOf(1), Expires: t0 + 600*min})
	if v, _ := s.Session(hashOf(1), t0+14*min); v.Expires != t0+60*min {
		t.Fatalf("touch moved the expiry to %d, want the deadline %d", v.Expires, t0+60*min)
	}
	// A touch never moves the expiry back.
	mustApply(t, s, TouchSession{Time: t0 + 15*min, Hash: hashOf(1), Expires: t0 + 16*min})
	if v, _ := s.Session(hashOf(1), t0+15*min); v.Expires != t0+60*min {
		t.Fatalf("touch moved the expiry back to %d", v.Expires)
	}
	// Logout.
	mustApply(t, s, DeleteSession{Time: t0 + 16*min, Hash: hashOf(1)})
	if _, ok := s.Session(hashOf(1), t0+16*min); ok {
		t.Fatal("a deleted session is live")
	}
	mustApply(t, s, DeleteSession{Time: t0 + 17*min, Hash: hashOf(1)}) // again: no error
	if _, err := s.Apply(TouchSession{Time: t0 + 18*min, Hash: hashOf(1), Expires: t0 + 20*min}); !errors.Is(err, linkis.ErrPermission) {
		t.Fatalf("touching a deleted session: %v", err)
	}
}

func TestSessionBadInputChangesNothing(t *testing.T) {
	s := newSessionState(t)
	t0 := codecT0
	mustApply(t, s, CreateSession{Time: t0, Hash: hashOf(1), User: "alice", Expires: t0 + 10, Deadline: t0 + 20})
	before := s.Snapshot()
	for name, c := range map[string]Command{
		"short hash":      CreateSession{Time: t0, Hash: "abc", User: "bob", Expires: t0 + 10, Deadline: t0 + 10},
		"no user":         CreateSession{Time: t0, Hash: hashOf(2), Expires: t0 + 10, Deadline: t0 + 10},
		"expired":         CreateSession{Time: t0, Hash: hashOf(2), User: "bob", Expires: t0, Deadline: t0},
		"deadline first":  CreateSession{Time: t0, Hash: hashOf(2), User: "bob", Expires: t0 + 10, Deadline: t0 + 5},
		"duplicate":       CreateSession{Time: t0, Hash: hashOf(1), User: "bob", Expires: t0 + 10, Deadline: t0 + 10},
		"touch short":     TouchSession{Time: t0, Hash: "x", Expires: t0 + 5},
		"touch unknown":   TouchSession{Time: t0, Hash: hashOf(3), Expires: t0 + 5},
		"touch after end": TouchSession{Time: t0 + 10, Hash: hashOf(1), Expires: t0 + 15},
	} {
		if _, err := s.Apply(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if !bytes.Equal(s.Snapshot(), before) {
			t.Fatalf("%s: a refused command changed the state", name)
		}
	}
}

func TestSessionCapsAndPurge(t *testing.T) {
	s := newSessionState(t)
	t0 := codecT0
	// One user's sessions beyond the cap: the one expiring first goes.
	for i := 0; i <= MaxSessionsPerUser; i++ {
		mustApply(t, s, CreateSession{Time: t0 + int64(i), Hash: hashOf(i), User: "alice", Expires: t0 + 1000 + int64(i), Deadline: t0 + 5000})
	}
	if _, ok := s.Session(hashOf(0), t0+100); ok {
		t.Fatal("the oldest session survived the per-user cap")
	}
	if _, ok := s.Session(hashOf(MaxSessionsPerUser), t0+100); !ok {
		t.Fatal("the newest session is missing")
	}
	if n := s.SessionCount(); n != MaxSessionsPerUser {
		t.Fatalf("%d sessions, want %d", n, MaxSessionsPerUser)
	}
	// Another user's session; everything of alice's expires by t0+2000 and
	// any session command then drops them.
	mustApply(t, s, CreateSession{Time: t0 + 3000, Hash: hashOf(1000), User: "bob", Expires: t0 + 9000, Deadline: t0 + 9000})
	if n := s.SessionCount(); n != 1 {
		t.Fatalf("%d sessions after the purge, want bob's only", n)
	}
	// Revoking a user's sessions.
	mustApply(t, s, CreateSession{Time: t0 + 3001, Hash: hashOf(1001), User: "bob", Expires: t0 + 9000, Deadline: t0 + 9000})
	mustApply(t, s, DeleteUserSessions{Time: t0 + 3002, User: "bob"})
	if n := s.SessionCount(); n != 0 {
		t.Fatalf("%d sessions after revoking bob's", n)
	}
}

func TestSessionSnapshotRoundTrip(t *testing.T) {
	s := newSessionState(t)
	t0 := codecT0
	for i := 0; i < 10; i++ {
		mustApply(t, s, CreateSession{Time: t0 + int64(i), Hash: hashOf(i), User: []string{"alice", "bob"}[i%2], Expires: t0 + 100 + int64(i), Deadline: t0 + 500})
	}
	snap := s.Snapshot()
	r, err := Restore(snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Snapshot(), snap) {
		t.Fatal("restore then snapshot gave other bytes")
	}
	if v, ok := r.Session(hashOf(3), t0+50); !ok || v.User != "bob" || v.Expires != t0+103 {
		t.Fatalf("restored session %+v %v", v, ok)
	}
	// The restored indexes work: revoking bob's drops 5.
	mustApply(t, r, DeleteUserSessions{Time: t0 + 20, User: "bob"})
	if n := r.SessionCount(); n != 5 {
		t.Fatalf("%d sessions after revoking bob's on a restored state", n)
	}
}
