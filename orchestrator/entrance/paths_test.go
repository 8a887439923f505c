package entrance

import (
	"errors"
	"testing"

	"github.com/golinkis/golinkis/linkis"
)

// Every path a user names is read in exactly one spelling: encoded dots,
// doubled or trailing slashes, other schemes and traversal are refused.
func TestPathsHaveOneSpelling(t *testing.T) {
	if u, id, err := ParseLogLocation(LogLocation("a.b@c", 42)); err != nil || u != "a.b@c" || id != 42 {
		t.Fatalf("log location round trip: %q %d %v", u, id, err)
	}
	if u, id, err := ParseResultLocation(ResultLocation("alice", 7)); err != nil || u != "alice" || id != 7 {
		t.Fatalf("result location round trip: %q %d %v", u, id, err)
	}
	if u, id, err := ParseResultLocation(ResultRoot("alice")); err != nil || u != "alice" || id != 0 {
		t.Fatalf("result root round trip: %q %d %v", u, id, err)
	}
	if u, id, n, err := parseResultPath(resultPath("alice", 7, 2)); err != nil || u != "alice" || id != 7 || n != 2 {
		t.Fatalf("result path round trip: %q %d %d %v", u, id, n, err)
	}
	for _, p := range []string{
		"linkis:///logs/alice/007.log", "linkis:///logs/%61lice/7.log", "linkis:///logs/alice/7.log/", "linkis:///logs/alice/../bob/7.log",
		"linkis:///logs/alice/7", "file:///etc/passwd", "linkis:///logs//7.log", "linkis:///logs/alice/-7.log",
	} {
		if _, _, err := ParseLogLocation(p); !errors.Is(err, linkis.ErrPermission) {
			t.Errorf("ParseLogLocation(%q) = %v", p, err)
		}
	}
	for _, p := range []string{
		"linkis:///results/alice/", "linkis:///results/alice//7", "linkis:///results/alice/7/", "linkis:///results/%2e%2e/7",
		"linkis:///results/alice/../bob", "linkis:///results/alice/07", "linkis:///results/", "linkis:///results/alice/7/_0.jsonl",
	} {
		if _, _, err := ParseResultLocation(p); !errors.Is(err, linkis.ErrPermission) {
			t.Errorf("ParseResultLocation(%q) = %v", p, err)
		}
	}
	for _, p := range []string{
		"linkis:///results/alice/7/_00.jsonl", "linkis:///results/%61lice/7/_0.jsonl", "linkis:///results/alice/7/_0.jsonl/",
		"linkis:///results/alice/7/../8/_0.jsonl", "linkis:///results/alice/7/_-1.jsonl",
	} {
		if _, _, _, err := parseResultPath(p); !errors.Is(err, linkis.ErrPermission) {
			t.Errorf("parseResultPath(%q) = %v", p, err)
		}
	}
}
