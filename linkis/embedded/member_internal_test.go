package embedded

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// A member that is starting answers the REST API with a Linkis envelope
// whose kind says nothing was done (not "unavailable", which would leave a
// submission's fate open), and the manager's API at once.
func TestStartingMemberAnswersRESTWithAnEnvelope(t *testing.T) {
	mgr := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	srv := httptest.NewServer(&memberAPI{mgr: mgr})
	defer srv.Close()
	c, err := restapi.NewClient(srv.URL, "alice", "code", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Submit(t.Context(), orchestrator.JobRequest{})
	var remote *restapi.RemoteError
	if !errors.Is(err, linkis.ErrNotLeader) || errors.Is(err, linkis.ErrUnavailable) || errors.As(err, &remote) {
		t.Fatalf("a submission to a starting member: %v; want ErrNotLeader in an envelope", err)
	}
	resp, err := http.Get(srv.URL + "/v1/status")
	if err != nil || resp.StatusCode != http.StatusTeapot {
		t.Fatalf("the manager's API while starting: %v %v", resp, err)
	}
	resp.Body.Close()
}
