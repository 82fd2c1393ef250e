package attrs

import (
	"testing"
	"time"
)

func TestBroadcasterNeverBlocksThePublisherAndKeepsOrder(t *testing.T) {
	b := newBroadcaster[int]()
	ch, cancel := b.subscribe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			b.publish(i) // nobody reads yet
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publish blocked on an unread subscriber")
	}
	for i := range 1000 {
		if got := <-ch; got != i {
			t.Fatalf("item %d: got %d", i, got)
		}
	}
	cancel()
	if _, ok := <-ch; ok {
		t.Fatal("channel open after cancel")
	}
}

func TestBroadcasterCloseEndsSubscriptions(t *testing.T) {
	b := newBroadcaster[int]()
	ch, cancel := b.subscribe()
	b.publish(1, 2, 3) // left unread
	b.close()
	for range ch { // drains what was delivered, then sees it closed
	}
	cancel() // after close: harmless
	late, _ := b.subscribe()
	if _, ok := <-late; ok {
		t.Fatal("subscription after close is open")
	}
}
