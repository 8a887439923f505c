package engines

import (
	"context"
	"strings"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/engineconn"
)

// Echo is the smallest engine: a task's output is its code, as a text
// result set and in its log; with runType "log", in its log only. It costs
// no child process, so a round trip through it (runType "log": not even a
// file) measures the EngineConn runtime alone.
type Echo struct{}

// Open implements engineconn.Engine.
func (Echo) Open(context.Context, *engineconn.Context) (engineconn.Session, error) {
	return echoSession{}, nil
}

type echoSession struct{}

func (echoSession) Run(ctx context.Context, t *engineconn.Task) error {
	if t.RunType == "log" {
		for _, line := range strings.Split(strings.TrimSuffix(t.Code, "\n"), "\n") {
			t.Logf("%s", line)
		}
		return nil
	}
	rs, err := t.NewResultSet("text", []api.ResultColumn{{Name: "output", Type: "TEXT"}})
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSuffix(t.Code, "\n"), "\n") {
		if err := ctx.Err(); err != nil {
			rs.Close()
			return err
		}
		t.Logf("%s", line)
		if err := rs.Row(line); err != nil {
			rs.Close()
			return err
		}
	}
	return rs.Close()
}

func (echoSession) Close() error { return nil }
