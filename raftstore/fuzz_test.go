package raftstore

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/manager"
)

// FuzzDecodeEntry: any bytes decode to an entry or a malformed error,
// never a panic; what decodes re-encodes to the same bytes.
func FuzzDecodeEntry(f *testing.F) {
	ask := manager.AskEngine{Time: 1, ID: "a", Nonce: 2, Labels: nil}
	good, _ := appendEntry(nil, nil, 7, 9, []*proposal{
		{kind: itemCommand, cmd: manager.Tick{Time: 5}}, {kind: itemCommand, cmd: ask},
		{kind: itemMember, body: memberItem(api.Member{ID: "m1", RaftAddr: "127.0.0.1:1"})}, {kind: itemNoop},
	})
	f.Add(good)
	f.Add([]byte{entryBatch})
	f.Add([]byte{entryBatch, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		epoch, seq, items, err := decodeEntry(b)
		if err != nil {
			return
		}
		props := make([]*proposal, len(items))
		for i, it := range items {
			props[i] = &proposal{kind: it.kind, cmd: it.cmd, body: it.body}
		}
		again, _ := appendEntry(nil, nil, epoch, seq, props)
		e2, s2, items2, err := decodeEntry(again)
		if err != nil || e2 != epoch || s2 != seq || len(items2) != len(items) {
			t.Fatalf("re-encoded entry does not decode alike: %v", err)
		}
	})
}

// FuzzAPIRequest sends arbitrary bodies to every write endpoint of a
// store: the answer is a JSON success or an error envelope of a known
// kind (never a 500), and the state keeps its invariants.
func FuzzAPIRequest(f *testing.F) {
	st, err := OpenMemory(DefaultMemoryConfig())
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	h, err := NewHandler(st, HandlerConfig{Token: testToken})
	if err != nil {
		f.Fatal(err)
	}
	paths := []string{api.PathRegisterECM, api.PathECMHeartbeat, api.PathDeregisterECM, api.PathECStarted, api.PathECEnded,
		api.PathECHeartbeat, api.PathECUnlock, api.PathECKill, api.PathAsk, api.PathRelease, api.PathRenew, api.PathMembers}
	f.Add(uint8(0), []byte(`{"id":"ecm-1","addr":"127.0.0.1:9","max":{"memory":1073741824,"milliCores":4000,"instances":10}}`))
	f.Add(uint8(8), []byte(`{"id":"a1","labels":{"userCreator":"al-IDE","engineType":"shell-1"}}`))
	f.Add(uint8(5), []byte(`{"ec":"ec-1","status":"Unlock","load":{"runningTasks":1}}`))
	f.Add(uint8(3), []byte(`{"ec":"ec-1","addr":"127.0.0.1:7000"}`))
	f.Add(uint8(9), []byte(`{"askId":"a1"}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		api.SetToken(req, testToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			var env struct{ Error api.ErrorBody }
			if err := api.Decode(rec.Body.Bytes(), &env); err != nil || env.Error.Kind == "" || env.Error.Kind == "internal" || env.Error.Message == "" {
				t.Fatalf("POST %s %q: %d %s", path, body, rec.Code, rec.Body)
			}
		}
		var ierr error
		st.rep.read(func(s *manager.State) { ierr = manager.CheckInvariants(s) })
		if ierr != nil {
			t.Fatalf("after POST %s %q: %v", path, body, ierr)
		}
	})
}
