package attrs

import (
	"context"
	"sync"
)

// lifecycle gives a type the Run(ctx)/Close pair: Run may be called once;
// Close stops it and waits for it to return, and Run after Close fails.
type lifecycle struct {
	mu     sync.Mutex
	closed bool
	cancel context.CancelFunc
	done   chan struct{}
}

// begin starts a Run, returning the context it must stop on.
func (l *lifecycle) begin(ctx context.Context) (context.Context, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.done != nil {
		return nil, ErrClosed
	}
	ctx, l.cancel = context.WithCancel(ctx)
	l.done = make(chan struct{})
	return ctx, nil
}

// end finishes a Run. It returns parent's error if the caller's context
// stopped the Run, and nil if Close did.
func (l *lifecycle) end(parent context.Context) error {
	l.cancel()
	close(l.done)
	return parent.Err()
}

// close stops a running Run and waits for it. It reports whether this call
// was the first.
func (l *lifecycle) close() bool {
	l.mu.Lock()
	first := !l.closed
	l.closed = true
	cancel, done := l.cancel, l.done
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return first
}
