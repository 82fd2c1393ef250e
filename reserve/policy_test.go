package reserve

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestPolicies(t *testing.T) {
	// Two hours, one sample a minute: the business uses 2 cores and 8 GiB,
	// except a burst to 6 cores and 20 GiB at minute 100.
	var samples []Sample
	for m := range 120 {
		cpu, mem := 2.0, 8.0
		if m == 100 {
			cpu, mem = 6, 20
		}
		samples = append(samples, at(m, cpu, mem))
	}
	h := historyOf(t, samples...)
	tests := []struct {
		name   string
		policy Policy
		want   Resources
	}{
		{"headroom lends capacity minus current usage", Headroom{},
			Resources{CPUCores: 6, MemoryBytes: 24 * gib, DiskBytes: 90 * gib}},
		{"headroom keeps percent of capacity and absolute margins", Headroom{Margin: Margin{OfCapacity: 10, Absolute: Resources{CPUCores: 0.2}}},
			Resources{CPUCores: 8 - 2 - 0.8 - 0.2, MemoryBytes: 24*gib - 3.2*gib, DiskBytes: 80 * gib}},
		{"headroom keeps percent of usage", Headroom{Margin: Margin{OfUsage: 50}},
			Resources{CPUCores: 5, MemoryBytes: 20 * gib, DiskBytes: 85 * gib}},
		{"peak over a window that holds the burst", Percentile{Window: 30 * time.Minute, Percentile: 100},
			Resources{CPUCores: 2, MemoryBytes: 12 * gib, DiskBytes: 90 * gib}},
		{"peak over a window after the burst", Percentile{Window: 15 * time.Minute, Percentile: 100},
			Resources{CPUCores: 6, MemoryBytes: 24 * gib, DiskBytes: 90 * gib}},
		{"p95 over the window ignores one burst in thirty", Percentile{Window: 30 * time.Minute, Percentile: 95},
			Resources{CPUCores: 6, MemoryBytes: 24 * gib, DiskBytes: 90 * gib}},
		{"koordinator keeps 40% of CPU and 35% of memory", Koordinator{},
			Resources{CPUCores: 8*0.6 - 2, MemoryBytes: 32*gib*0.65 - 8*gib, DiskBytes: 100*gib*0.65 - 10*gib}},
		{"koordinator subtracts system reserved", Koordinator{SystemReserved: Resources{CPUCores: 1}},
			Resources{CPUCores: 8*0.6 - 2 - 1, MemoryBytes: 32*gib*0.65 - 8*gib, DiskBytes: 100*gib*0.65 - 10*gib}},
		{"min takes the smaller per resource", Min{Headroom{}, Koordinator{}},
			Resources{CPUCores: 8*0.6 - 2, MemoryBytes: 32*gib*0.65 - 8*gib, DiskBytes: 100*gib*0.65 - 10*gib}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Estimate(h); !approxResources(got, tt.want) {
				t.Errorf("%s: Estimate = %v, want %v", tt.policy, got, tt.want)
			}
		})
	}
}

