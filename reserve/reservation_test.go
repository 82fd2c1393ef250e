package reserve

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReservationPublishesChangesWithReasons(t *testing.T) {
	r, err := NewReservation(Headroom{}, Hysteresis{GrowAfter: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	sub := r.Subscribe()
	defer sub.Close()

	if _, changed, err := r.Observe(at(0, 2, 8)); err != nil || changed {
		t.Fatalf("first sample: changed %v, err %v; want no change before the grow delay", changed, err)
	}
	c, changed, err := r.Observe(at(5, 2, 8))
	if err != nil || !changed {
		t.Fatalf("after 5 minutes: changed %v, err %v; want a grow", changed, err)
	}
	got := <-sub.C()
	if got.To != c.To || got.To.CPUCores != 6 || got.To.MemoryBytes != 24*gib {
		t.Fatalf("published %v, want 6 cores and 24 GiB", got.To)
	}
	for _, want := range []string{"CPU grows 0.00 cores → 6.00 cores after staying higher for 5m", "memory grows 0 B → 24.0 GiB", "policy headroom"} {
		if !strings.Contains(got.Reason, want) {
			t.Errorf("reason %q lacks %q", got.Reason, want)
		}
	}

	c, _, _ = r.Observe(at(6, 7, 8))
	if c.To.CPUCores != 1 || !strings.Contains(c.Reason, "CPU shrinks 6.00 cores → 1.00 cores at once") ||
		!strings.Contains(c.Reason, "(business 7.00 cores of 8.00 cores, estimate 1.00 cores)") {
		t.Errorf("shrink: %v, reason %q", c.To, c.Reason)
	}
	if got := r.Current(); got != c.To {
		t.Errorf("Current = %v, want %v", got, c.To)
	}
}

func TestReservationRejectsBadSamples(t *testing.T) {
	r, err := NewReservation(Headroom{}, Hysteresis{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Observe(at(1, 2, 2)); err != nil {
		t.Fatal(err)
	}
	before := r.Current()
	for _, tc := range []struct {
		s    Sample
		want error
	}{
		{at(2, math.NaN(), 2), ErrInvalid},
		{at(2, -1, 2), ErrInvalid},
		{at(1, 2, 2), ErrOutOfOrder},
		{Sample{Time: t0.Add(time.Hour), Capacity: Resources{}}, ErrInvalid},
	} {
		if _, _, err := r.Observe(tc.s); !errors.Is(err, tc.want) {
			t.Errorf("Observe(%+v) = %v, want %v", tc.s.Business, err, tc.want)
		}
	}
	if got := r.Current(); got != before {
		t.Errorf("bad samples changed the reservation: %v, want %v", got, before)
	}
}

// TestSlowSubscriberDoesNotBlock publishes many changes to a subscriber
// that never reads: Observe must not block, and the subscriber then finds
// only the newest change, with the others counted as dropped.
func TestSlowSubscriberDoesNotBlock(t *testing.T) {
	var est float64
	r, err := NewReservation(fixed{&est}, Hysteresis{})
	if err != nil {
		t.Fatal(err)
	}
	slow := r.Subscribe()
	defer slow.Close()
	const n = 1000
	for i := range n {
		est = float64(1 + i%2) // alternate 1 and 2 cores: every sample changes
		if _, changed, err := r.Observe(at(i, 0, 0)); err != nil || !changed {
			t.Fatalf("sample %d: changed %v err %v", i, changed, err)
		}
	}
	got := <-slow.C()
	if want := float64(1 + (n-1)%2); got.To.CPUCores != want {
		t.Errorf("slow subscriber got %v cores, want the newest (%v)", got.To.CPUCores, want)
	}
	if d := slow.Dropped(); d != n-1 {
		t.Errorf("Dropped = %d, want %d", d, n-1)
	}
	select {
	case c := <-slow.C():
		t.Errorf("a second change %v waited in the mailbox", c)
	default:
	}
}

// TestCloseDeliversTheUnreadChange checks the documented end of a
// subscription: a Change published before Close is still received, then C
// reports closed, and later Changes are not delivered.
func TestCloseDeliversTheUnreadChange(t *testing.T) {
	est := 2.0
	r, err := NewReservation(fixed{&est}, Hysteresis{})
	if err != nil {
		t.Fatal(err)
	}
	sub := r.Subscribe()
	if _, changed, err := r.Observe(at(0, 0, 0)); err != nil || !changed {
		t.Fatalf("first sample: changed %v, err %v", changed, err)
	}
	sub.Close()
	est = 3
	if _, changed, err := r.Observe(at(1, 0, 0)); err != nil || !changed {
		t.Fatalf("second sample: changed %v, err %v", changed, err)
	}
	c, ok := <-sub.C()
	if !ok || c.To.CPUCores != 2 {
		t.Fatalf("after Close: %v, %v; want the unread change to 2 cores", c.To, ok)
	}
	if c, ok := <-sub.C(); ok {
		t.Fatalf("after the last delivery: %v, want C closed", c.To)
	}
	if d := sub.Dropped(); d != 0 {
		t.Errorf("Dropped = %d, want 0: nothing was replaced before Close", d)
	}
}

// TestConcurrentSubscribers runs readers while samples are observed (under
// -race) and checks every reader ends on the final value.
func TestConcurrentSubscribers(t *testing.T) {
	var est float64
	r, err := NewReservation(fixed{&est}, Hysteresis{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	last := make([]float64, 4)
	subs := make([]*Subscription, len(last))
	for i := range subs {
		subs[i] = r.Subscribe()
		wg.Go(func() {
			for c := range subs[i].C() {
				last[i] = c.To.CPUCores
			}
		})
	}
	for i := range 500 {
		est = float64(i%7) / 2
		if _, _, err := r.Observe(at(i, 0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	final := r.Current().CPUCores
	for _, s := range subs {
		s.Close()
		s.Close() // idempotent
	}
	wg.Wait()
	for i, v := range last {
		if v != final {
			t.Errorf("subscriber %d ended on %v, want %v", i, v, final)
		}
	}
	// A closed subscription no longer receives.
	est = 3.9
	if _, _, err := r.Observe(at(1000, 0, 0)); err != nil {
		t.Fatal(err)
	}
}

// A restarted agent restores what it lent: it keeps lending that at once
// instead of waiting GrowAfter from zero, yet still shrinks at once when the
// business needs more.
func TestRestoreStartsFromAnEarlierReservation(t *testing.T) {
	r, err := NewReservation(Headroom{}, Hysteresis{GrowAfter: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(Resources{CPUCores: 6, MemoryBytes: 24 * gib}); err != nil {
		t.Fatal(err)
	}
	if _, changed, err := r.Observe(at(0, 2, 8)); err != nil || changed {
		t.Fatalf("first sample after restore: changed %v, err %v; want the restored value kept", changed, err)
	}
	if got := r.Current(); got.CPUCores != 6 || got.MemoryBytes != 24*gib {
		t.Fatalf("current %v, want the restored 6 cores and 24 GiB", got)
	}
	c, changed, err := r.Observe(at(1, 5, 8))
	if err != nil || !changed || c.To.CPUCores != 3 {
		t.Fatalf("business rose to 5 cores: change %v (changed %v, err %v), want a shrink to 3 cores at once", c.To, changed, err)
	}

	bad, _ := NewReservation(Headroom{}, Hysteresis{})
	err = bad.Restore(Resources{CPUCores: math.NaN()})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "CPUCores") {
		t.Fatalf("Restore(NaN) = %v, want ErrInvalid naming CPUCores", err)
	}
}
