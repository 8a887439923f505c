package console_test

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/orchestrator/identity"
	"github.com/golinkis/golinkis/orchestrator/restapi"
	"github.com/golinkis/golinkis/raftstore"
)

func loopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Every member of a cluster serves the console on its own address; a
// login made through one member works on the others (the session is in
// the replicated state), a form sent to a follower is carried out, and the
// cluster page says which member answers and who leads.
func TestConsoleOnEveryMember(t *testing.T) {
	token := "console-test-cluster-token-0123"
	var urls []string
	var first string
	dir := directory(t) // the same users file on every member: a session is bound to the password's hash
	for i := range 3 {
		m := &embedded.Member{ID: fmt.Sprintf("c%d", i+1), RaftAddr: loopbackAddr(t), HTTPAddr: loopbackAddr(t), Token: token,
			Bootstrap: i == 0, NoECM: true, Raft: func(c *raftstore.Config) {
				c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 300*time.Millisecond, 300*time.Millisecond, 150*time.Millisecond
			}}
		if i == 0 {
			first = "http://" + m.HTTPAddr
		} else {
			m.Join = []string{first}
		}
		sys, err := embedded.Start(embedded.Config{DataDir: t.TempDir(), Member: m, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sys.Close() })
		ic := identity.DefaultConfig()
		ic.Directory, ic.Store, ic.Logger = dir, sys.Store(), quiet
		auth, err := identity.New(ic)
		if err != nil {
			t.Fatal(err)
		}
		rc := restapi.DefaultConfig()
		rc.Auth, rc.Admins, rc.Logger = auth, []string{"ops"}, quiet
		if _, err := sys.Handler(rc); err != nil { // a member serves it on its own address
			t.Fatal(err)
		}
		urls = append(urls, "http://"+m.HTTPAddr)
	}
	v := newVisitor(t, urls[0])
	v.login("ops")
	u0, _ := url.Parse(urls[0])
	var session *http.Cookie
	for _, c := range v.c.Jar.Cookies(u0) {
		if c.Name == restapi.SessionCookie {
			session = c
		}
	}
	for i, base := range urls {
		w := newVisitor(t, base)
		u, _ := url.Parse(base)
		w.c.Jar.SetCookies(u, []*http.Cookie{{Name: restapi.SessionCookie, Value: session.Value, Path: "/"}})
		p := w.get("/cluster")
		p.has(t, `<span id="user">ops</span>`, fmt.Sprintf(`<dd id="member">c%d (`, i+1), `<dd id="leader">c1`)
		if i == 0 {
			p.has(t, "c1 (Leader)")
		} else {
			p.has(t, fmt.Sprintf("c%d (Follower)", i+1))
		}
		// A form through this member: the global variables (a command the
		// follower passes to the leader).
		w.get("/settings")
		p = w.post("/settings/variables", url.Values{"variables": {fmt.Sprintf("via=c%d", i+1)}})
		p.has(t, "Saved.", fmt.Sprintf("via=c%d", i+1))
	}
	// Logged out through a follower: the session ends on every member.
	w := newVisitor(t, urls[2])
	u2, _ := url.Parse(urls[2])
	w.c.Jar.SetCookies(u2, []*http.Cookie{{Name: restapi.SessionCookie, Value: session.Value, Path: "/"}})
	w.get("/jobs")
	w.post("/logout", nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p := v.get("/jobs"); strings.HasPrefix(p.url.Path, "/login") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the session still works on the leader after a logout through a follower")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
