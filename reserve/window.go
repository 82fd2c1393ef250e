package reserve

import (
	"math"
	"slices"
	"sort"
	"time"
)

// The structures in this file keep per-window state up to date sample by
// sample, so that an estimate over an hour of one-second samples costs a few
// microseconds rather than a sort of 3600 values. No kept library offers
// time-windowed order statistics, hence these small ones.

// point is one timed value.
type point struct {
	t time.Time
	v float64
}

// fifo is a queue of points, oldest first, that reuses its backing array.
type fifo struct {
	buf  []point
	head int
}

func (q *fifo) len() int     { return len(q.buf) - q.head }
func (q *fifo) front() point { return q.buf[q.head] }
func (q *fifo) back() point  { return q.buf[len(q.buf)-1] }
func (q *fifo) push(p point) { q.buf = append(q.buf, p) }
func (q *fifo) popBack()     { q.buf = q.buf[:len(q.buf)-1] }
func (q *fifo) popFront() point {
	p := q.buf[q.head]
	q.head++
	if q.head > 64 && q.head*2 >= len(q.buf) {
		n := copy(q.buf, q.buf[q.head:])
		q.buf = q.buf[:n]
		q.head = 0
	}
	return p
}

// expired reports whether a point taken at t has left a window of length w
// ending at now. A window of zero holds only the newest point.
func expired(t, now time.Time, w time.Duration) bool {
	return !t.After(now.Add(-w))
}

// windowMax is the maximum over a sliding time window: a monotonic deque,
// amortised O(1) per sample.
type windowMax struct {
	window time.Duration
	q      fifo // values strictly decreasing from front to back
}

func (m *windowMax) add(t time.Time, v float64) {
	for m.q.len() > 0 && m.q.back().v <= v {
		m.q.popBack()
	}
	m.q.push(point{t, v})
	for m.q.len() > 1 && expired(m.q.front().t, t, m.window) {
		m.q.popFront()
	}
}

func (m *windowMax) max() float64 {
	if m.q.len() == 0 {
		return 0
	}
	return m.q.front().v
}

// windowQuantile is a quantile over a sliding time window: the window's
// values kept sorted, O(log n) to find and O(n) memmove to insert or remove,
// which for n = 3600 is about a microsecond.
type windowQuantile struct {
	window time.Duration
	q      fifo
	sorted []float64
}

func (w *windowQuantile) add(t time.Time, v float64) {
	w.q.push(point{t, v})
	w.sorted = slices.Insert(w.sorted, sort.SearchFloat64s(w.sorted, v), v)
	for w.q.len() > 1 && expired(w.q.front().t, t, w.window) {
		old := w.q.popFront().v
		i := sort.SearchFloat64s(w.sorted, old)
		w.sorted = slices.Delete(w.sorted, i, i+1)
	}
}

// quantile returns the nearest-rank q-quantile (0 < q <= 1) of the window.
func (w *windowQuantile) quantile(q float64) float64 {
	n := len(w.sorted)
	if n == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(n))) - 1
	return w.sorted[min(max(i, 0), n-1)]
}

// Decaying histogram geometry: usage as a fraction of capacity, in steps of
// half a percent, up to four times capacity (VMs do burst above what was
// provisioned).
const (
	decayBucketWidth = 0.005
	decayBuckets     = 800
	// decayRescale bounds the growth of weights before they are rescaled.
	decayRescale = 64
)

// decayed is Autopilot's weighted usage distribution: every sample adds a
// weight 2^((t-ref)/halfLife) to the bucket of its usage fraction, so that
// older samples count half as much per half-life. Growing new weights
// instead of shrinking old ones keeps each sample O(1); weights are rescaled
// before they overflow. With q = 1 it keeps a decaying peak instead: the
// peak falls by half per half-life toward newer usage and jumps up at once.
type decayed struct {
	halfLife time.Duration
	q        float64
	ref      time.Time
	total    float64
	buckets  [decayBuckets]float64
	peak     float64
	last     time.Time
}

// add records usage u of capacity c at t and returns the current q-quantile
// of usage in absolute units (scaled by c).
func (d *decayed) add(t time.Time, u, c float64) float64 {
	if c <= 0 {
		return 0
	}
	if d.q >= 1 {
		if !d.last.IsZero() {
			d.peak *= math.Exp2(-float64(t.Sub(d.last)) / float64(d.halfLife))
		}
		d.last = t
		d.peak = max(d.peak, u/c)
		return d.peak * c
	}
	if d.ref.IsZero() {
		d.ref = t
	}
	e := float64(t.Sub(d.ref)) / float64(d.halfLife)
	if e > decayRescale {
		s := math.Exp2(-e)
		for i := range d.buckets {
			d.buckets[i] *= s
		}
		d.total *= s
		d.ref, e = t, 0
	}
	w := math.Exp2(e)
	// Clamp before converting: a float beyond int's range converts to an
	// undefined (on amd64, the most negative) int.
	b := int(min(max(u/c/decayBucketWidth, 0), decayBuckets-1))
	d.buckets[b] += w
	d.total += w
	target := d.q * d.total
	var sum float64
	for i, x := range d.buckets {
		sum += x
		if sum >= target {
			return float64(i+1) * decayBucketWidth * c
		}
	}
	return decayBuckets * decayBucketWidth * c
}
