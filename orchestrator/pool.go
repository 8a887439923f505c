package orchestrator

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// EnginePool is an EngineAsker that keeps the engines of tasks that ended
// cleanly for a moment, and hands them to the next ask with the same
// labels, startup parameters and lock timeout without asking the manager:
// a stream of short jobs of one consumer group then costs one ask and one
// release per engine, not per job, and the engine keeps the grant it
// already verified. An engine kept longer than its idle time, or close to
// the expiry of its lock, is released. Only engines the caller gave back
// with Keep are kept; Release always releases.
//
// Linkis's orchestrator keeps the engine executors of recent jobs in the
// same way; what differs is that here the manager stays the one authority:
// a kept engine is still held by its original ask, visible in the
// manager's books as Idle.
type EnginePool struct {
	asker EngineAsker
	idle  time.Duration
	now   func() time.Time

	mu     sync.Mutex
	free   map[string][]kept // by poolKey, most recently kept last
	keys   map[string]string // poolKey of every grant handed out, by ask id
	closed bool

	stop chan struct{}
	done chan struct{}
}

type kept struct {
	grant api.AskResult
	since time.Time
}

// expiryMargin: a kept engine whose lock expires sooner than this is
// released rather than handed out.
const expiryMargin = 5 * time.Second

// NewEnginePool wraps asker. idle is how long an engine is kept unused
// (it must be positive). Close releases every kept engine and stops the
// pool's sweeper.
func NewEnginePool(asker EngineAsker, idle time.Duration) *EnginePool {
	p := &EnginePool{asker: asker, idle: idle, now: time.Now, free: map[string][]kept{}, keys: map[string]string{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go p.sweep()
	return p
}

// poolKey is what two asks must share to share an engine.
func poolKey(r api.AskRequest) string {
	var b strings.Builder
	add := func(m map[string]string) {
		ks := make([]string, 0, len(m))
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		for _, k := range ks {
			b.WriteString(strconv.Quote(k))
			b.WriteByte('=')
			b.WriteString(strconv.Quote(m[k]))
			b.WriteByte(',')
		}
		b.WriteByte(';')
	}
	add(r.Labels)
	add(r.Params)
	b.WriteString(strconv.FormatInt(r.LockTimeoutMs, 10))
	return b.String()
}

// Ask hands out a kept engine for r's key, or asks the manager.
func (p *EnginePool) Ask(ctx context.Context, r api.AskRequest) (api.AskResult, error) {
	key := poolKey(r)
	var stale []string
	p.mu.Lock()
	list := p.free[key]
	for len(list) > 0 {
		k := list[len(list)-1]
		list = list[:len(list)-1]
		if k.grant.Expires > 0 && time.Unix(0, k.grant.Expires).Sub(p.now()) < expiryMargin {
			stale = append(stale, k.grant.AskID)
			continue
		}
		p.setFree(key, list)
		p.keys[k.grant.AskID] = key
		p.mu.Unlock()
		p.releaseAll(stale)
		g := k.grant
		g.Reused, g.Created = true, false
		return g, nil
	}
	p.setFree(key, list)
	p.mu.Unlock()
	p.releaseAll(stale)
	g, err := p.asker.Ask(ctx, r)
	if err == nil {
		p.mu.Lock()
		p.keys[g.AskID] = key
		p.mu.Unlock()
	}
	return g, err
}

func (p *EnginePool) setFree(key string, list []kept) {
	if len(list) == 0 {
		delete(p.free, key)
	} else {
		p.free[key] = list
	}
}

// Keep gives back an engine whose task ended cleanly: it is kept for the
// next ask with the same key. An ask the pool did not hand out, or a pool
// that is closed, releases it instead.
func (p *EnginePool) Keep(ctx context.Context, g api.AskResult) error {
	p.mu.Lock()
	key, ok := p.keys[g.AskID]
	if ok && !p.closed {
		delete(p.keys, g.AskID)
		p.free[key] = append(p.free[key], kept{grant: g, since: p.now()})
		p.mu.Unlock()
		return nil
	}
	delete(p.keys, g.AskID)
	p.mu.Unlock()
	return p.asker.Release(ctx, g.AskID)
}

// Release gives an engine back to the manager (or withdraws a waiting
// ask).
func (p *EnginePool) Release(ctx context.Context, askID string) error {
	p.mu.Lock()
	delete(p.keys, askID)
	p.mu.Unlock()
	return p.asker.Release(ctx, askID)
}

// Renew extends an ask's lock through the wrapped asker, when it can.
func (p *EnginePool) Renew(ctx context.Context, askID string) (api.AskResult, error) {
	r, ok := p.asker.(LockRenewer)
	if !ok {
		return api.AskResult{}, linkis.Errorf(linkis.ErrUnavailable, "asker", "the engine asker cannot renew locks")
	}
	return r.Renew(ctx, askID)
}

// Unreachable tells the manager through the wrapped asker, when it can.
func (p *EnginePool) Unreachable(ctx context.Context, ec, reason string) error {
	if r, ok := p.asker.(EngineReporter); ok {
		return r.Unreachable(ctx, ec, reason)
	}
	return nil
}

// Kept returns how many engines the pool holds unused.
func (p *EnginePool) Kept() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.free {
		n += len(l)
	}
	return n
}

// sweep releases engines kept longer than the idle time.
func (p *EnginePool) sweep() {
	defer close(p.done)
	t := time.NewTicker(max(p.idle/2, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		now := p.now()
		var old []string
		p.mu.Lock()
		for key, list := range p.free {
			i := 0
			for i < len(list) && now.Sub(list[i].since) >= p.idle {
				old = append(old, list[i].grant.AskID)
				i++
			}
			p.setFree(key, list[i:])
		}
		p.mu.Unlock()
		p.releaseAll(old)
	}
}

func (p *EnginePool) releaseAll(ids []string) {
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = p.asker.Release(ctx, id) // an ask already gone (expired) is fine
		cancel()
	}
}

// Close stops the sweeper and releases every kept engine. Engines handed
// out and given back later are released, not kept.
func (p *EnginePool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var all []string
	for _, list := range p.free {
		for _, k := range list {
			all = append(all, k.grant.AskID)
		}
	}
	clear(p.free)
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	p.releaseAll(all)
	return nil
}
