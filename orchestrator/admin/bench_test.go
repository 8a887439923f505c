package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator/admin"
	"github.com/golinkis/golinkis/orchestrator/restapi"
	"github.com/golinkis/golinkis/orchestrator/restapi/restapitest"
	"github.com/golinkis/golinkis/raftstore"
)

// The manager benchmark's state (manager/bench_test.go): 10,000 ECMs and
// 100,000 engines over 1,000 user-creator+engine-type keys (100 each, 90
// held and 10 free), in a replicated store, behind the REST API.
const (
	benchECMs   = 10_000
	benchKeys   = 1_000
	benchPerKey = 100
	benchFree   = 10
)

func benchStore(b *testing.B) *raftstore.Memory {
	b.Helper()
	cfg := raftstore.DefaultMemoryConfig()
	cfg.Manager.NewECMStandby = 0
	cfg.Manager.DefaultQuota = linkis.Resource{Memory: 1 << 50, MilliCores: 1 << 40, Instances: 1000}
	cfg.Manager.MaxTasksPerEC = 1 << 30
	m, err := raftstore.OpenMemory(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	ctx := context.Background()
	now := time.Now().UnixNano()
	must := func(c manager.Command) manager.Result {
		r, err := m.Apply(ctx, c)
		if err != nil {
			b.Fatalf("%v: %v", c.Type(), err)
		}
		return r
	}
	for i := range benchECMs {
		must(manager.RegisterECM{Time: now, ID: fmt.Sprintf("ecm-%05d", i), Addr: fmt.Sprintf("10.%d.%d.%d:9101", i>>16, (i>>8)&255, i&255)})
	}
	types := []string{"shell-1", "python-3", "sql-1"}
	for k := range benchKeys {
		ls, err := linkis.NewLabels(linkis.LabelUserCreator, fmt.Sprintf("user%04d-IDE", k), linkis.LabelEngineType, types[k%3], linkis.LabelReuseExclusion, "*")
		if err != nil {
			b.Fatal(err)
		}
		for j := range benchPerKey {
			id := fmt.Sprintf("hold-%d-%d", k, j)
			r := must(manager.AskEngine{Time: now, ID: id, Nonce: uint64(k*benchPerKey + j + 1), Labels: ls})
			must(manager.EngineStarted{Time: now, EC: r.Ask.EC, Addr: fmt.Sprintf("e%d:%d", r.Ask.EC/60000, 1+r.Ask.EC%60000)})
			if j < benchFree {
				must(manager.ReleaseEngine{Time: now, AskID: id})
			}
		}
	}
	return m
}

// benchCall serves one request through the REST API's handler (no
// network: the figure is the API's, not the loopback's).
func benchCall(b *testing.B, h http.Handler, method, target, body string) {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set(restapi.HeaderTokenUser, "ops")
	req.Header.Set(restapi.HeaderTokenCode, codes["ops"])
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body.String())
	}
}

// reportP50 times each call and reports the median as p50-ms.
func reportP50(b *testing.B, call func(i int)) {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		call(i)
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100])/1e6, "p99-ms")
}

// BenchmarkListAllEMs and BenchmarkECList: a page of 100 of listAllEMs
// and of ecinfo/ecList over the manager benchmark's state, through the
// REST handler (JSON in and out, the administrator's token, a read of the
// state). Issue "Operating it": ≤ 50 ms p50.
//
//	go test -run '^$' -bench 'ListAllEMs|ECList' -benchtime 200x ./orchestrator/admin/
func BenchmarkListAllEMs(b *testing.B) {
	h := benchHandler(b)
	b.Run("page", func(b *testing.B) {
		reportP50(b, func(i int) {
			benchCall(b, h, http.MethodGet, restapi.Prefix+restapi.PathListEMs+fmt.Sprintf("?pageNow=%d&pageSize=100", 1+i%100), "")
		})
	})
	b.Run("filtered", func(b *testing.B) { // a filter that keeps one ECM in ten: the walk covers them all
		reportP50(b, func(i int) {
			benchCall(b, h, http.MethodGet, restapi.Prefix+restapi.PathListEMs+fmt.Sprintf("?instance=%d&pageNow=1&pageSize=100", i%10), "")
		})
	})
}

func BenchmarkECList(b *testing.B) {
	h := benchHandler(b)
	b.Run("one-user", func(b *testing.B) {
		reportP50(b, func(i int) {
			benchCall(b, h, http.MethodPost, restapi.Prefix+restapi.PathECList, fmt.Sprintf(`{"creators":["user%04d"],"pageSize":100}`, i%benchKeys))
		})
	})
	all := make([]string, benchKeys)
	for k := range all {
		all[k] = fmt.Sprintf(`"user%04d"`, k)
	}
	body := `{"creators":[` + strings.Join(all, ",") + `],"pageNow":%d,"pageSize":100}`
	b.Run("every-user", func(b *testing.B) { // 100,000 engines match; the page is chosen among them
		reportP50(b, func(i int) {
			benchCall(b, h, http.MethodPost, restapi.Prefix+restapi.PathECList, fmt.Sprintf(body, 1+i%1000))
		})
	})
	b.Run("busy-of-every-user", func(b *testing.B) { // ... and a status filter
		reportP50(b, func(i int) {
			benchCall(b, h, http.MethodPost, restapi.Prefix+restapi.PathECList,
				fmt.Sprintf(`{"creators":[`+strings.Join(all, ",")+`],"statuss":["Unlock"],"pageNow":%d,"pageSize":100}`, 1+i%100))
		})
	})
}

func benchHandler(b *testing.B) http.Handler {
	b.Helper()
	store := benchStore(b)
	h, err := restapi.NewHandler(restapitest.NewJobs(), restapi.Config{Users: codes, Admins: []string{"ops"}, Logger: quiet,
		Operations: admin.New(store, nil)})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkCopyEverything is the anchor: what one call would cost if it
// copied every ECM and every engine out of the state, as State.ECMs and
// State.ECs do (a sort and a copy each), and paged after.
func BenchmarkCopyEverything(b *testing.B) {
	store := benchStore(b)
	reportP50(b, func(int) {
		_ = store.Read(context.Background(), true, func(s *manager.State) {
			if len(s.ECMs()) != benchECMs || len(s.ECs()) != benchKeys*benchPerKey {
				b.Fatal("wrong state")
			}
		})
	})
}
