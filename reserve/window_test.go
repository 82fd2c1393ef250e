package reserve

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestWindowsMatchBruteForce checks the incremental window structures
// against recomputing from scratch over irregularly spaced samples.
func TestWindowsMatchBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const window = 100 * time.Second
	m := windowMax{window: window}
	lo := extremeIndex{sign: -1}
	lo.w[cpu].window = window
	w := windowQuantile{window: window}
	var all []point
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3000 {
		now = now.Add(time.Duration(1+rng.IntN(20)) * time.Second)
		v := float64(rng.IntN(50)) // many ties
		all = append(all, point{now, v})
		m.add(now, v)
		lo.add(Sample{Time: now, Business: Resources{CPUCores: v}})
		w.add(now, v)
		var in []float64
		for _, p := range all {
			if !expired(p.t, now, window) {
				in = append(in, p.v)
			}
		}
		slices.Sort(in)
		if got, want := m.max(), in[len(in)-1]; got != want {
			t.Fatalf("sample %d: max = %v, want %v", i, got, want)
		}
		if got, want := -lo.w[cpu].max(), in[0]; got != want {
			t.Fatalf("sample %d: min = %v, want %v", i, got, want)
		}
		for _, q := range []float64{0.01, 0.5, 0.95, 1} {
			want := in[max(int(math.Ceil(q*float64(len(in))))-1, 0)]
			if got := w.quantile(q); got != want {
				t.Fatalf("sample %d: quantile(%v) = %v, want %v", i, q, got, want)
			}
		}
	}
}

func TestDecayedPeakHalvesPerHalfLife(t *testing.T) {
	d := decayed{halfLife: time.Minute, q: 1}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d.add(t0, 8, 10)
	if got := d.add(t0.Add(time.Minute), 0, 10); math.Abs(got-4) > 1e-9 {
		t.Errorf("after one half-life peak = %v, want 4", got)
	}
	if got := d.add(t0.Add(2*time.Minute), 0, 10); math.Abs(got-2) > 1e-9 {
		t.Errorf("after two half-lives peak = %v, want 2", got)
	}
	if got := d.add(t0.Add(3*time.Minute), 5, 10); got != 5 {
		t.Errorf("a new higher peak = %v, want 5 at once", got)
	}
}

func TestDecayedQuantileFavoursRecentSamples(t *testing.T) {
	d := decayed{halfLife: time.Minute, q: 0.5}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var got float64
	// An hour at 80% usage, then ten minutes at 20%: with a one-minute
	// half-life the old samples weigh almost nothing.
	for i := range 60 {
		d.add(t0.Add(time.Duration(i)*time.Minute), 8, 10)
	}
	for i := range 10 {
		got = d.add(t0.Add(time.Duration(60+i)*time.Minute), 2, 10)
	}
	if got < 2 || got > 2.1 {
		t.Errorf("median = %v, want about 2 (the recent usage)", got)
	}
	// Rescaling keeps working far beyond 64 half-lives.
	for i := range 200 {
		got = d.add(t0.Add(time.Duration(70+i)*time.Minute), 5, 10)
	}
	if got < 5 || got > 5.1 || math.IsNaN(d.total) || math.IsInf(d.total, 0) {
		t.Errorf("after 200 half-lives median = %v (total %v), want about 5", got, d.total)
	}
}

// TestDecayedQuantileHugeUsageLandsInTheTopBucket: usage far beyond
// capacity (a bad monitor reading, say) must count as the highest bucket,
// not wrap to the lowest through an out-of-range float-to-int conversion.
func TestDecayedQuantileHugeUsageLandsInTheTopBucket(t *testing.T) {
	d := decayed{halfLife: time.Minute, q: 0.5}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	want := decayBuckets * decayBucketWidth * 10.0
	if got := d.add(t0, 1e300, 10); got != want {
		t.Errorf("median of one huge sample = %v, want the top bucket (%v)", got, want)
	}
}
