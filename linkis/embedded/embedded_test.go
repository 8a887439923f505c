package embedded_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/linkis/embedded"
)

func TestMain(m *testing.M) {
	embedded.ServeEngine() // the ECM starts engines as this test binary
	os.Exit(m.Run())
}

func TestManagerAndECMRunARealEngine(t *testing.T) {
	sys, err := embedded.Start(embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := sys.Manager().Ask(ctx, api.AskRequest{ID: "a1", WaitMs: 30_000,
		Labels: map[string]string{linkis.LabelUserCreator: "alice-IDE", linkis.LabelEngineType: "shell-1"}})
	if err != nil || res.Status != "Granted" {
		t.Fatalf("ask: %+v %v", res, err)
	}
	st, err := api.NewEngineClient(res.Addr, sys.Token(), nil).Run(ctx, api.TaskRequest{AskID: res.AskID, Token: res.Token, Code: "echo hi"})
	if err != nil || st.State != api.TaskSuccess {
		t.Fatalf("task: %+v %v", st, err)
	}
	dir := sys.DataDir()
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the temporary data dir %s is still there: %v", dir, err)
	}
}

func TestDurableSystemRestartsOnItsDataDir(t *testing.T) {
	dir := t.TempDir()
	for round := range 2 {
		sys, err := embedded.Start(embedded.Config{DataDir: dir, Durable: true})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		st, err := sys.Manager().Status(context.Background())
		if err != nil || st.State != "Leader" {
			t.Errorf("round %d: status %+v %v", round, st, err)
		}
		if round == 1 && st.AppliedIndex < 3 {
			t.Errorf("round %d: applied index %d: the restarted manager did not read its log", round, st.AppliedIndex)
		}
		if err := sys.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("a durable system's data dir must stay: %v", err)
	}
}
