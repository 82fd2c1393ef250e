package reserve

import (
	"fmt"
	"math"
	"time"
)

// Swing lends capacity minus the peak business usage over Window, minus
// Spread percent of how far usage swung over SwingWindow (its maximum minus
// its minimum there), minus a margin.
//
// The swing term is a safety margin that scales with the machine's own
// recent variability, in the way TCP's retransmission timeout adds four
// times the measured round-trip variation to the smoothed round-trip time
// (Jacobson and Karels; RFC 6298): a machine whose usage holds steady keeps
// little back beyond its peak, one whose usage jumps about keeps more, and
// the margin falls again once the jumps leave the window. It needs no state
// beyond the two windows, so it is as cheap and as predictable as
// Percentile. On the Bitbrains traces it suits memory, which mostly holds a
// level with noise around it, better than a margin proportional to usage
// (reserve/RESULTS.md).
type Swing struct {
	Window      time.Duration // peak over this window; 0 = newest sample only
	SwingWindow time.Duration // maximum minus minimum over this window
	Spread      float64       // percent of the swing kept back, in [0, 1000]
	Margin      Margin
}

func (p Swing) Estimate(h *History) Resources {
	s, _ := h.Latest()
	out := p.Margin.apply(s.Capacity, h.Max(p.Window))
	if p.Spread == 0 {
		return out
	}
	hi, lo := h.Max(p.SwingWindow), h.Min(p.SwingWindow)
	return out.each(func(r resource, v float64) float64 {
		return v - (hi.get(r)-lo.get(r))*p.Spread/100
	})
}

func (p Swing) String() string {
	return join(fmt.Sprintf("p100 over %s +%g%% of the swing over %s", shortDuration(p.Window),
		p.Spread, shortDuration(p.SwingWindow)), p.Margin.String())
}

// Validate reports a negative window, a bad spread or a bad margin.
func (p Swing) Validate() error {
	if p.Window < 0 {
		return &FieldError{Field: "Swing.Window", Value: p.Window.Seconds(), Why: "is negative (seconds)"}
	}
	if p.SwingWindow < 0 {
		return &FieldError{Field: "Swing.SwingWindow", Value: p.SwingWindow.Seconds(), Why: "is negative (seconds)"}
	}
	if math.IsNaN(p.Spread) || p.Spread < 0 || p.Spread > 1000 {
		return &FieldError{Field: "Swing.Spread", Value: p.Spread, Why: "is not a percentage in [0, 1000]"}
	}
	return p.Margin.validate("Swing.Margin")
}
