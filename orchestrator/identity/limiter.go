package identity

import (
	"sync"
	"time"
)

// limiter counts failed logins per key (a user name, an address) in a
// fixed window: once a key's failures in the window, with the attempts
// still being checked, reach max, further attempts are refused until the
// window that began with its first attempt ends. An attempt is reserved
// before its password is checked and released with the verdict, so that
// attempts made at once - each waiting for its hash - cannot all pass
// the limit before the first failure is counted. It keeps at most maxKeys
// keys; past that, the oldest window is forgotten. It is safe for
// concurrent use.
type limiter struct {
	max     int
	window  time.Duration
	maxKeys int

	mu   sync.Mutex
	keys map[string]*window
}

type window struct {
	start    time.Time
	failures int
	pending  int // attempts reserved and not yet released
}

func newLimiter(max int, w time.Duration, maxKeys int) *limiter {
	return &limiter{max: max, window: w, maxKeys: maxKeys, keys: map[string]*window{}}
}

// on reports whether the limiter limits key (the key "" is never
// limited).
func (l *limiter) on(key string) bool { return l != nil && l.max > 0 && key != "" }

// current returns key's window at now, starting a new one when its window
// ended (the attempts pending carry over) or it has none and create is
// set.
func (l *limiter) current(key string, now time.Time, create bool) *window {
	w := l.keys[key]
	if w != nil && !now.Before(w.start.Add(l.window)) {
		w.start, w.failures = now, 0
	}
	if w == nil && create {
		if len(l.keys) >= l.maxKeys {
			l.evict(now)
		}
		w = &window{start: now}
		l.keys[key] = w
	}
	return w
}

// reserve takes an attempt for key: false, and when the window ends, when
// its failures and pending attempts fill the window. A reserved attempt
// must be released.
func (l *limiter) reserve(key string, now time.Time) (time.Time, bool) {
	if !l.on(key) {
		return time.Time{}, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.current(key, now, true)
	if w.failures+w.pending >= l.max {
		return w.start.Add(l.window), false
	}
	w.pending++
	return time.Time{}, true
}

// blocked reports whether key may not try now, and until when: for
// attempts checked at once, without reserving one (a token's check
// takes microseconds, and a busy client's good requests must not count
// against its address while they are served).
func (l *limiter) blocked(key string, now time.Time) (time.Time, bool) {
	if !l.on(key) {
		return time.Time{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.current(key, now, false)
	if w == nil || w.failures+w.pending < l.max {
		return time.Time{}, false
	}
	return w.start.Add(l.window), true
}

// fail counts a failure of key that was not reserved.
func (l *limiter) fail(key string, now time.Time) {
	if !l.on(key) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.current(key, now, true).failures++
}

// release ends a reserved attempt of key, counting it as a failure when
// failed.
func (l *limiter) release(key string, now time.Time, failed bool) {
	if !l.on(key) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.current(key, now, failed)
	if w == nil {
		return // forgotten meanwhile, and the attempt did not fail
	}
	if w.pending > 0 {
		w.pending--
	}
	if failed {
		w.failures++
	}
	l.tidy(key, w)
}

// reset forgets key's failures (a successful login clears its user's
// count) - unless other attempts of key are pending: a success among
// guesses made at once is no sign that they are the user's typing.
func (l *limiter) reset(key string) {
	if !l.on(key) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.keys[key]; w != nil && w.pending == 0 {
		delete(l.keys, key)
	}
}

// tidy drops a window that holds nothing.
func (l *limiter) tidy(key string, w *window) {
	if w.failures == 0 && w.pending == 0 {
		delete(l.keys, key)
	}
}

// evict drops the ended windows without pending attempts, or if none has
// ended the oldest one.
func (l *limiter) evict(now time.Time) {
	var oldest string
	var at time.Time
	for k, w := range l.keys {
		if !now.Before(w.start.Add(l.window)) && w.pending == 0 {
			delete(l.keys, k)
			continue
		}
		if oldest == "" || w.start.Before(at) {
			oldest, at = k, w.start
		}
	}
	if len(l.keys) >= l.maxKeys && oldest != "" {
		delete(l.keys, oldest)
	}
}
