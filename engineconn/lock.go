package engineconn

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// Manager is what an EngineConn needs of the manager API; *api.Client
// implements it.
type Manager interface {
	ECStarted(ctx context.Context, r api.ECStartedRequest) error
	ECHeartbeat(ctx context.Context, r api.ECHeartbeatRequest) error
	ECUnlock(ctx context.Context, r api.ECUnlockRequest) error
	GetAsk(ctx context.Context, id string, wait time.Duration) (api.AskResult, error)
}

var _ Manager = (*api.Client)(nil)

// grant is a lock the manager handed a caller, as this engine verified it.
type grant struct {
	askID    string
	token    string
	expires  time.Time // zero: no expiry known
	verified time.Time // when the manager last confirmed it
}

// locks holds the grants an engine serves. A grant is learnt from the
// caller (a task or a lock call carrying askId+token) and verified with the
// manager (GET /v1/asks/{id}: Granted, to this engine, with this token)
// before it is trusted, and again on its first use after ttl, so that a
// grant released through the manager stops working within ttl; a serial
// engine serves one grant, so a newly verified grant replaces the others.
type locks struct {
	ec     string
	serial bool
	mgr    Manager
	now    func() time.Time
	ttl    time.Duration // see Config.GrantTTL

	mu     sync.Mutex
	grants map[string]grant // by ask id
}

// check returns nil when askID/token is a grant this engine serves,
// asking the manager when it does not know it (or its expiry passed).
// It reports whether the set of grants changed.
func (l *locks) check(ctx context.Context, askID, token string) (bool, error) {
	l.mu.Lock()
	g, ok := l.grants[askID]
	l.mu.Unlock()
	now := l.now()
	if ok && g.token == token && (g.expires.IsZero() || now.Before(g.expires)) && now.Sub(g.verified) < l.ttl {
		return false, nil
	}
	v, err := l.verify(ctx, askID, token)
	if err != nil {
		return false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.serial {
		clear(l.grants)
	}
	l.grants[askID] = v
	return !ok, nil
}

// verifyTry bounds one question to the manager within verify's 10 s.
const verifyTry = 3 * time.Second

// verify asks the manager whether askID holds this engine with token. A
// read, so it is asked again while the answer may come later: a member
// cut off from the network costs one try (the client asks another member
// next), an election a few.
func (l *locks) verify(ctx context.Context, askID, token string) (grant, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var res api.AskResult
	var err error
	for {
		tctx, tcancel := context.WithTimeout(ctx, verifyTry)
		res, err = l.mgr.GetAsk(tctx, askID, 0)
		tcancel()
		if err == nil || !linkis.IsRetryable(err) && !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	switch {
	case errors.Is(err, linkis.ErrUnknownAsk):
		return grant{}, linkis.ValueError(linkis.ErrLockMismatch, "askId", askID, "the manager holds no such ask (released, expired or never made)")
	case err != nil:
		return grant{}, linkis.Errorf(linkis.ErrUnavailable, "lock", "cannot verify the lock with the manager: %v", err)
	case res.Status != "Granted" || res.EC != l.ec:
		return grant{}, linkis.ValueError(linkis.ErrLockMismatch, "askId", askID, "the ask does not hold "+l.ec+" (it is "+res.Status+", engine "+res.EC+")")
	case res.Token != token:
		return grant{}, linkis.ValueError(linkis.ErrLockMismatch, "token", token, "not the lock the manager granted to this ask")
	}
	g := grant{askID: askID, token: token, verified: l.now()}
	if res.Expires > 0 {
		g.expires = time.Unix(0, res.Expires)
	}
	return g, nil
}

// drop forgets a grant the caller ends; it must match.
func (l *locks) drop(askID, token string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	g, ok := l.grants[askID]
	if !ok || g.token != token {
		return linkis.ValueError(linkis.ErrLockMismatch, "askId", askID, "this engine serves no such grant")
	}
	delete(l.grants, askID)
	return nil
}

// expired returns the grants whose expiry passed.
func (l *locks) expired(now time.Time) []grant {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []grant
	for _, g := range l.grants {
		if !g.expires.IsZero() && !now.Before(g.expires) {
			out = append(out, g)
		}
	}
	return out
}

// refresh re-checks an expired grant with the manager: it stays (with its
// new expiry) if the manager renewed it, else it goes. It reports whether
// the grant went.
func (l *locks) refresh(ctx context.Context, g grant) bool {
	v, err := l.verify(ctx, g.askID, g.token)
	if errors.Is(err, linkis.ErrUnavailable) {
		return false // cannot tell now; try again later
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.grants[g.askID]
	if !ok || cur.token != g.token {
		return false
	}
	if err == nil && (v.expires.IsZero() || l.now().Before(v.expires)) {
		l.grants[g.askID] = v
		return false
	}
	delete(l.grants, g.askID)
	return true
}

func (l *locks) all() []grant {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]grant, 0, len(l.grants))
	for _, g := range l.grants {
		out = append(out, g)
	}
	return out
}

func (l *locks) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.grants)
}

func (l *locks) get(askID string) (grant, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	g, ok := l.grants[askID]
	return g, ok
}

// readMaterial reads a file the ECM placed in the work directory, refusing
// paths that leave it.
func readMaterial(workDir, name string) (string, error) {
	if name == "" || filepath.IsAbs(name) || !filepath.IsLocal(name) || strings.Contains(name, "\x00") {
		return "", linkis.ValueError(linkis.ErrInvalidArgument, ParamOnceCodeFile, name, "must be a relative path inside the work directory")
	}
	b, err := os.ReadFile(filepath.Join(workDir, name))
	if err != nil {
		return "", linkis.Errorf(linkis.ErrInvalidArgument, ParamOnceCodeFile, "%v", err)
	}
	return string(b), nil
}
