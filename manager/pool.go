package manager

import (
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/golinkis/golinkis/linkis"
)

// Warm pools: a combined label may keep a minimum of started, idle engines
// ready ahead of demand, trading idle capacity for the cold-start wait
// (Kyuubi's engine pool, kyuubi.engine.pool.size; Linkis has none; the
// setting is a wds.linkis.engineconn.min.idle in Linkis's style). The
// rules:
//
//   - SetWarmPool sets the minimum (MinIdle) of one key; it is refused
//     above the key's instance cap, or when MinIdle engines of the key's
//     size would exceed its quota.
//   - The pool is kept inside Apply: SetWarmPool and every Tick (after the
//     starved keys were served, so waiting asks come first) start engines
//     for the key while its idle engines plus those starting for nobody in
//     particular are fewer than MinIdle. They are shared engines created
//     exactly as for waiting asks - the same quota check, ECM choice and
//     reservation, launched through the same EffectLaunch - so a pool never
//     takes the key above its instance cap or quota, nor an ECM above its
//     max. A quota lowered below a pool afterwards caps the pool.
//   - A pool never makes room: when no ECM has room for its engine, it
//     waits for the next tick and never stops another key's engines.
//   - Idle reclamation (IdleTimeout) spares the key's idle engines while
//     it has no more than MinIdle of them.
//   - Its idle engines are like any other idle engine to idle reclaim
//     (reclaim.go): an ask of another key that fits nowhere may stop them,
//     and the pool refills on a later tick if room remains.

// warmPool is one key's pool.
type warmPool struct {
	key string
	min int
	req linkis.EngineRequest // the labels its engines carry
}

// PoolInfo is a read-only view of a warm pool.
type PoolInfo struct {
	Key      string
	MinIdle  int
	Idle     int // started engines of the key that no ask holds
	Starting int // shared engines of the key starting for no ask in particular
}

// setWarmPool sets, changes or removes a key's pool, and fills it.
func (s *State) setWarmPool(t int64, c SetWarmPool) (Result, error) {
	p, err := s.checkWarmPool(c)
	if err != nil {
		return Result{}, err
	}
	var r Result
	if p == nil {
		delete(s.pools, c.Key)
		return r, nil
	}
	s.pools[c.Key] = p
	s.fillPool(t, p)
	return r, nil
}

// checkWarmPool validates a SetWarmPool and returns the pool it sets (nil
// when it removes one).
func (s *State) checkWarmPool(c SetWarmPool) (*warmPool, error) {
	if err := validateKey(c.Key); err != nil {
		return nil, err
	}
	req, err := poolRequest(c.Key)
	if err != nil {
		return nil, err
	}
	if req.Key() != c.Key {
		return nil, linkis.ValueError(linkis.ErrInvalidLabel, "key", c.Key, "not in canonical form; want "+req.Key())
	}
	res, err := s.poolResource(&req)
	if err != nil {
		return nil, err
	}
	if c.MinIdle < 0 {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "minIdle", "must not be negative, got %d", c.MinIdle)
	}
	if c.MinIdle == 0 {
		return nil, nil
	}
	max := s.keyMax(c.Key)
	if int64(c.MinIdle) > max.Instances {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "minIdle", "%d is above the instance cap %d of %s", c.MinIdle, max.Instances, c.Key)
	}
	if need, ok := scaleResource(res, int64(c.MinIdle)); !ok || !need.FitsInQuota(max, max) {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "minIdle", "%d engines of %v exceed the quota %v of %s", c.MinIdle, res, max, c.Key)
	}
	return &warmPool{key: c.Key, min: c.MinIdle, req: req}, nil
}

// poolRequest builds the labels of a key's engines from the key.
func poolRequest(key string) (linkis.EngineRequest, error) {
	parts := strings.Split(key, ",")
	if len(parts) < 2 || len(parts) > 3 {
		return linkis.EngineRequest{}, linkis.ValueError(linkis.ErrInvalidLabel, "key", key, "must be user-creator,type-version[,tenant]")
	}
	kv := []string{linkis.LabelUserCreator, parts[0], linkis.LabelEngineType, parts[1]}
	if len(parts) == 3 {
		kv = append(kv, linkis.LabelTenant, parts[2])
	}
	ls, err := linkis.NewLabels(kv...)
	if err != nil {
		return linkis.EngineRequest{}, err
	}
	return linkis.ParseEngineRequest(ls)
}

// poolResource is what one engine of the pool needs: the plugin's resource
// under the engine type's configured parameters.
func (s *State) poolResource(req *linkis.EngineRequest) (linkis.Resource, error) {
	pl, err := s.plugins.Lookup(req.EngineType)
	if err != nil {
		return linkis.Resource{}, err
	}
	res, err := pl.Resources.Resource(s.mergedParams(req.EngineType, nil))
	if err != nil {
		return linkis.Resource{}, err
	}
	if res.Instances < 1 {
		res.Instances = 1
	}
	return res, res.Validate()
}

