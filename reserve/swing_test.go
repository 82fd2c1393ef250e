package reserve

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestSwing(t *testing.T) {
	steady := make([]Sample, 60)
	for m := range steady {
		steady[m] = at(m, 2, 8)
	}
	// Memory alternates between 8 and 12 GiB every ten minutes for the
	// first hour, then holds at 8 GiB for an hour.
	var swinging []Sample
	for m := range 120 {
		mem := 8.0
		if m < 60 && (m/10)%2 == 1 {
			mem = 12
		}
		swinging = append(swinging, at(m, 2, mem))
	}
	peak := Percentile{Window: 15 * time.Minute, Percentile: 100, Margin: Margin{OfCapacity: 4}}
	swing := Swing{Window: 15 * time.Minute, SwingWindow: time.Hour, Spread: 50, Margin: Margin{OfCapacity: 4}}
	tests := []struct {
		name    string
		samples []Sample
		want    float64 // memory lent, GiB
	}{
		{"steady usage keeps only the margin, like a peak", steady, 32 - 8 - 0.04*32},
		{"swinging usage keeps half the swing on top of the peak", swinging[:60], 32 - 12 - 0.04*32 - 0.5*4},
		{"once the swings leave the window the margin falls back", swinging, 32 - 8 - 0.04*32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := historyOf(t, tt.samples...)
			if got := swing.Estimate(h).MemoryBytes / gib; !approx(got, tt.want) {
				t.Errorf("Swing lends %v GiB, want %v", got, tt.want)
			}
		})
	}
	t.Run("zero spread is the peak policy", func(t *testing.T) {
		h := historyOf(t, swinging[:60]...)
		zero := Swing{Window: 15 * time.Minute, SwingWindow: time.Hour, Margin: Margin{OfCapacity: 4}}
		if got, want := zero.Estimate(h), peak.Estimate(h); !approxResources(got, want) {
			t.Errorf("Swing with Spread 0 = %v, want the peak policy's %v", got, want)
		}
	})
}

// noisyTrace is two days of five-minute samples of machine whose memory
// holds a level that steps every few hours, with noise around it whose size
// changes from level to level; CPU is steady.
func noisyTrace(seed uint64) Trace {
	rng := rand.New(rand.NewPCG(seed, 1))
	tr := Trace{Name: "noisy"}
	level, noise := 10.0, 1.0
	for i := range 2 * 288 {
		if i%40 == 0 {
			level, noise = 6+10*rng.Float64(), 3*rng.Float64()
		}
		mem := level + noise*rng.NormFloat64()
		s := at(5*i, 2, max(mem, 0))
		tr.Samples = append(tr.Samples, s)
	}
	return tr
}

// TestSwingCutsViolationsOnANoisyMachine replays a peak policy and a Swing
// with the same margin over noisy memory: the swing term must cut the
// intervals where lending would have hurt, and cost no harvest where usage
// is steady (CPU).
func TestSwingCutsViolationsOnANoisyMachine(t *testing.T) {
	peak := Percentile{Window: 15 * time.Minute, Percentile: 100, Margin: Margin{OfCapacity: 4}}
	swing := Swing{Window: 15 * time.Minute, SwingWindow: time.Hour, Spread: 25, Margin: Margin{OfCapacity: 4}}
	for seed := range uint64(5) {
		tr := noisyTrace(seed)
		p, err := Replay(tr, peak, DefaultHysteresis())
		if err != nil {
			t.Fatal(err)
		}
		s, err := Replay(tr, swing, DefaultHysteresis())
		if err != nil {
			t.Fatal(err)
		}
		if s.Memory.Violations >= p.Memory.Violations {
			t.Errorf("seed %d: Swing has %d memory violations, the peak policy %d; want fewer", seed, s.Memory.Violations, p.Memory.Violations)
		}
		if !approx(s.CPU.Harvested, p.CPU.Harvested) {
			t.Errorf("seed %d: steady CPU harvested %v core-hours with Swing, %v without; want equal", seed, s.CPU.Harvested, p.CPU.Harvested)
		}
	}
}

func TestPerResourceTakesEachResourceFromItsPolicy(t *testing.T) {
	h := historyOf(t, at(0, 2, 8), at(1, 3, 6))
	p := PerResource{
		CPU:    Headroom{},                                     // 8 - 3 = 5 cores
		Memory: Percentile{Window: time.Hour, Percentile: 100}, // 32 - 8 = 24 GiB
		Disk:   Koordinator{},                                  // 65% of 100 GiB - 10 GiB
	}
	want := Resources{CPUCores: 5, MemoryBytes: 24 * gib, DiskBytes: 55 * gib}
	if got := p.Estimate(h); !approxResources(got, want) {
		t.Errorf("PerResource = %v, want %v", got, want)
	}
	if got, want := p.String(), "CPU: headroom; memory: p100 over 1h; disk: koordinator (cpu 60%, memory 65%)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
