package admin_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator/admin"
	"github.com/golinkis/golinkis/orchestrator/restapi"
	"github.com/golinkis/golinkis/orchestrator/restapi/restapitest"
	"github.com/golinkis/golinkis/raftstore"
)

// FuzzManageAPI: no method, management path, query or body makes the
// management API panic or answer anything but an envelope with one of
// Linkis's statuses; a request without the right token, or refused,
// changes nothing (the applied index stays).
func FuzzManageAPI(f *testing.F) {
	for _, s := range []struct{ method, path, body, user string }{
		{"GET", restapi.PathListEMs + "?nodeHealthy=UnHealthy&labels=a=b&pageNow=2&pageSize=3", "", "ops"},
		{"PUT", restapi.PathModifyEM, `{"instance":"ecm-1","emStatus":"UnHealthy","labels":[{"labelKey":"yarnCluster","stringValue":"c1"}]}`, "ops"},
		{"POST", restapi.PathECList, `{"creators":["alice"],"statuss":["Unlock"],"pageSize":"5"}`, "ops"},
		{"POST", restapi.PathEngineKill, `[{"engineInstance":"ec-1"}]`, "alice"},
		{"POST", restapi.PathKillUnlock, `{"instance":"ecm-1","user":"alice"}`, "alice"},
		{"POST", restapi.PathOpenEngineLog, `{"instance":"ec-1","parameters":{"fromLine":"3","pageSize":10,"logType":"stderr"}}`, "alice"},
		{"GET", restapi.PathECHistory + "?startDate=2024-01-01%2000:00:00&creator=alice", "", "ops"},
		{"DELETE", restapi.PathResetResource + "?resourceId=-1", "", "ops"},
		{"POST", restapi.PathKeyValue, `{"creator":"IDE","engineType":"shell","version":"1","configKey":"wds.linkis.rm.instance","configValue":"3"}`, "alice"},
		{"POST", restapi.PathSaveFullTree, `{"creator":"IDE","engineType":"shell-1","fullTree":[{"settings":[{"key":"wds.linkis.engineconn.java.driver.memory","configValue":"1g"}]}]}`, "ops"},
		{"POST", restapi.PathSaveVariables, `{"globalVariables":[{"key":"k","value":"v"}]}`, "bob"},
		{"GET", restapi.PathFullTree + "?creator=GlobalSettings", "", "bob"},
	} {
		f.Add(s.method, s.path, s.body, s.user)
	}
	store, err := raftstore.OpenMemory(raftstore.DefaultMemoryConfig())
	if err != nil {
		f.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Apply(context.Background(), manager.RegisterECM{Time: time.Now().UnixNano(), ID: "ecm-1", Addr: "127.0.0.1:9"}); err != nil {
		f.Fatal(err)
	}
	h, err := restapi.NewHandler(restapitest.NewJobs(), restapi.Config{Users: codes, Admins: []string{"ops"}, Logger: quiet,
		Operations: admin.New(store, nil), MaxBodyBytes: 64 << 10})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path, body, user string) {
		u, err := url.ParseRequestURI(restapi.Prefix + path)
		if err != nil || u.Host != "" || method == "" || strings.ContainsAny(method, " \t\r\n/:") {
			t.Skip()
		}
		r := httptest.NewRequest("GET", "/", strings.NewReader(body))
		r.Method, r.URL, r.RequestURI = method, u, restapi.Prefix+path
		r.Header.Set(restapi.HeaderTokenUser, user)
		r.Header.Set(restapi.HeaderTokenCode, codes[user])
		before := store.AppliedIndex()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var env restapi.Envelope
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatalf("not an envelope: %v %q", err, w.Body.String())
		}
		switch env.Status {
		case restapi.StatusOK, restapi.StatusError, restapi.StatusValidation, restapi.StatusAuthFailed, restapi.StatusNotLoggedIn:
		default:
			t.Fatalf("status %d", env.Status)
		}
		if env.Status != restapi.StatusOK && store.AppliedIndex() != before {
			t.Fatalf("a refused %s %s (%q) changed the state", method, path, env.Message)
		}
	})
}
