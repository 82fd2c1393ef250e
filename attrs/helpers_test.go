package attrs_test

import (
	"context"
	"testing"
	"time"

	"github.com/gleaner/gleaner/attrs"
)

// waitTimeout bounds every wait for something etcd should do promptly.
const waitTimeout = 10 * time.Second

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// runner is what Syncer, ClusterView and Registrar have in common.
type runner interface {
	Run(context.Context) error
	Close() error
}

// start runs r in a goroutine, closed (and waited for) in cleanup.
func start(t testing.TB, r runner) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	t.Cleanup(func() {
		r.Close()
		if err := <-done; err != nil {
			t.Errorf("Run after Close: %v", err)
		}
	})
}

func waitReady(t testing.TB, ready <-chan struct{}) {
	t.Helper()
	select {
	case <-ready:
	case <-time.After(waitTimeout):
		t.Fatal("not ready in time")
	}
}

// next returns the next change, failing the test if none comes in time.
func next(t testing.TB, ch <-chan attrs.Change) attrs.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("subscription closed")
		}
		return c
	case <-time.After(waitTimeout):
		t.Fatal("no change in time")
	}
	return attrs.Change{}
}

// eventually polls cond until it holds or the wait times out.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustParse(t testing.TB, s string) attrs.Attributes {
	t.Helper()
	a, err := attrs.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return a
}

func mustValue(t testing.TB, s string) attrs.Value {
	t.Helper()
	v, err := attrs.ParseValue(s)
	if err != nil {
		t.Fatalf("ParseValue(%q): %v", s, err)
	}
	return v
}
