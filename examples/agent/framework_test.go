//go:build linux

package main

import (
	"context"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
)

// testFramework is a minimal framework on the real master's scheduler API.
type testFramework struct {
	t      *testing.T
	sched  *api.SchedulerClient
	events chan api.Event
	id     string
}

func subscribe(t *testing.T, c *cluster) *testFramework {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f := &testFramework{t: t, sched: api.NewSchedulerClient([]string{c.master.URL()},
		api.WithHTTPClient(authtest.Client(t, authtest.Principal(t, "framework/test"), auth.KindMaster))), events: make(chan api.Event, 64)}
	stream, err := f.sched.Subscribe(ctx, api.Subscribe{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stream.Close() })
	go func() {
		defer close(f.events)
		for {
			ev, err := stream.Next()
			if err != nil {
				return
			}
			f.events <- ev
		}
	}()
	return f
}

// next returns the first event that matches, within 30 s.
func (f *testFramework) next(what string, match func(api.Event) bool) api.Event {
	f.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-f.events:
			if !ok {
				f.t.Fatalf("event stream ended waiting for %s", what)
			}
			if ev.Type == api.EventSubscribed {
				f.id = ev.Subscribed.FrameworkID
			}
			if match(ev) {
				return ev
			}
		case <-timeout:
			f.t.Fatalf("no %s within 30 s", what)
		}
	}
}

// launch waits for an offer that suits and launches task on it, then waits
// for the task to run.
func (f *testFramework) launch(what string, suits func(api.Offer) bool, task api.TaskInfo) {
	f.t.Helper()
	var offer api.Offer
	f.next(what, func(ev api.Event) bool {
		for _, o := range ev.Offers {
			if suits(o) {
				offer = o
				return true
			}
		}
		return false
	})
	task.OfferID = offer.ID
	err := f.sched.Accept(context.Background(), api.Accept{FrameworkID: f.id, OfferIDs: []string{offer.ID}, Tasks: []api.TaskInfo{task}})
	if err != nil {
		f.t.Fatal(err)
	}
	f.next(task.TaskID+" RUNNING", func(ev api.Event) bool {
		return ev.Type == api.EventUpdate && ev.Status.TaskID == task.TaskID && ev.Status.State == api.TaskRunning
	})
}

// ended waits for task id's terminal status.
func (f *testFramework) ended(id string) api.TaskStatus {
	f.t.Helper()
	ev := f.next(id+" ending", func(ev api.Event) bool {
		return ev.Type == api.EventUpdate && ev.Status.TaskID == id && ev.Status.State.Terminal()
	})
	return *ev.Status
}
