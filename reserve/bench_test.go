package reserve

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// syntheticSamples returns n samples one step apart of a machine with 8
// cores and 32 GiB whose business follows a daily wave plus deterministic
// jitter.
func syntheticSamples(n int, step time.Duration) []Sample {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]Sample, n)
	var x uint64 = 1
	for i := range out {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		jitter := float64(x%1000) / 1000
		wave := 0.5 + 0.3*math.Sin(float64(i)*2*math.Pi/float64(24*time.Hour/step))
		out[i] = Sample{
			Time:     start.Add(time.Duration(i) * step),
			Capacity: Resources{CPUCores: 8, MemoryBytes: 32 << 30, DiskBytes: 100 << 30},
			Business: Resources{
				CPUCores:    8 * (wave*0.8 + 0.2*jitter),
				MemoryBytes: 32 << 30 * (wave*0.9 + 0.1*jitter),
				DiskBytes:   40 << 30,
			},
		}
	}
	return out
}

type namedPolicy struct {
	name   string
	policy Policy
}

func benchPolicies() []namedPolicy {
	return []namedPolicy{
		{"Headroom", Headroom{Margin: Margin{OfCapacity: 5}}},
		{"Percentile/p95-1h", Percentile{Window: time.Hour, Percentile: 95}},
		{"Percentile/max-1h", Percentile{Window: time.Hour, Percentile: 100}},
		{"PeakDecay/peak", PeakDecay{HalfLife: 10 * time.Minute, Percentile: 100, Window: time.Hour}},
		{"PeakDecay/p95", PeakDecay{HalfLife: 10 * time.Minute, Percentile: 95, Window: time.Hour}},
		{"Koordinator", Koordinator{}},
		{"Min/p99-1h+headroom", Min{Percentile{Window: time.Hour, Percentile: 99}, Headroom{}}},
		{"Swing", Swing{Window: 15 * time.Minute, SwingWindow: time.Hour, Spread: 25}},
		{"Default", DefaultPolicy()},
	}
}

// BenchmarkEstimate measures one sample added to a History holding an hour
// of one-second samples, plus one estimate: the per-second cost on an agent.
// Goal: under 50 µs.
func BenchmarkEstimate(b *testing.B) {
	samples := syntheticSamples(2*3600, time.Second)
	for _, np := range benchPolicies() {
		p := np.policy
		b.Run(np.name, func(b *testing.B) {
			h := NewHistory(time.Hour)
			for _, s := range samples[:3600] {
				if err := h.Add(s); err != nil {
					b.Fatal(err)
				}
				p.Estimate(h)
			}
			// Keep time moving forward across b.N iterations.
			next := samples[3599]
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				s := samples[3600+i%3600]
				next.Time = next.Time.Add(time.Second)
				s.Time = next.Time
				if err := h.Add(s); err != nil {
					b.Fatal(err)
				}
				p.Estimate(h)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "µs/estimate")
		})
	}
}

// BenchmarkQoS decides for 200 tasks after the reservation halves.
func BenchmarkQoS(b *testing.B) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tasks := make([]Task, 200)
	for i := range tasks {
		tasks[i] = Task{
			ID: fmt.Sprintf("t-%d", i), Priority: i % 3, Start: start.Add(time.Duration(i) * time.Second),
			CPULimit: 0.5, CPUUsage: 0.4, MemoryLimit: 1 << 30, MemoryUsage: 512 << 20,
		}
	}
	res := Resources{CPUCores: 30, MemoryBytes: 60 << 30}
	business := Resources{CPUCores: 60, MemoryBytes: 100 << 30}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		acts, err := QoS{}.Decide(res, business, tasks)
		if err != nil {
			b.Fatal(err)
		}
		n = len(acts)
	}
	b.ReportMetric(float64(n), "actions")
}

// BenchmarkReplay measures replay throughput with the default policy.
func BenchmarkReplay(b *testing.B) {
	tr := Trace{Name: "synthetic", Samples: syntheticSamples(10000, 5*time.Minute)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Replay(tr, DefaultPolicy(), DefaultHysteresis()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(tr.Samples))/b.Elapsed().Seconds(), "samples/s")
}
