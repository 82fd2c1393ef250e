package attrs

import (
	"sync"
	"testing"
	"time"
)

func change(i int) Change { return Change{Revision: int64(i)} }

func TestBroadcasterNeverBlocksThePublisherAndKeepsOrder(t *testing.T) {
	b := newBroadcaster()
	sub := b.subscribe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			b.publish(change(i)) // nobody reads yet
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publish blocked on an unread subscriber")
	}
	for i := range 1000 {
		if got := <-sub.C(); got.Revision != int64(i) {
			t.Fatalf("change %d: got revision %d", i, got.Revision)
		}
	}
	sub.Close()
	if _, ok := <-sub.C(); ok {
		t.Fatal("channel open after Close")
	}
	if sub.Dropped() != 0 {
		t.Fatalf("Dropped = %d, want 0: changes queue without bound", sub.Dropped())
	}
}

func TestBroadcasterCloseEndsSubscriptions(t *testing.T) {
	b := newBroadcaster()
	sub := b.subscribe()
	b.publish(change(1), change(2), change(3)) // left unread
	b.close()
	for range sub.C() { // drains what was delivered, then sees it closed
	}
	sub.Close() // after close: harmless
	late := b.subscribe()
	if _, ok := <-late.C(); ok {
		t.Fatal("subscription after close is open")
	}
	late.Close() // does not wait for a goroutine that never ran
}

func TestSubscriptionCloseIsIdempotentFromAnyGoroutine(t *testing.T) {
	b := newBroadcaster()
	sub := b.subscribe()
	b.publish(change(1))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(sub.Close)
	}
	wg.Wait()
	if _, ok := <-sub.C(); ok {
		t.Fatal("channel open after Close")
	}
	b.publish(change(2)) // to nobody: the subscription is gone
	b.close()
}
