package attrs

import "sync"

// broadcaster delivers every published item to every subscriber, in
// publication order, without ever blocking the publisher: each subscriber
// has an unbounded queue and one goroutine that feeds its channel. The
// goroutine stops when the subscriber cancels or the broadcaster closes.
//
// Written by hand because channels alone would either block the watch loop
// on a slow subscriber or drop changes, and dropping is not acceptable for
// "an attribute a task depends on was removed".
type broadcaster[T any] struct {
	mu     sync.Mutex
	subs   map[*subscriber[T]]struct{}
	closed bool
}

type subscriber[T any] struct {
	out   chan T
	wake  chan struct{} // capacity 1: "the queue is not empty"
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	queue []T
}

func newBroadcaster[T any]() *broadcaster[T] {
	return &broadcaster[T]{subs: make(map[*subscriber[T]]struct{})}
}

// subscribe returns the channel items arrive on and a function that stops
// the subscription and closes the channel. After close the channel is closed
// at once.
func (b *broadcaster[T]) subscribe() (<-chan T, func()) {
	s := &subscriber[T]{
		out:  make(chan T),
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		close(s.out)
		return s.out, func() {}
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go s.feed()
	return s.out, func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		s.cancel()
	}
}

// publish queues items for every subscriber.
func (b *broadcaster[T]) publish(items ...T) {
	if len(items) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		s.mu.Lock()
		s.queue = append(s.queue, items...)
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// close cancels every subscription and waits for their goroutines.
func (b *broadcaster[T]) close() {
	b.mu.Lock()
	subs := b.subs
	b.subs, b.closed = nil, true
	b.mu.Unlock()
	for s := range subs {
		s.cancel()
	}
}

func (s *subscriber[T]) cancel() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

func (s *subscriber[T]) feed() {
	defer close(s.done)
	defer close(s.out)
	for {
		select {
		case <-s.wake:
		case <-s.stop:
			return
		}
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, item := range batch {
			select {
			case s.out <- item:
			case <-s.stop:
				return
			}
		}
	}
}
