package reserve

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Hysteresis damps what a policy says before it becomes the reservation, in
// the manner of Borg's reclamation and Koordinator's CPU suppression:
//
//   - a lower estimate takes effect at once (the business needs it back);
//   - a higher estimate takes effect only after every estimate for GrowAfter
//     has been higher, then rises to the lowest of those estimates, by at
//     most MaxGrowPercent of capacity; each further step waits GrowAfter
//     again (with GrowAfter 0, one step per sample);
//   - changes smaller than MinChangePercent of capacity are not made, in
//     either direction, unless the reservation exceeds what is idle right
//     now (capacity minus current business usage), which always shrinks it;
//   - with Refresh set, a change smaller than MinChangePercent is made
//     anyway once Refresh has passed since the resource last changed
//     (Koordinator updates on a >10% change or every 300 s);
//   - the result lies in [Floor, Ceiling] as far as the business leaves
//     that much idle, and always in [0, capacity - current business usage].
//
// The zero Hysteresis passes the policy's estimate through, clamped.
type Hysteresis struct {
	GrowAfter        time.Duration
	MaxGrowPercent   float64       // percent of capacity per step; 0 = no bound
	MinChangePercent float64       // percent of capacity; 0 = every change
	Refresh          time.Duration // make a small change after this long; 0 = never
	Floor            Resources     // lend at least this much while it is idle
	Ceiling          Resources     // lend at most this much; zero = capacity
}

// KoordinatorHysteresis returns the damping Koordinator applies to its
// batch resources: no change below 10% of the node unless 300 s have passed,
// growth by at most 10% of the node per round, shrinking at once.
func KoordinatorHysteresis() Hysteresis {
	return Hysteresis{MaxGrowPercent: 10, MinChangePercent: 10, Refresh: 300 * time.Second}
}

// Validate reports a negative duration, a percentage outside [0, 100], or a
// bad floor or ceiling.
func (h Hysteresis) Validate() error {
	if h.GrowAfter < 0 {
		return &FieldError{Field: "Hysteresis.GrowAfter", Value: h.GrowAfter.Seconds(), Why: "is negative (seconds)"}
	}
	if h.Refresh < 0 {
		return &FieldError{Field: "Hysteresis.Refresh", Value: h.Refresh.Seconds(), Why: "is negative (seconds)"}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"MaxGrowPercent", h.MaxGrowPercent}, {"MinChangePercent", h.MinChangePercent}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > 100 {
			return &FieldError{Field: "Hysteresis." + f.name, Value: f.v, Why: "is not a percentage in [0, 100]"}
		}
	}
	if err := checkAmounts("Hysteresis.Floor", h.Floor); err != nil {
		return err
	}
	return checkAmounts("Hysteresis.Ceiling", h.Ceiling)
}

func (h Hysteresis) String() string {
	var parts []string
	if h.GrowAfter > 0 {
		parts = append(parts, "grow after "+shortDuration(h.GrowAfter))
	}
	if h.MaxGrowPercent > 0 {
		parts = append(parts, fmt.Sprintf("step ≤%g%%", h.MaxGrowPercent))
	}
	if h.MinChangePercent > 0 {
		parts = append(parts, fmt.Sprintf("change ≥%g%%", h.MinChangePercent))
	}
	if h.Refresh > 0 {
		parts = append(parts, "refresh "+shortDuration(h.Refresh))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// damper is the per-resource state of Hysteresis.
type damper struct {
	cfg    Hysteresis
	cur    [numResources]float64
	since  [numResources]time.Time // when the estimate first stayed higher; zero if not
	lowest [numResources]float64   // lowest higher estimate since then
	moves  []move
	// changed is when each resource last changed (zero before the first).
	changed [numResources]time.Time
}

// move is one resource's change made by a damper step.
type move struct {
	r        resource
	from, to float64
	waited   time.Duration // how long a grow waited; 0 for shrinks
	refresh  bool          // a small change made because Refresh passed
}

func (m move) String() string {
	switch {
	case m.refresh:
		return fmt.Sprintf("%s refreshed %s → %s", m.r, formatAmount(m.r, m.from), formatAmount(m.r, m.to))
	case m.to < m.from:
		return fmt.Sprintf("%s shrinks %s → %s at once", m.r, formatAmount(m.r, m.from), formatAmount(m.r, m.to))
	case m.waited > 0:
		return fmt.Sprintf("%s grows %s → %s after staying higher for %s", m.r,
			formatAmount(m.r, m.from), formatAmount(m.r, m.to), shortDuration(m.waited))
	}
	return fmt.Sprintf("%s grows %s → %s", m.r, formatAmount(m.r, m.from), formatAmount(m.r, m.to))
}

// step moves the reservation toward est given sample s and returns the new
// reservation and the changes made. moves is reused between calls.
func (d *damper) step(s Sample, est Resources) (Resources, []move) {
	why := d.moves[:0]
	for r := range numResources {
		c := s.Capacity.get(r)
		hard := clamp(c-s.Business.get(r), 0, c) // idle right now
		ceil := c
		if v := d.cfg.Ceiling.get(r); v > 0 {
			ceil = min(ceil, v)
		}
		target := clamp(est.get(r), min(d.cfg.Floor.get(r), ceil), ceil)
		target = min(target, hard)
		cur := d.cur[r]
		minChange := c * d.cfg.MinChangePercent / 100
		switch {
		case cur > hard || (target < cur && cur-target >= max(minChange, 1e-9*c)):
			d.cur[r] = target
			d.since[r] = time.Time{}
			why = append(why, move{r: r, from: cur, to: target})
		case target > cur && target-cur >= max(minChange, 1e-9*c):
			if d.since[r].IsZero() {
				d.since[r], d.lowest[r] = s.Time, target
			} else {
				d.lowest[r] = min(d.lowest[r], target)
			}
			waited := s.Time.Sub(d.since[r])
			if waited < d.cfg.GrowAfter {
				continue
			}
			next := d.lowest[r]
			if step := c * d.cfg.MaxGrowPercent / 100; step > 0 {
				next = min(next, cur+step)
			}
			d.cur[r] = next
			d.since[r] = time.Time{} // a further step waits again
			why = append(why, move{r: r, from: cur, to: next, waited: waited})
		case target != cur && d.cfg.Refresh > 0 && !d.changed[r].IsZero() && s.Time.Sub(d.changed[r]) >= d.cfg.Refresh:
			// A small change, made because Refresh has passed.
			d.cur[r] = target
			d.since[r] = time.Time{}
			why = append(why, move{r: r, from: cur, to: target, refresh: true})
		default:
			d.since[r] = time.Time{}
		}
		if d.cur[r] != cur || d.changed[r].IsZero() {
			d.changed[r] = s.Time
		}
	}
	d.moves = why
	return Resources{CPUCores: d.cur[cpu], MemoryBytes: d.cur[memory], DiskBytes: d.cur[disk]}, why
}
