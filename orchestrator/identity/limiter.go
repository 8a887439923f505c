package identity

import (
	"sync"
	"time"
)

// limiter counts failed logins per key (a user name, an address) in a
// fixed window: once a key has failed max times in the window, further
// attempts are refused until the window that began with its first failure
// ends. It keeps at most maxKeys keys; past that, the oldest window is
// forgotten. It is safe for concurrent use.
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
}

func newLimiter(max int, w time.Duration, maxKeys int) *limiter {
	return &limiter{max: max, window: w, maxKeys: maxKeys, keys: map[string]*window{}}
}

// blocked reports whether key may not try now, and until when.
func (l *limiter) blocked(key string, now time.Time) (time.Time, bool) {
	if l == nil || l.max <= 0 {
		return time.Time{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.keys[key]
	if w == nil {
		return time.Time{}, false
	}
	end := w.start.Add(l.window)
	if !now.Before(end) {
		delete(l.keys, key)
		return time.Time{}, false
	}
	return end, w.failures >= l.max
}

// fail counts a failure of key.
func (l *limiter) fail(key string, now time.Time) {
	if l == nil || l.max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.keys[key]
	if w == nil || !now.Before(w.start.Add(l.window)) {
		if w == nil && len(l.keys) >= l.maxKeys {
			l.evict(now)
		}
		w = &window{start: now}
		l.keys[key] = w
	}
	w.failures++
}

// reset forgets key (a successful login clears its user's count).
func (l *limiter) reset(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}

// evict drops the ended windows, or if none has ended the oldest one.
func (l *limiter) evict(now time.Time) {
	var oldest string
	var at time.Time
	for k, w := range l.keys {
		if !now.Before(w.start.Add(l.window)) {
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