func TestPeakDecayRemembersTheBurstAndForgetsIt(t *testing.T) {
	p := PeakDecay{HalfLife: 10 * time.Minute, Percentile: 100, Window: 0}
	var samples []Sample
	for m := range 60 {
		cpu := 1.0
		if m == 20 {
			cpu = 5
		}
		samples = append(samples, at(m, cpu, 4))
	}
	h := historyOf(t, samples[:21]...)
	if got := p.Estimate(h).CPUCores; !approx(got, 3) {
		t.Errorf("at the burst lends %v cores, want 8-5 = 3", got)
	}
	for _, s := range samples[21:31] {
		if err := h.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	// Ten minutes (one half-life) later the remembered peak is 2.5 cores.
	if got := p.Estimate(h).CPUCores; !approx(got, 8-2.5) {
		t.Errorf("one half-life after the burst lends %v cores, want 5.5", got)
	}
	// With a window the maximum of the decayed peak is held for the window.
	pw := PeakDecay{HalfLife: 10 * time.Minute, Percentile: 100, Window: 15 * time.Minute}
	if got := pw.Estimate(h).CPUCores; !approx(got, 3) {
		t.Errorf("with a 15-minute window, 10 minutes after the burst lends %v, want 3", got)
	}
}

// TestHistorySeedsNewWindows checks that a window asked for after samples
// were added covers them (from the retained raw samples).
func TestHistorySeedsNewWindows(t *testing.T) {
	h := historyOf(t, at(0, 7, 1), at(1, 1, 1), at(2, 1, 1))
	if got := h.Max(time.Hour).CPUCores; got != 7 {
		t.Errorf("Max over an hour asked late = %v, want 7", got)
	}
	if got := h.Quantile(time.Hour, 0.5).CPUCores; got != 1 {
		t.Errorf("median asked late = %v, want 1", got)
	}
	if got := h.Min(time.Hour).CPUCores; got != 1 {
		t.Errorf("Min over an hour asked late = %v, want 1", got)
	}
	if err := h.Add(at(3, 0.5, 1)); err != nil {
		t.Fatal(err)
	}
	if got := h.Min(time.Hour).CPUCores; got != 0.5 {
		t.Errorf("Min after a lower sample = %v, want 0.5", got)
	}
	if got := h.Min(0).CPUCores; got != 0.5 {
		t.Errorf("Min over the newest sample = %v, want 0.5", got)
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		field  string
	}{
		{"percentile above 100 is rejected", Percentile{Percentile: 101, Window: time.Hour}, "Percentile.Percentile"},
		{"NaN percentile is rejected", Percentile{Percentile: math.NaN()}, "Percentile.Percentile"},
		{"negative window is rejected", Percentile{Percentile: 50, Window: -time.Second}, "Percentile.Window"},
		{"zero half-life is rejected", PeakDecay{Percentile: 100}, "PeakDecay.HalfLife"},
		{"negative margin is rejected", Headroom{Margin: Margin{OfCapacity: -1}}, "Headroom.Margin.OfCapacity"},
		{"NaN absolute margin is rejected", Headroom{Margin: Margin{Absolute: Resources{MemoryBytes: math.NaN()}}}, "Headroom.Margin.Absolute.MemoryBytes"},
		{"koordinator threshold above 100 is rejected", Koordinator{CPUThreshold: 150}, "Koordinator.CPUThreshold"},
		{"bad member of min is rejected", Min{Headroom{}, Percentile{}}, "Percentile.Percentile"},
		{"negative swing spread is rejected", Swing{Spread: -5}, "Swing.Spread"},
		{"negative swing window is rejected", Swing{SwingWindow: -time.Minute}, "Swing.SwingWindow"},
		{"bad swing margin is rejected", Swing{Margin: Margin{OfUsage: math.NaN()}}, "Swing.Margin.OfUsage"},
		{"bad memory policy of per-resource is rejected",
			PerResource{CPU: Headroom{}, Memory: Percentile{}, Disk: Headroom{}}, "Percentile.Percentile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validatePolicy(tt.policy)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, ErrInvalid) {
				t.Fatalf("validate = %v, want a FieldError on %s wrapping ErrInvalid", err, tt.field)
			}
		})
	}
	if err := validatePolicy(Min{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty Min: %v, want ErrInvalid", err)
	}
	if err := validatePolicy(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil policy: %v, want ErrInvalid", err)
	}
	if err := validatePolicy(PerResource{CPU: Headroom{}, Memory: Headroom{}}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "PerResource.Disk") {
		t.Errorf("per-resource without a disk policy: %v, want ErrInvalid naming PerResource.Disk", err)
	}
}

func TestSampleValidate(t *testing.T) {
	good := at(0, 1, 1)
	tests := []struct {
		name  string
		edit  func(*Sample)
		field string
	}{
		{"NaN business CPU is rejected", func(s *Sample) { s.Business.CPUCores = math.NaN() }, "Business.CPUCores"},
		{"negative business memory is rejected", func(s *Sample) { s.Business.MemoryBytes = -1 }, "Business.MemoryBytes"},
		{"infinite capacity is rejected", func(s *Sample) { s.Capacity.DiskBytes = math.Inf(1) }, "Capacity.DiskBytes"},
		{"zero CPU capacity is rejected", func(s *Sample) { s.Capacity.CPUCores = 0 }, "Capacity.CPUCores"},
		{"zero time is rejected", func(s *Sample) { s.Time = time.Time{} }, "Time"},
		{"negative system usage is rejected", func(s *Sample) { s.System.CPUCores = -0.5 }, "System.CPUCores"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			tt.edit(&s)
			err := s.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want a FieldError on %s", err, tt.field)
			}
		})
	}
	t.Run("zero memory capacity is allowed and lends no memory", func(t *testing.T) {
		s := good
		s.Capacity.MemoryBytes, s.Business.MemoryBytes = 0, 0
		h := historyOf(t, s)
		if got := (Headroom{}).Estimate(h).MemoryBytes; got != 0 {
			t.Errorf("memory estimate = %v, want 0", got)
		}
	})
}

func TestHistoryRejectsOutOfOrder(t *testing.T) {
	h := historyOf(t, at(5, 1, 1))
	for _, s := range []Sample{at(5, 2, 2), at(4, 2, 2)} {
		if err := h.Add(s); !errors.Is(err, ErrOutOfOrder) {
			t.Errorf("Add(%s) = %v, want ErrOutOfOrder", s.Time, err)
		}
	}
	if got, _ := h.Latest(); got.Business.CPUCores != 1 || h.n != 1 {
		t.Errorf("history changed by rejected samples: latest %v, %d samples", got.Business, h.n)
	}
}

func TestHistoryKeepBoundsSeeding(t *testing.T) {
	h := NewHistory(10 * time.Minute)
	for m := range 200 {
		cpu := 1.0
		if m == 100 {
			cpu = 7
		}
		if err := h.Add(at(m, cpu, 1)); err != nil {
			t.Fatal(err)
		}
	}
	// The burst at minute 100 is older than keep: a window asked for now
	// starts from what was kept, and then grows with new samples.
	if got := h.Max(time.Hour).CPUCores; got != 1 {
		t.Errorf("Max over an hour asked after the burst left keep = %v, want 1", got)
	}
	if len(h.raw)-h.head > 11 {
		t.Errorf("retains %d raw samples, want at most 11 for 10 minutes of keep", len(h.raw)-h.head)
	}
}
