package main

import (
	"bytes"
	"strings"
	"testing"
)

// The README's first command must keep working and keep showing what it
// claims: asks sharing a key's instance cap, tenant isolation, lost nodes.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := runDemo(&out, []string{"-asks", "12"}); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"3 engines starting for 12 waiting asks",
		"job-11 runs on",
		"acme-1 -> host-acme",
		"no ECM is registered for this tenant",
		"ECM host-acme lost",
		"invariants hold",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "reused=false") && strings.Count(out.String(), "reused=false") != 3 {
		t.Errorf("only the 3 new engines may be unused before:\n%s", out.String())
	}
}