// scaleResource returns n×r (r valid, n ≥ 0), or false when it overflows.
func scaleResource(r linkis.Resource, n int64) (linkis.Resource, bool) {
	ok := true
	mul := func(a int64) int64 {
		if a != 0 && n > math.MaxInt64/a {
			ok = false
			return 0
		}
		return a * n
	}
	out := linkis.Resource{Memory: mul(r.Memory), MilliCores: mul(r.MilliCores), Instances: mul(r.Instances)}
	for _, q := range r.Extra {
		out.Extra = append(out.Extra, linkis.Quantity{Name: q.Name, Value: mul(q.Value)})
	}
	return out, ok
}

// poolCounts returns a key's idle started engines and the shared engines
// starting for no waiting ask: what its pool already has.
func poolCounts(k *keyState) (idle, starting int) {
	if k == nil {
		return 0, 0
	}
	for e := k.free.head; e != nil; e = e.freeNext {
		if e.bound == 0 {
			idle++
		}
	}
	if k.sharedStarting > 0 {
		for _, e := range k.ecs {
			if e.status == linkis.StatusStarting && e.shared && e.creator == nil && !e.killReq {
				starting++
			}
		}
	}
	return idle, starting
}

// fillPool starts engines for a pool until it has its minimum, or until
// one cannot be placed (quota, cap or no room: the next tick tries again).
func (s *State) fillPool(t int64, p *warmPool) {
	k := s.keys[p.key]
	idle, starting := poolCounts(k)
	for have := idle + starting; have < p.min; have++ {
		a, err := s.poolAsk(p, k)
		if err != nil {
			return
		}
		e, err := s.createEC(t, a, true)
		if err != nil {
			return
		}
		k = e.key
	}
}

// poolAsk is the request a pool's engine is created under. It is never
// filed as an ask: only createEC reads it.
func (s *State) poolAsk(p *warmPool, k *keyState) (*ask, error) {
	res, err := s.poolResource(&p.req)
	if err != nil {
		return nil, err
	}
	pl, err := s.plugins.Lookup(p.req.EngineType)
	if err != nil {
		return nil, err
	}
	// The nonce only spreads engines over the best ECMs; the next ticket
	// makes it differ from one creation to the next.
	nonce := mix64(uint64(s.nextEC) ^ 0x706f6f6c)
	return &ask{req: p.req, key: k, res: res, params: s.mergedParams(p.req.EngineType, nil),
		capacity: int32(pl.Concurrency), nonce: nonce}, nil
}

// fillPools keeps every pool, in key order.
func (s *State) fillPools(t int64) {
	if len(s.pools) == 0 {
		return
	}
	for _, key := range slices.Sorted(maps.Keys(s.pools)) {
		s.fillPool(t, s.pools[key])
	}
}

// sparedByPool reports whether an idle engine must stay because its key's
// pool needs it.
func (s *State) sparedByPool(e *ec) bool {
	p := s.pools[e.key.key]
	if p == nil {
		return false
	}
	idle, _ := poolCounts(e.key)
	return idle <= p.min
}

// WarmPools returns every warm pool, ordered by key.
func (s *State) WarmPools() []PoolInfo {
	out := make([]PoolInfo, 0, len(s.pools))
	for _, key := range slices.Sorted(maps.Keys(s.pools)) {
		idle, starting := poolCounts(s.keys[key])
		out = append(out, PoolInfo{Key: key, MinIdle: s.pools[key].min, Idle: idle, Starting: starting})
	}
	return out
}

// encodePools writes the pools by key: a count, then key and minimum.
func encodePools(e *enc, pools map[string]*warmPool) {
	e.u(uint64(len(pools)))
	for _, key := range slices.Sorted(maps.Keys(pools)) {
		e.str(key)
		e.i(int64(pools[key].min))
	}
}

// pools reads what encodePools wrote. A pool is checked as SetWarmPool
// checks it, except against the key's quota, which may have been lowered
// below it since (the quota then caps the pool).
func (r *restorer) pools() {
	s, d := r.s, r.d
	prev := ""
	for n := d.count("pools", 1<<24, 2); n > 0 && r.ok(); n-- {
		key, min := d.str("pool.key", 512), d.i()
		if !r.ok() {
			return
		}
		req, err := poolRequest(key)
		switch {
		case validateKey(key) != nil || err != nil || req.Key() != key:
			r.bad("pool %q: invalid key", key)
		case key <= prev:
			r.bad("pool %q: keys out of order or duplicated", key)
		case min < 1 || min > 1<<30:
			r.bad("pool %q: minimum %d", key, min)
		}
		if !r.ok() {
			return
		}
		if _, err := s.plugins.Lookup(req.EngineType); err != nil {
			r.bad("pool %q: %v", key, err)
			return
		}
		s.pools[key] = &warmPool{key: key, min: int(min), req: req}
		prev = key
	}
}
