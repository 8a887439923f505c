package ecm_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/linkis"
)

// The engine's own output, paged, also after it failed to start: what an
// operator opens when Linkis says "Failed to async get EngineNode" (the
// console's openEngineLog, answered through the ECM as Linkis's
// linkis-computation-governance/linkis-engineconn-manager/
// linkis-engineconn-manager-server/src/main/java/org/apache/linkis/ecm/
// server/operator/EngineConnLogOperator.java pages it: lines from a
// line, a page size, whether more follow).
func TestEngineOutputLogOfAFailedStartIsPaged(t *testing.T) {
	m, _, _ := directECM(t, nil)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	c := api.NewECMClient(clusterToken, nil)
	ctx := context.Background()

	script := `for i in $(seq 1 2500); do echo "out $i"; done; echo "config error: no such queue" >&2; exit 2`
	if _, err := m.Launch(bashLaunch("ec-5", script)); err != nil {
		t.Fatal(err)
	}
	waitExited(t, m, "ec-5")
	p, err := c.EngineProcess(ctx, addr, "ec-5")
	if err != nil {
		t.Fatal(err)
	}
	if p.State != api.ECExited || !p.Failed || !strings.Contains(p.Reason, "exit status 2") || p.Ended == 0 || p.Launched == 0 || !strings.HasSuffix(p.LogPath, "ec-5/logs/"+ecm.LogFile) {
		t.Fatalf("process %+v", p)
	}
	page, err := c.EngineLog(ctx, addr, "ec-5", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Lines) != 1000 || page.Lines[0] != "out 1" || page.Lines[999] != "out 1000" || page.Next != 1000 || !page.More || !page.Complete {
		t.Fatalf("first page: %d lines, next %d, more %v, complete %v", len(page.Lines), page.Next, page.More, page.Complete)
	}
	page, err = c.EngineLog(ctx, addr, "ec-5", 2499, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(page.Lines) != "[out 2500 config error: no such queue]" || page.Next != 2501 || page.More {
		t.Fatalf("last page %+v", page)
	}
	if page, err = c.EngineLog(ctx, addr, "ec-5", 9000, 10); err != nil || len(page.Lines) != 0 || page.Next != 9000 {
		t.Fatalf("past the end: %+v %v", page, err)
	}
	for _, bad := range []struct{ from, size int }{{-1, 10}, {0, 0}, {0, api.MaxLogPageSize + 1}} {
		if _, err := c.EngineLog(ctx, addr, "ec-5", bad.from, bad.size); !errors.Is(err, linkis.ErrInvalidArgument) {
			t.Errorf("page %+v: %v", bad, err)
		}
	}
	if _, err := c.EngineLog(ctx, addr, "ec-77", 0, 10); !errors.Is(err, linkis.ErrUnknownNode) {
		t.Errorf("unknown engine: %v", err)
	}
	if _, err := c.EngineProcess(ctx, addr, "not-an-ec"); !errors.Is(err, linkis.ErrInvalidArgument) {
		t.Errorf("bad id: %v", err)
	}
	if _, err := api.NewECMClient("wrong-token", nil).EngineLog(ctx, addr, "ec-5", 0, 10); !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("wrong token: %v", err)
	}
}

// The log directory is the engine user's: a link planted in place of the
// log is not followed.
func TestEngineOutputLogRefusesAPlantedLink(t *testing.T) {
	m, _, dir := directECM(t, nil)
	if _, err := m.Launch(bashLaunch("ec-6", "echo hi; exit 0")); err != nil {
		t.Fatal(err)
	}
	waitExited(t, m, "ec-6")
	log := filepath.Join(dir, "ec-6", "logs", ecm.LogFile)
	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("not yours\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, log); err != nil {
		t.Fatal(err)
	}
	if p, err := m.EngineLog("ec-6", 0, 10); !errors.Is(err, linkis.ErrPermission) || len(p.Lines) > 0 {
		t.Fatalf("a planted link: %+v %v", p.Lines, err)
	}
}

// While the engine runs, a line it has not finished is held back.
func TestEngineOutputLogWhileRunning(t *testing.T) {
	m, _, _ := directECM(t, nil)
	if _, err := m.Launch(bashLaunch("ec-7", `printf 'one\ntwo\nhalf'; sleep 30`)); err != nil {
		t.Fatal(err)
	}
	var p api.EngineLogPage
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if p, err = m.EngineLog("ec-7", 0, 10); err != nil {
			t.Fatal(err)
		}
		if len(p.Lines) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fmt.Sprint(p.Lines) != "[one two]" || p.Complete || p.More {
		t.Fatalf("running page %+v", p)
	}
	st, err := m.EngineProcess("ec-7")
	if err != nil || st.State != api.ECStarting || st.PID == 0 {
		t.Fatalf("running process %+v %v", st, err)
	}
	if _, err := m.Kill(context.Background(), api.KillRequest{EC: "ec-7"}); err != nil {
		t.Fatal(err)
	}
	if p, err = m.EngineLog("ec-7", 0, 10); err != nil || fmt.Sprint(p.Lines) != "[one two half]" || !p.Complete {
		t.Fatalf("after the kill %+v %v", p, err)
	}
}
