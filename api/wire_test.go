package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

func TestErrorsSurviveTheWire(t *testing.T) {
	retry := false
	for _, err := range []error{
		linkis.ValueError(linkis.ErrInvalidLabel, "userCreator", "x", "must be user-creator"),
		linkis.Errorf(linkis.ErrQuotaExceeded, "key", "no room"),
		&linkis.Error{Kind: linkis.ErrEngineFailed, Field: "ec-3", Reason: "exit 1", Retry: &retry},
		&NotLeaderError{Leader: "127.0.0.1:8100", Reason: "cut off"},
	} {
		rec := httptest.NewRecorder()
		WriteError(rec, err)
		var env errorEnvelope
		if err := Decode(rec.Body.Bytes(), &env); err != nil {
			t.Fatal(err)
		}
		back := ErrorFromBody(rec.Code, env.Error)
		var le *linkis.Error
		var nl *NotLeaderError
		switch {
		case errors.As(err, &nl):
			var got *NotLeaderError
			if !errors.As(back, &got) || got.Leader != nl.Leader || got.Reason != nl.Reason || rec.Code != http.StatusServiceUnavailable {
				t.Errorf("%v came back as %v (HTTP %d)", err, back, rec.Code)
			}
		case errors.As(err, &le):
			if !errors.Is(back, le.Kind) || back.Error() != err.Error() || linkis.IsRetryable(back) != linkis.IsRetryable(err) {
				t.Errorf("%v came back as %v (retryable %v, want %v)", err, back, linkis.IsRetryable(back), linkis.IsRetryable(err))
			}
		}
		if StatusOf(err) != rec.Code {
			t.Errorf("%v: status %d, StatusOf says %d", err, rec.Code, StatusOf(err))
		}
	}
	if StatusOf(errors.New("boom")) != 500 || BodyOf(errors.New("boom")).Kind != "internal" {
		t.Error("an error of no known kind must be a 500 of kind internal")
	}
}

func TestTokenOK(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if TokenOK(r, "") {
		t.Error("an empty configured token accepted a request without one")
	}
	SetToken(r, "abc")
	if !TokenOK(r, "abc") || TokenOK(r, "abd") || TokenOK(r, "") {
		t.Error("token check wrong")
	}
	r.Header.Set(HeaderToken, "abc") // without "Bearer "
	if TokenOK(r, "abc") {
		t.Error("a token without the Bearer scheme accepted")
	}
}

