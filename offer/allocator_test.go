package offer

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable time source.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestAllocator(t *testing.T, agents map[string]string, frameworks ...Framework) (*Allocator, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	a := NewAllocator(WithClock(clock.now))
	for id, res := range agents {
		r := MustParseResources(res)
		if err := a.AddAgent(Agent{ID: id, Hostname: "host-" + id, Attributes: map[string]string{"rack": "r1"}, Total: r, Free: r}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range frameworks {
		if err := a.AddFramework(f); err != nil {
			t.Fatal(err)
		}
	}
	return a, clock
}

func offersTo(offers []Offer, framework string) []Offer {
	var out []Offer
	for _, o := range offers {
		if o.FrameworkID == framework {
			out = append(out, o)
		}
	}
	return out
}

// TestDRFWeightedFairness runs frameworks of weight 1 and 2 with unbounded
// demand for identical tasks: each cycle every framework launches one task
// per offer and declines the rest without a filter. Their dominant shares
// must end within one task of 1:2.
func TestDRFWeightedFairness(t *testing.T) {
	agents := map[string]string{}
	for i := range 10 {
		agents[fmt.Sprintf("a%02d", i)] = "cpus:8;mem:16384"
	}
	a, _ := newTestAllocator(t, agents, Framework{ID: "light", Weight: 1}, Framework{ID: "heavy", Weight: 2})
	task := MustParseResources("cpus:1;mem:1024") // dominant: 1/80 of cpus
	for cycle := 0; cycle < 1000; cycle++ {
		offers := a.Allocate()
		if len(offers) == 0 {
			break
		}
		for _, o := range offers {
			used := Resources{}
			if o.Resources.Contains(task) {
				used = task
			}
			if err := a.Accept(o.ID, used, WithRefuse(0)); err != nil {
				t.Fatal(err)
			}
		}
	}
	light, _ := a.Share("light")
	heavy, _ := a.Share("heavy")
	oneTask := 1.0 / 80
	t.Logf("dominant shares: light %.4f (%.1f tasks), heavy %.4f (%.1f tasks)", light, light*80, heavy, heavy*80)
	if light+heavy < 1-oneTask {
		t.Fatalf("cluster not saturated: shares %v + %v", light, heavy)
	}
	if diff := math.Abs(heavy - 2*light); diff > 2*oneTask+1e-9 {
		t.Fatalf("shares light %.4f heavy %.4f: |heavy - 2×light| = %.4f, want at most one light task doubled (%.4f)", light, heavy, diff, 2*oneTask)
	}
	// Each framework within one task of its share of a 1:2 split.
	for _, f := range []struct {
		name         string
		share, ideal float64
	}{{"light", light, (light + heavy) / 3}, {"heavy", heavy, 2 * (light + heavy) / 3}} {
		if math.Abs(f.share-f.ideal) > oneTask+1e-9 {
			t.Errorf("%s: share %.4f, want within one task (%.4f) of %.4f", f.name, f.share, oneTask, f.ideal)
		}
	}
}

func TestAllocateOffersLowestWeightedShareFirst(t *testing.T) {
	a, _ := newTestAllocator(t, map[string]string{"a1": "cpus:4;mem:4096", "a2": "cpus:4;mem:4096", "a3": "cpus:4;mem:4096"},
		Framework{ID: "f1"}, Framework{ID: "f2"})
	offers := a.Allocate()
	// Agents in ID order; f1 wins the tie on a1, then f2 has the lower
	// share for a2, then the tie again goes to f1.
	want := []string{"a1 f1", "a2 f2", "a3 f1"}
	if len(offers) != len(want) {
		t.Fatalf("got %d offers, want %d", len(offers), len(want))
	}
	for i, o := range offers {
		if got := o.AgentID + " " + o.FrameworkID; got != want[i] {
			t.Fatalf("offer %d: %s, want %s", i, got, want[i])
		}
		if o.Hostname != "host-"+o.AgentID || o.Attributes["rack"] != "r1" {
			t.Fatalf("offer %d lacks the agent's hostname and attributes: %+v", i, o)
		}
	}
	if again := a.Allocate(); len(again) != 0 {
		t.Fatalf("outstanding resources were offered twice: %v", again)
	}
}

func TestAllocateRoles(t *testing.T) {
	a, _ := newTestAllocator(t, map[string]string{"a1": "cpus:2;cpus(batch):4;mem(web):100"},
		Framework{ID: "any"}, Framework{ID: "batcher", Role: "batch"})
	got := map[string]string{}
	for _, o := range a.Allocate() {
		got[o.FrameworkID] = o.Resources.String()
	}
	// "any" (tie on ID) gets only the unreserved cpus; then "batcher"
	// gets the batch reservation; web's memory goes to nobody.
	want := map[string]string{"any": "cpus:2", "batcher": "cpus(batch):4"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("offers %v, want %v", got, want)
	}
	// Both were then passed over for the web memory, reserved for a role
	// neither has.
	for _, id := range []string{"any", "batcher"} {
		w, err := a.Withheld(id)
		if err != nil {
			t.Fatal(err)
		}
		if want := []Rejection{{Kind: ByRole, Offers: 1}}; !reflect.DeepEqual(w, want) {
			t.Fatalf("Withheld(%s) = %v, want %v", id, w, want)
		}
	}
}

func TestDeclineFilters(t *testing.T) {
	a, clock := newTestAllocator(t, map[string]string{"a1": "cpus:4;mem:4096"}, Framework{ID: "f1"}, Framework{ID: "f2"})
	o := a.Allocate()[0]
	if o.FrameworkID != "f1" {
		t.Fatalf("first offer to %s", o.FrameworkID)
	}
	if err := a.Decline(o.ID); err != nil {
		t.Fatal(err)
	}
	// f1 is filtered for the default 5 s, so the agent goes to f2.
	next := a.Allocate()
	if len(next) != 1 || next[0].FrameworkID != "f2" {
		t.Fatalf("after decline: %v, want one offer to f2", next)
	}
	if w, _ := a.Withheld("f1"); !reflect.DeepEqual(w, []Rejection{{Kind: ByFilter, Offers: 1}}) || w[0].String() != "filter: 1" {
		t.Fatalf("Withheld(f1) = %v, want the agent filtered once", w)
	}
	if w, _ := a.Withheld("f2"); len(w) != 0 {
		t.Fatalf("Withheld(f2) = %v, want nothing", w)
	}
	if err := a.Decline(next[0].ID, WithRefuse(time.Minute)); err != nil {
		t.Fatal(err)
	}
	clock.advance(DefaultRefuse - time.Millisecond)
	if got := a.Allocate(); len(got) != 0 {
		t.Fatalf("offered while both filters hold: %v", got)
	}
	clock.advance(time.Millisecond)
	got := a.Allocate()
	if len(got) != 1 || got[0].FrameworkID != "f1" || !got[0].Resources.Equal(o.Resources) {
		t.Fatalf("after f1's 5 s filter: %v, want the same resources to f1", got)
	}
}

func TestFilterOnlyCoversRefusedResources(t *testing.T) {
	a, _ := newTestAllocator(t, map[string]string{"a1": "cpus:4;mem:4096"}, Framework{ID: "f1"})
	o := a.Allocate()[0]
	if err := a.Accept(o.ID, MustParseResources("cpus:1;mem:1024")); err != nil {
		t.Fatal(err)
	}
	if got := a.Allocate(); len(got) != 0 {
		t.Fatalf("leftover re-offered inside the refuse time: %v", got)
	}
	// A task ends: the agent now has more than was refused, so the filter
	// no longer covers the offer.
	if err := a.Recover("f1", "a1", MustParseResources("cpus:1;mem:1024")); err != nil {
		t.Fatal(err)
	}
	got := a.Allocate()
	if len(got) != 1 || got[0].Resources.String() != "cpus:4;mem:4096" {
		t.Fatalf("after recover: %v, want the whole agent", got)
	}
}

func TestSuppressRevive(t *testing.T) {
	a, _ := newTestAllocator(t, map[string]string{"a1": "cpus:4"}, Framework{ID: "f1"})
	if err := a.Suppress("f1"); err != nil {
		t.Fatal(err)
	}
	if got := a.Allocate(); len(got) != 0 {
		t.Fatalf("suppressed framework got offers: %v", got)
	}
	if err := a.Revive("f1"); err != nil {
		t.Fatal(err)
	}
	o := a.Allocate()
	if len(o) != 1 {
		t.Fatalf("revived framework got %d offers, want 1", len(o))
	}
	if err := a.Decline(o[0].ID, WithRefuse(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := a.Allocate(); len(got) != 0 {
		t.Fatalf("filter ignored: %v", got)
	}
	if err := a.Revive("f1"); err != nil {
		t.Fatal(err)
	}
	if got := a.Allocate(); len(got) != 1 {
		t.Fatalf("revive did not clear filters: %v", got)
	}
}

func TestRescindWhenReservationShrinks(t *testing.T) {
	a, _ := newTestAllocator(t, map[string]string{"a1": "cpus:8;mem:8192"}, Framework{ID: "f1"})
	first := a.Allocate()[0]
	if err := a.Accept(first.ID, MustParseResources("cpus:2;mem:2048"), WithRefuse(0)); err != nil {
		t.Fatal(err)
	}
	second := a.Allocate()[0] // cpus:6;mem:6144 outstanding
	// Growing or shrinking within what is free keeps the offer.
	if rescinded, err := a.UpdateAgent("a1", MustParseResources("cpus:8.5;mem:8192")); err != nil || len(rescinded) != 0 {
		t.Fatalf("growing rescinded %v, %v", rescinded, err)
	}
	// The reservation drops below allocated + offered: the offer is taken back.
	rescinded, err := a.UpdateAgent("a1", MustParseResources("cpus:4;mem:8192"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rescinded) != 1 || rescinded[0].ID != second.ID {
		t.Fatalf("rescinded %v, want %s", rescinded, second.ID)
	}
	if err := a.Accept(second.ID, Resources{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("accepting a rescinded offer: %v, want ErrNotFound", err)
	}
	got := a.Allocate()
	if len(got) != 1 || got[0].Resources.String() != "cpus:2;mem:6144" {
		t.Fatalf("after shrink: %v, want cpus:2;mem:6144", got)
	}
	if o, err := a.Rescind(got[0].ID); err != nil || o.ID != got[0].ID {
		t.Fatalf("Rescind: %v, %v", o, err)
	}
	if got := a.Allocate(); len(got) != 1 {
		t.Fatalf("rescinded resources not offered again: %v", got)
	}
}

func TestRemoveAgentAndFramework(t *testing.T) {
	a, _ := newTestAllocator(t, map[string]string{"a1": "cpus:4", "a2": "cpus:4"}, Framework{ID: "f1"}, Framework{ID: "f2"})
	offers := a.Allocate()
	if err := a.Accept(offersTo(offers, "f1")[0].ID, MustParseResources("cpus:1")); err != nil {
		t.Fatal(err)
	}
	rescinded, err := a.RemoveAgent("a2")
	if err != nil || len(rescinded) != 1 || rescinded[0].AgentID != "a2" {
		t.Fatalf("RemoveAgent: %v, %v", rescinded, err)
	}
	if err := a.RemoveFramework("f1"); err != nil {
		t.Fatal(err)
	}
	got := a.Allocate()
	if len(got) != 1 || got[0].FrameworkID != "f2" || got[0].Resources.String() != "cpus:4" {
		t.Fatalf("after removals: %v, want a1's cpus:4 to f2", got)
	}
}

func TestAllocatorErrors(t *testing.T) {
	a, _ := newTestAllocator(t, map[string]string{"a1": "cpus:4"}, Framework{ID: "f1"})
	o := a.Allocate()[0]
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"duplicate agent", a.AddAgent(Agent{ID: "a1"}), ErrExists},
		{"agent without ID", a.AddAgent(Agent{}), ErrInvalid},
		{"free beyond total", a.AddAgent(Agent{ID: "x", Total: MustParseResources("cpus:1"), Free: MustParseResources("cpus:2")}), ErrInvalid},
		{"duplicate framework", a.AddFramework(Framework{ID: "f1"}), ErrExists},
		{"negative weight", a.AddFramework(Framework{ID: "f9", Weight: -1}), ErrInvalid},
		{"NaN weight", a.AddFramework(Framework{ID: "f9", Weight: math.NaN()}), ErrInvalid},
		{"bad role", a.AddFramework(Framework{ID: "f9", Role: "a b"}), ErrInvalid},
		{"accept more than offered", a.Accept(o.ID, MustParseResources("cpus:5")), ErrInvalid},
		{"unknown offer", a.Decline("o-999"), ErrNotFound},
		{"unknown framework", a.Suppress("nope"), ErrNotFound},
		{"withheld from an unknown framework", func() error { _, err := a.Withheld("nope"); return err }(), ErrNotFound},
		{"recover what is not held", a.Recover("f1", "a1", MustParseResources("cpus:1")), ErrInvalid},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: error %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if _, err := a.UpdateAgent("nope", Resources{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update unknown agent: %v", err)
	}
}

// TestAllocateMatchAccept runs the whole two-level loop: the allocator
// offers, the framework matches tasks onto the offers, accepts what it
// launched and declines the leftover. What the agents hold afterwards must
// be exactly what was launched.
func TestAllocateMatchAccept(t *testing.T) {
	agents := map[string]string{}
	for i := range 6 {
		agents[fmt.Sprintf("a%d", i)] = "cpus:4;mem:4096;ports:[31000-31009]"
	}
	a, _ := newTestAllocator(t, agents, Framework{ID: "fw"})
	var tasks []Task
	for i := range 20 {
		tasks = append(tasks, testTask(fmt.Sprintf("t%02d", i), "app", "cpus:1;mem:512", "hostname:MAX_PER:3"))
	}
	offers := a.Allocate()
	res := Match(offers, tasks, nil)
	if len(res.Launches) != 18 || len(res.Pending) != 2 {
		t.Fatalf("launched %d, pending %d; want 18 and 2", len(res.Launches), len(res.Pending))
	}
	used := map[string]Resources{}
	for _, l := range res.Launches {
		used[l.OfferID] = used[l.OfferID].Add(l.Resources)
	}
	for _, o := range offers {
		if err := a.Accept(o.ID, used[o.ID]); err != nil {
			t.Fatal(err)
		}
	}
	var launched, held Resources
	for _, l := range res.Launches {
		launched = launched.Add(l.Resources)
	}
	for _, s := range a.agents {
		held = held.Add(s.allocated)
	}
	if !held.Equal(launched) {
		t.Fatalf("agents hold %v, tasks launched %v", held, launched)
	}
	if got := a.Allocate(); len(got) != 0 {
		t.Fatalf("declined leftovers re-offered within the refuse time: %d offers", len(got))
	}
}

// TestAllocatorConcurrentUse drives one allocator from several goroutines,
// as a master's API handlers would; the race detector checks the locking
// and the invariants must still hold at the end.
func TestAllocatorConcurrentUse(t *testing.T) {
	agents := map[string]string{}
	for i := range 20 {
		agents[fmt.Sprintf("a%02d", i)] = "cpus:4;mem:4096"
	}
	a, _ := newTestAllocator(t, agents, Framework{ID: "f1"}, Framework{ID: "f2", Weight: 2}, Framework{ID: "f3"})
	task := MustParseResources("cpus:1;mem:256")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				for _, o := range a.Allocate() {
					var err error
					if (i+w)%2 == 0 && o.Resources.Contains(task) {
						err = a.Accept(o.ID, task, WithRefuse(0))
					} else {
						err = a.Decline(o.ID, WithRefuse(0))
					}
					// Another goroutine may not touch this offer: each
					// Allocate hands out distinct offers.
					if err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	checkAllocatorInvariants(t, a, -1)
	var held Resources
	for _, s := range a.agents {
		held = held.Add(s.allocated)
	}
	if held.IsEmpty() {
		t.Fatal("no task was ever accepted")
	}
}
