package attrs

import "sync"

// broadcaster delivers every published change to every subscription, in
// publication order, without ever blocking the publisher: each
// subscription has an unbounded queue and one goroutine that feeds its
// channel. The goroutine stops when the subscription is closed or the
// broadcaster closes.
//
// Written by hand because channels alone would either block the watch loop
// on a slow subscriber or drop changes, and dropping is not acceptable for
// "an attribute a task depends on was removed".
type broadcaster struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
}

// A Subscription receives every change of a Syncer or a ClusterView, in
// order, from Subscribe on. None is dropped: changes queue without bound
// until read, so a subscriber drains C or closes the subscription.
type Subscription struct {
	b     *broadcaster
	out   chan Change
	wake  chan struct{} // capacity 1: "the queue is not empty"
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	queue []Change
}

func newBroadcaster() *broadcaster {
	return &broadcaster{subs: make(map[*Subscription]struct{})}
}

// subscribe returns a new subscription; after close its channel is closed
// at once.
func (b *broadcaster) subscribe() *Subscription {
	s := &Subscription{
		b:    b,
		out:  make(chan Change),
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(s.out)
		close(s.done)
		return s
	}
	b.subs[s] = struct{}{}
	go s.feed()
	return s
}

// publish queues changes for every subscription.
func (b *broadcaster) publish(changes ...Change) {
	if len(changes) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		s.mu.Lock()
		s.queue = append(s.queue, changes...)
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// close ends every subscription and waits for their goroutines.
func (b *broadcaster) close() {
	b.mu.Lock()
	subs := b.subs
	b.subs, b.closed = nil, true
	b.mu.Unlock()
	for s := range subs {
		s.cancel()
	}
}

// C returns the channel changes arrive on. It is closed after the last
// delivery: when Close is called, or the Syncer or ClusterView is closed.
func (s *Subscription) C() <-chan Change { return s.out }

// Close ends the subscription and closes C; changes still queued are
// discarded. It is idempotent and safe from any goroutine.
func (s *Subscription) Close() {
	s.b.mu.Lock()
	delete(s.b.subs, s)
	s.b.mu.Unlock()
	s.cancel()
}

// Dropped returns how many changes this subscription missed: always 0,
// since changes queue without bound. It is here so that every Gleaner
// subscription has the same shape.
func (s *Subscription) Dropped() uint64 { return 0 }

func (s *Subscription) cancel() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

func (s *Subscription) feed() {
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
		for _, c := range batch {
			select {
			case s.out <- c:
			case <-s.stop:
				return
			}
		}
	}
}