func TestDecodeRefusesWithReasons(t *testing.T) {
	for body, word := range map[string]string{
		``:                   "empty",
		`{`:                  "JSON",
		`{"id": 3}`:          "id",
		`{"id":"a"} x`:       "trailing",
		`[]`:                 "JSON",
		`{"waitMs": "soon"}`: "waitMs",
	} {
		var req AskRequest
		err := Decode([]byte(body), &req)
		if !errors.Is(err, linkis.ErrInvalidArgument) || !strings.Contains(err.Error(), word) {
			t.Errorf("Decode(%q) = %v, want invalid argument mentioning %q", body, err, word)
		}
	}
	var req AskRequest
	if err := Decode([]byte(`{"id":"a","future":{"field":1}}`), &req); err != nil || req.ID != "a" {
		t.Errorf("unknown fields must be ignored: %v", err)
	}
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"id":"`+strings.Repeat("x", 100)+`"}`))
	if err := DecodeBody(httptest.NewRecorder(), r, 50, &req); err == nil || !strings.Contains(err.Error(), "larger than 50") {
		t.Errorf("oversized body: %v", err)
	}
}

func TestRequestsConvertAndValidate(t *testing.T) {
	good := map[string]string{"userCreator": "al-IDE", "engineType": "shell-1"}
	cmd, err := AskRequest{ID: "a", Labels: good, LockTimeoutMs: 1500, WaitMs: 10}.Command(7, 9)
	ask, _ := cmd.(manager.AskEngine)
	if err != nil || ask.Time != 7 || ask.Nonce != 9 || ask.LockTimeout.Milliseconds() != 1500 || len(ask.Labels) != 2 {
		t.Fatalf("ask converted to %+v, %v", cmd, err)
	}
	for name, c := range map[string]struct {
		req   AskRequest
		field string
	}{
		"no id":         {AskRequest{Labels: good}, "id"},
		"missing label": {AskRequest{ID: "a", Labels: map[string]string{"engineType": "shell-1"}}, "userCreator"},
		"bad label":     {AskRequest{ID: "a", Labels: map[string]string{"userCreator": "al-IDE", "engineType": "shell-1", "bad key!": "x"}}, "bad key"},
		"negative lock": {AskRequest{ID: "a", Labels: good, LockTimeoutMs: -1}, "lockTimeoutMs"},
		"wait too long": {AskRequest{ID: "a", Labels: good, WaitMs: 1 << 40}, "waitMs"},
		"wait over max": {AskRequest{ID: "a", Labels: good, WaitMs: 10 * 60 * 1000}, "waitMs"},
	} {
		if _, err := c.req.Command(1, 1); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: %v, want an error naming %s", name, err, c.field)
		}
	}
	if _, err := (ECHeartbeatRequest{EC: "ec-1", Status: "Unlock", Load: Load{RunningTasks: -1}}).Command(1); err == nil {
		t.Error("negative load accepted")
	}
	if _, err := (ECUnlockRequest{EC: "ec-1", Token: "00000000000000zz"}).Command(1); err == nil {
		t.Error("bad token accepted")
	}
	if _, err := (RegisterECMRequest{ID: "e", Addr: "127.0.0.1:1", Max: &Resource{Extra: map[string]int64{"gpu": -1}}}).Command(1); err == nil {
		t.Error("negative extra resource accepted")
	}
	tok := manager.LockToken(0x0123456789abcdef)
	if got, err := ParseToken(tok.String()); err != nil || got != tok {
		t.Errorf("token round trip: %v, %v", got, err)
	}
}

func TestLaunchRoundTrip(t *testing.T) {
	ls, _ := linkis.NewLabels("userCreator", "al-IDE", "engineType", "python-3")
	extra, _ := linkis.NewExtra(map[string]int64{"gpu": 2})
	in := manager.LaunchRequest{Ticket: 12, EngineType: linkis.EngineType{Type: "python", Version: "3"}, User: "al",
		Command: "linkis", Args: []string{"engineconn"}, Env: map[string]string{"A": "1"},
		Materials: []manager.Material{{Name: "x.py", Data: []byte("print(1)"), Mode: 0o644}},
		Resource:  linkis.Resource{Memory: 1 << 30, MilliCores: 500, Instances: 1, Extra: extra}, Labels: ls}
	out, err := FromLaunch(&in).Launch()
	if err != nil {
		t.Fatal(err)
	}
	if out.Ticket != in.Ticket || out.EngineType != in.EngineType || !out.Resource.Equal(in.Resource) ||
		out.Labels.String() != in.Labels.String() || string(out.Materials[0].Data) != "print(1)" {
		t.Errorf("launch round trip: %+v", out)
	}
	if _, err := (LaunchRequest{Ticket: "ec-1", EngineType: "shell-1"}).Launch(); err == nil || !strings.Contains(err.Error(), "command") {
		t.Errorf("launch without a command: %v", err)
	}
}

// TestClientFailsOverOnlyWhenNothingWasApplied: a member that cannot be
// dialled or answers not_leader is skipped; one that may have applied the
// request is not (the caller decides whether repeating is safe).
func TestClientFailsOverOnlyWhenNothingWasApplied(t *testing.T) {
	var hits atomic.Int32
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		WriteJSON(w, 200, Status{ID: "good"})
	}))
	defer ok.Close()
	notLeader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, &NotLeaderError{})
	}))
	defer notLeader.Close()
	maybe := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, linkis.Errorf(linkis.ErrUnavailable, "leader", "lost mid-flight"))
	}))
	defer maybe.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String()
	l.Close()

	c, _ := NewClient([]string{dead, notLeader.URL, ok.URL}, "t", nil)
	st, err := c.Status(context.Background())
	if err != nil || st.ID != "good" {
		t.Fatalf("past a dead member and a follower without a leader: %+v, %v", st, err)
	}
	c, _ = NewClient([]string{maybe.URL, ok.URL}, "t", nil)
	before := hits.Load()
	if _, err := c.Status(context.Background()); !errors.Is(err, linkis.ErrUnavailable) || hits.Load() != before {
		t.Fatalf("a maybe-applied failure must go back to the caller, not to the next member: %v", err)
	}
	// A member that takes the call and never answers (cut off: its
	// packets dropped) costs the caller that call, not the next ones.
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(100)
		<-r.Context().Done()
	}))
	defer stall.Close()
	c, _ = NewClient([]string{stall.URL, ok.URL}, "t", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	before = hits.Load()
	_, err = c.Status(ctx)
	cancel()
	if err == nil || hits.Load() != before+100 {
		t.Fatalf("a call the member did not answer: %v, %d calls (want the error, one call to the silent member)", err, hits.Load()-before)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st, err := c.Status(ctx); err != nil || st.ID != "good" || hits.Load() != before+101 {
		t.Fatalf("the call after it went to the silent member again: %+v, %v", st, err)
	}
	if _, err := NewClient(nil, "t", nil); err == nil {
		t.Error("a client without URLs")
	}
	if _, err := NewClient([]string{"ftp://x"}, "t", nil); err == nil {
		t.Error("a client with a non-HTTP URL")
	}
}
