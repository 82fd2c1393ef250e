package reserve

import (
	"fmt"
	"time"
)

// DefaultKeep is how much raw history a History created with keep 0 retains
// to seed a window that a policy asks for the first time.
const DefaultKeep = time.Hour

// History is the record of samples that policies estimate from. It keeps the
// newest sample plus, for every window a policy has asked about, a structure
// that is updated with each sample in amortised constant or logarithmic time,
// so an estimate over an hour of one-second samples costs microseconds.
//
// A window asked for the first time is seeded from the raw samples History
// retains (keep, DefaultKeep if zero), so it is exact for windows up to keep.
// A History is not safe for concurrent use; Reservation serialises access.
type History struct {
	keep    time.Duration
	raw     []Sample // raw[head:] is within keep of the newest, newest last
	head    int
	n       int
	indexes map[indexKey]index
}

// index is a structure kept up to date with every sample.
type index interface{ add(s Sample) }

// indexKey identifies an index: its kind and parameters.
type indexKey struct {
	kind             byte // 'm' max, 'n' min, 'q' quantile, 'd' decayed
	window, halfLife time.Duration
	q                float64
}

// extremeIndex is the maximum (sign 1) or minimum (sign -1) business
// usage per resource over a window; the minimum is kept as the maximum of
// the negated usage.
type extremeIndex struct {
	sign float64
	w    [numResources]windowMax
}

func (x *extremeIndex) add(s Sample) {
	for r := range numResources {
		x.w[r].add(s.Time, x.sign*s.Business.get(r))
	}
}

// quantileIndex keeps each resource's business usage over a window sorted.
type quantileIndex [numResources]windowQuantile

func (x *quantileIndex) add(s Sample) {
	for r := range numResources {
		x[r].add(s.Time, s.Business.get(r))
	}
}

// decayIndex is the maximum over a window of a decaying quantile.
type decayIndex struct {
	d   [numResources]decayed
	max [numResources]windowMax
}

func (x *decayIndex) add(s Sample) {
	for r := range numResources {
		v := x.d[r].add(s.Time, s.Business.get(r), s.Capacity.get(r))
		x.max[r].add(s.Time, v)
	}
}

// NewHistory returns an empty History that retains keep of raw samples
// (DefaultKeep if keep is 0).
func NewHistory(keep time.Duration) *History {
	if keep <= 0 {
		keep = DefaultKeep
	}
	return &History{keep: keep, indexes: make(map[indexKey]index)}
}

// Add appends s. It returns an error wrapping ErrInvalid if s fails
// Validate, or ErrOutOfOrder if s is not later than the newest sample; the
// History is unchanged in both cases.
func (h *History) Add(s Sample) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if h.n > 0 {
		if last := h.raw[len(h.raw)-1].Time; !s.Time.After(last) {
			return fmt.Errorf("%w: sample at %s is not after %s",
				ErrOutOfOrder, s.Time.Format(time.RFC3339Nano), last.Format(time.RFC3339Nano))
		}
	}
	h.n++
	h.raw = append(h.raw, s)
	for h.head < len(h.raw)-1 && expired(h.raw[h.head].Time, s.Time, h.keep) {
		h.head++
	}
	// Move the live samples to the front once half the array is dead, so
	// the array is reused rather than reallocated.
	if h.head > 64 && h.head*2 >= len(h.raw) {
		h.raw = h.raw[:copy(h.raw, h.raw[h.head:])]
		h.head = 0
	}
	for _, x := range h.indexes {
		x.add(s)
	}
	return nil
}

// Latest returns the newest sample and whether there is one.
func (h *History) Latest() (Sample, bool) {
	if h.n == 0 {
		return Sample{}, false
	}
	return h.raw[len(h.raw)-1], true
}

// index returns the index for k, making it with newIndex and seeding it
// from the retained raw samples the first time.
func (h *History) index(k indexKey, newIndex func() index) index {
	x, ok := h.indexes[k]
	if !ok {
		x = newIndex()
		for _, s := range h.raw[h.head:] {
			x.add(s)
		}
		h.indexes[k] = x
	}
	return x
}

// Max returns the largest business usage of each resource over the window
// ending at the newest sample (the newest sample alone if window is 0).
func (h *History) Max(window time.Duration) Resources { return h.extreme('m', 1, window) }

// Min returns the smallest business usage of each resource over the window
// ending at the newest sample (the newest sample alone if window is 0).
func (h *History) Min(window time.Duration) Resources { return h.extreme('n', -1, window) }

func (h *History) extreme(kind byte, sign float64, window time.Duration) Resources {
	x := h.index(indexKey{kind: kind, window: window}, func() index {
		x := &extremeIndex{sign: sign}
		for r := range numResources {
			x.w[r].window = window
		}
		return x
	}).(*extremeIndex)
	var out Resources
	for r := range numResources {
		out.set(r, sign*x.w[r].max()+0) // +0 turns the minimum's -0 into 0
	}
	return out
}

// Quantile returns the q-quantile (0 < q <= 1, nearest rank) of business
// usage of each resource over the window ending at the newest sample.
func (h *History) Quantile(window time.Duration, q float64) Resources {
	if q >= 1 {
		return h.Max(window)
	}
	x := h.index(indexKey{kind: 'q', window: window}, func() index {
		x := new(quantileIndex)
		for r := range numResources {
			x[r].window = window
		}
		return x
	}).(*quantileIndex)
	var out Resources
	for r := range numResources {
		out.set(r, x[r].quantile(q))
	}
	return out
}

// DecayedQuantile returns, for each resource, the maximum over the window of
// the q-quantile of business usage weighted by exponentially decaying
// weights with the given half-life (q = 1: a peak that decays by half per
// half-life). This is Autopilot's recommender input; window 0 gives the
// current value alone.
func (h *History) DecayedQuantile(halfLife, window time.Duration, q float64) Resources {
	x := h.index(indexKey{kind: 'd', window: window, halfLife: halfLife, q: q}, func() index {
		x := new(decayIndex)
		for r := range numResources {
			x.d[r].halfLife, x.d[r].q = halfLife, q
			x.max[r].window = window
		}
		return x
	}).(*decayIndex)
	var out Resources
	for r := range numResources {
		out.set(r, x.max[r].max())
	}
	return out
}
