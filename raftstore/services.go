package raftstore

import (
	"context"
	"sync"
)

// services runs the functions registered with Store.Lead while the store
// leads: each in its own goroutine, with a context that ends when
// leadership ends, the store closes or the function is unregistered.
// Every function has returned before leadership is given up (stopTerm
// waits), so two members never run the same service for the same term.
type services struct {
	mu   sync.Mutex
	fns  map[int]func(context.Context)
	next int
	term context.Context // nil while not leading
	runs map[int]*serviceRun
}

type serviceRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// register adds fn and starts it if the store leads; stop removes it and
// waits for it to return.
func (s *services) register(fn func(context.Context)) (stop func()) {
	s.mu.Lock()
	if s.fns == nil {
		s.fns, s.runs = map[int]func(context.Context){}, map[int]*serviceRun{}
	}
	id := s.next
	s.next++
	s.fns[id] = fn
	if s.term != nil {
		s.startLocked(id, fn)
	}
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.fns, id)
			r := s.runs[id]
			delete(s.runs, id)
			s.mu.Unlock()
			if r != nil {
				r.cancel()
				<-r.done
			}
		})
	}
}

func (s *services) startLocked(id int, fn func(context.Context)) {
	ctx, cancel := context.WithCancel(s.term)
	r := &serviceRun{cancel: cancel, done: make(chan struct{})}
	s.runs[id] = r
	go func() {
		defer close(r.done)
		fn(ctx)
	}()
}

// startTerm starts every registered function; ctx ends with the term.
func (s *services) startTerm(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fns == nil {
		s.fns, s.runs = map[int]func(context.Context){}, map[int]*serviceRun{}
	}
	s.term = ctx
	for id, fn := range s.fns {
		s.startLocked(id, fn)
	}
}

// stopTerm stops every running function and waits for them.
func (s *services) stopTerm() {
	s.mu.Lock()
	runs := s.runs
	s.runs, s.term = map[int]*serviceRun{}, nil
	s.mu.Unlock()
	for _, r := range runs {
		r.cancel()
	}
	for _, r := range runs {
		<-r.done
	}
}
