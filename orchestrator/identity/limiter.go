package identity

import (
	"context"
	"errors"
	"sync"
	"time"
)

// limiter counts failed logins per key (a user name, an address) in a
// fixed window: once a key's failures in the window reach max, further
// attempts are refused until the window that began with its first
// attempt ends.
//
// An attempt is reserved before its password is checked and released
// with the verdict, so that attempts made at once - each waiting for its
// hash - cannot all pass the limit before the first failure is counted:
// at most max - failures attempts of a key are checked at once, the
// most that could still fail within the limit. A further attempt is not
// refused for that (the attempts being checked may all be right - a
// scheduler logging its users in at once): it waits, at most maxWait and
// while its caller still wants it, for one of them to end, and is
// refused as too many failures only once that many have failed.
//
// It keeps at most maxKeys keys; past that, the oldest window is
// forgotten. It is safe for concurrent use.
type limiter struct {
	max     int
	window  time.Duration
	maxKeys int
	maxWait time.Duration

	mu   sync.Mutex
	keys map[string]*window
}

type window struct {
	start    time.Time
	failures int
	pending  int           // attempts reserved and not yet released
	waiting  int           // attempts waiting for a pending one to end
	ended    chan struct{} // closed when an attempt ends or the window is dropped (nil: nobody waits)
}

// errTooManyFailures refuses an attempt of a key whose failures fill its
// window; errTooManyAtOnce one that waited too long for the attempts
// being checked (or whose caller gave up).
var (
	errTooManyFailures = errors.New("too many failures")
	errTooManyAtOnce   = errors.New("too many attempts at once")
)

func newLimiter(max int, w time.Duration, maxKeys int) *limiter {
	return &limiter{max: max, window: w, maxKeys: maxKeys, maxWait: 10 * time.Second, keys: map[string]*window{}}
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

// wake tells the attempts waiting on w that an attempt ended.
func (w *window) wake() {
	if w.ended != nil {
		close(w.ended)
		w.ended = nil
	}
}

// drop forgets key's window, waking its waiting attempts (they look
// again).
func (l *limiter) drop(key string, w *window) {
	w.wake()
	delete(l.keys, key)
}

// reserve takes an attempt for key at clock's time. It fails with
// errTooManyFailures, and when the window ends, when the window's
// failures reach the limit; while the attempts being checked could, all
// failing, reach it, it waits for one of them to end - and fails with
// errTooManyAtOnce when maxWait passes or ctx ends first. A reserved
// attempt must be released.
func (l *limiter) reserve(ctx context.Context, key string, clock func() time.Time) (time.Time, error) {
	if !l.on(key) {
		return time.Time{}, nil
	}
	var timeout <-chan time.Time
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		w := l.current(key, clock(), true)
		switch {
		case w.failures >= l.max:
			return w.start.Add(l.window), errTooManyFailures
		case w.failures+w.pending < l.max:
			w.pending++
			return time.Time{}, nil
		}
		if timeout == nil {
			t := time.NewTimer(l.maxWait)
			defer t.Stop()
			timeout = t.C
		}
		if w.ended == nil {
			w.ended = make(chan struct{})
		}
		ended := w.ended
		w.waiting++
		l.mu.Unlock()
		gaveUp := false
		select {
		case <-ended:
		case <-timeout:
			gaveUp = true
		case <-ctx.Done():
			gaveUp = true
		}
		l.mu.Lock()
		w.waiting--
		if gaveUp {
			return time.Time{}, errTooManyAtOnce
		}
	}
}

// blocked reports whether key may not try now, and until when: for
// attempts checked at once, without reserving one (a token's check
// takes microseconds, and a busy client's good requests must not count
// against its address while they are served). Only failures block:
// attempts still being checked are no failures.
func (l *limiter) blocked(key string, now time.Time) (time.Time, bool) {
	if !l.on(key) {
		return time.Time{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.current(key, now, false)
	if w == nil || w.failures < l.max {
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
	w := l.current(key, now, true)
	w.failures++
	w.wake()
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
	w.wake()
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
		l.drop(key, w)
	}
}

// tidy drops a window that holds nothing.
func (l *limiter) tidy(key string, w *window) {
	if w.failures == 0 && w.pending == 0 {
		l.drop(key, w)
	}
}

// evict drops the ended windows without pending attempts, or if none has
// ended the oldest one.
func (l *limiter) evict(now time.Time) {
	var oldest string
	var at time.Time
	for k, w := range l.keys {
		if !now.Before(w.start.Add(l.window)) && w.pending == 0 {
			l.drop(k, w)
			continue
		}
		if oldest == "" || w.start.Before(at) {
			oldest, at = k, w.start
		}
	}
	if len(l.keys) >= l.maxKeys && oldest != "" {
		l.drop(oldest, l.keys[oldest])
	}
}
