package reserve

import (
	"errors"
	"testing"
	"time"
)

// fixed is a policy that lends whatever its CPU field says (for driving the
// hysteresis directly).
type fixed struct{ cpu *float64 }

func (f fixed) Estimate(*History) Resources { return Resources{CPUCores: *f.cpu} }
func (f fixed) String() string              { return "fixed" }

func TestHysteresis(t *testing.T) {
	type step struct {
		minute   int
		business float64 // CPU cores used by the business
		estimate float64 // CPU cores the policy says are idle
		want     float64 // CPU reservation afterwards
	}
	tests := []struct {
		name  string
		h     Hysteresis
		steps []step
	}{
		{"zero hysteresis follows the estimate", Hysteresis{}, []step{
			{0, 1, 5, 5}, {1, 1, 3, 3}, {2, 1, 6, 6},
		}},
		{"shrinks at once, grows only after staying higher", Hysteresis{GrowAfter: 10 * time.Minute}, []step{
			{0, 1, 5, 0}, {5, 1, 5, 0}, {10, 1, 5, 5}, // first grant waits 10 minutes too
			{11, 1, 2, 2},                               // shrink at once
			{12, 1, 6, 2}, {20, 1, 4, 2}, {22, 1, 6, 4}, // grows to the lowest estimate seen while waiting
		}},
		{"a dip restarts the wait", Hysteresis{GrowAfter: 10 * time.Minute}, []step{
			{0, 0, 3, 0}, {10, 0, 3, 3}, {11, 0, 6, 3}, {15, 0, 3, 3}, {16, 0, 6, 3}, {25, 0, 6, 3}, {26, 0, 6, 6},
		}},
		{"growth is bounded per step", Hysteresis{MaxGrowPercent: 10}, []step{
			{0, 0, 6, 0.8}, {1, 0, 6, 1.6}, {2, 0, 6, 2.4}, {3, 0, 1, 1},
		}},
		{"changes below the minimum are not made", Hysteresis{MinChangePercent: 5}, []step{
			{0, 0, 4, 4}, {1, 0, 4.3, 4}, {2, 0, 3.7, 4}, {3, 0, 4.5, 4.5}, {4, 0, 4.1, 4.1},
		}},
		{"ceiling caps and floor holds while idle", Hysteresis{Floor: Resources{CPUCores: 1}, Ceiling: Resources{CPUCores: 3}}, []step{
			{0, 0, 5, 3}, {1, 0, 0, 1}, {2, 0, -4, 1},
		}},
		{"floor yields to the business", Hysteresis{Floor: Resources{CPUCores: 2}}, []step{
			{0, 7, 0, 1}, {1, 8, 0, 0},
		}},
		{"refresh makes a small change once it is due", Hysteresis{MinChangePercent: 10, Refresh: 5 * time.Minute}, []step{
			{0, 0, 4, 4}, {1, 0, 4.5, 4}, {4, 0, 4.5, 4}, {5, 0, 4.5, 4.5}, {6, 0, 4.2, 4.5}, {10, 0, 4.2, 4.2},
		}},
		{"never negative", Hysteresis{}, []step{{0, 0, -3, 0}}},
		{"never above capacity", Hysteresis{}, []step{{0, 0, 100, 8}}},
		{"never above what is idle now, even within the minimum change", Hysteresis{MinChangePercent: 50}, []step{
			{0, 0, 6, 6}, {1, 3, 5, 5},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var est float64
			e, err := newEngine(fixed{&est}, tt.h, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range tt.steps {
				est = st.estimate
				if _, _, err := e.observe(at(st.minute, st.business, 0)); err != nil {
					t.Fatal(err)
				}
				if got := e.current.CPUCores; !approx(got, st.want) {
					t.Fatalf("minute %d (business %v, estimate %v): reservation %v, want %v",
						st.minute, st.business, st.estimate, got, st.want)
				}
			}
		})
	}
}

func TestHysteresisValidate(t *testing.T) {
	tests := []struct {
		name  string
		h     Hysteresis
		field string
	}{
		{"negative grow delay is rejected", Hysteresis{GrowAfter: -time.Second}, "Hysteresis.GrowAfter"},
		{"step above 100% is rejected", Hysteresis{MaxGrowPercent: 120}, "Hysteresis.MaxGrowPercent"},
		{"negative minimum change is rejected", Hysteresis{MinChangePercent: -1}, "Hysteresis.MinChangePercent"},
		{"negative refresh is rejected", Hysteresis{Refresh: -time.Second}, "Hysteresis.Refresh"},
		{"negative floor is rejected", Hysteresis{Floor: Resources{DiskBytes: -1}}, "Hysteresis.Floor.DiskBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReservation(Headroom{}, tt.h)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("NewReservation = %v, want FieldError on %s", err, tt.field)
			}
		})
	}
}
