package manager

import (
	"errors"
	"testing"

	"github.com/golinkis/golinkis/linkis"
)

// Apply reads a command's type and time through TypeOf and timeOf, not
// through the interface: every command type must be listed there, or Apply
// refuses it as unknown.
func TestTypeOfEveryCommand(t *testing.T) {
	for _, typ := range allCommandTypes() {
		c := zeroCommand(typ)
		if got := TypeOf(c); got != typ || got != c.Type() {
			t.Errorf("TypeOf(%T) = %v, want %v", c, got, typ)
		}
		if at, ok := timeOf(withTime(c, 42)); !ok || at != 42 {
			t.Errorf("timeOf(%T) = %d, %v", c, at, ok)
		}
	}
	if TypeOf(Ignored{Kind: 99}) != 99 || TypeOf(strangeCommand{}) != 0 {
		t.Error("TypeOf of Ignored or of an unknown type")
	}
	s, _ := New(DefaultConfig(), nil)
	if _, err := s.Apply(strangeCommand{}); !errors.Is(err, linkis.ErrUnknownCommand) {
		t.Fatalf("an unknown command type: %v", err)
	}
}
