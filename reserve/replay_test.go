package reserve

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestReplayScoresCausally(t *testing.T) {
	// Business: 2 cores for 3 samples, a burst to 7, then 2 again. Headroom
	// with no margin lends 6 after each quiet sample; the burst interval is
	// a violation (7 + 6 > 8), and its reservation (1 core) is what the
	// next interval gets.
	tr := Trace{Name: "burst", Samples: []Sample{
		at(0, 2, 8), at(5, 2, 8), at(10, 2, 8), at(15, 7, 8), at(20, 2, 8),
	}}
	var steps []Step
	sc, err := Replay(tr, Headroom{}, Hysteresis{}, WithOnStep(func(s Step) { steps = append(steps, s) }))
	if err != nil {
		t.Fatal(err)
	}
	h := (5 * time.Minute).Hours()
	// Intervals end at 5, 10, 15, 20: lent 6, 6, 6, 1; idle 6, 6, 1, 6.
	want := ResourceScore{
		OracleIdle: (6 + 6 + 1 + 6) * h,
		Lent:       (6 + 6 + 6 + 1) * h,
		Harvested:  (6 + 6 + 1 + 1) * h,
		Violations: 1,
	}
	want.HarvestRatio = want.Harvested / want.OracleIdle
	want.ViolationRatio = 0.25
	got := sc.CPU
	if sc.Intervals != 4 || got.Violations != want.Violations || !approx(got.OracleIdle, want.OracleIdle) ||
		!approx(got.Lent, want.Lent) || !approx(got.Harvested, want.Harvested) ||
		!approx(got.HarvestRatio, want.HarvestRatio) || got.ViolationRatio != want.ViolationRatio {
		t.Errorf("CPU score %+v (intervals %d), want %+v", got, sc.Intervals, want)
	}
	if sc.Memory.Violations != 0 || !approx(sc.Memory.HarvestRatio, 1) {
		t.Errorf("memory score %+v, want full harvest without violations", sc.Memory)
	}
	if sc.Changes != 3 { // grant, shrink at the burst, grow back
		t.Errorf("changes = %d, want 3", sc.Changes)
	}
	if len(steps) != 4 || !steps[2].CPUViolation || steps[2].Lent.CPUCores != 6 || steps[3].Lent.CPUCores != 1 {
		t.Errorf("steps %+v", steps)
	}
}

func TestReplayOverloadWithoutLendingIsNoViolation(t *testing.T) {
	tr := Trace{Name: "overload", Samples: []Sample{at(0, 9, 1), at(5, 10, 1), at(10, 9, 1)}}
	sc, err := Replay(tr, Headroom{}, Hysteresis{})
	if err != nil {
		t.Fatal(err)
	}
	if sc.CPU.Violations != 0 || sc.CPU.OracleIdle != 0 || sc.CPU.HarvestRatio != 1 {
		t.Errorf("business above capacity with nothing lent scored %+v; want no violation, nothing idle", sc.CPU)
	}
}

func TestReplaySkipsGaps(t *testing.T) {
	tr := Trace{Name: "gap", Samples: []Sample{at(0, 1, 1), at(5, 1, 1), at(600, 1, 1), at(605, 1, 1)}}
	sc, err := Replay(tr, Headroom{}, Hysteresis{})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Intervals != 2 {
		t.Errorf("intervals = %d, want 2 (the 595-minute gap is not scored)", sc.Intervals)
	}
	// With a longer maximum gap, it is.
	sc, err = Replay(tr, Headroom{}, Hysteresis{}, WithMaxGap(10*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Intervals != 3 {
		t.Errorf("intervals with WithMaxGap(10h) = %d, want 3", sc.Intervals)
	}
}

func TestReplayRejectsBadInput(t *testing.T) {
	good := Trace{Name: "t", Samples: []Sample{at(0, 1, 1), at(5, 1, 1)}}
	nan := Trace{Name: "nan", Samples: []Sample{at(0, 1, 1), at(5, math.NaN(), 1)}}
	backwards := Trace{Name: "back", Samples: []Sample{at(5, 1, 1), at(0, 1, 1)}}
	zero := Trace{Name: "zero", Samples: []Sample{{Time: t0}}}
	for _, tc := range []struct {
		name string
		tr   Trace
		p    Policy
		h    Hysteresis
		want error
		opts []ReplayOption
	}{
		{"NaN sample", nan, Headroom{}, Hysteresis{}, ErrInvalid, nil},
		{"out-of-order sample", backwards, Headroom{}, Hysteresis{}, ErrOutOfOrder, nil},
		{"zero capacity", zero, Headroom{}, Hysteresis{}, ErrInvalid, nil},
		{"bad policy", good, Percentile{}, Hysteresis{}, ErrInvalid, nil},
		{"bad hysteresis", good, Headroom{}, Hysteresis{MinChangePercent: math.NaN()}, ErrInvalid, nil},
		{"zero maximum gap", good, Headroom{}, Hysteresis{}, ErrInvalid, []ReplayOption{WithMaxGap(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Replay(tc.tr, tc.p, tc.h, tc.opts...); !errors.Is(err, tc.want) {
				t.Errorf("Replay = %v, want %v", err, tc.want)
			}
		})
	}
}
