package engineconn_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/engineconn/engines"
)

// upper is a fourth engine: it writes its task's code in capitals as a
// text result set. Adding it touches no other engine.
type upper struct{}

func (upper) Open(context.Context, *engineconn.Context) (engineconn.Session, error) {
	return upperSession{}, nil
}

type upperSession struct{}

func (upperSession) Run(ctx context.Context, t *engineconn.Task) error {
	rs, err := t.NewResultSet("text", []api.ResultColumn{{Name: "output", Type: "TEXT"}})
	if err != nil {
		return err
	}
	if err := rs.Row(strings.ToUpper(t.Code)); err != nil {
		rs.Close()
		return err
	}
	t.Logf("upper-cased %d bytes", len(t.Code))
	return rs.Close()
}

func (upperSession) Close() error { return nil }

// A new engine type is one Register call on the registry the EngineConn is
// built with (engines.Builtin for the built-in ones).
func ExampleRegistry_Register() {
	reg := engines.Builtin()
	if err := reg.Register("upper", upper{}); err != nil {
		fmt.Println(err)
	}
	_, err := reg.Lookup("upper")
	fmt.Println("upper:", err)
	_, err = reg.Lookup("spark")
	fmt.Println("spark:", err)
	// Output:
	// upper: <nil>
	// spark: unknown engine type: engineType "spark": no engine of this type in this EngineConn; known: echo, jdbc, python, shell, sql, upper
}
