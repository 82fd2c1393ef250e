package reserve

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gleaner/gleaner/internal/pkgerr"
)

// Policy estimates how much of each resource is idle and may be lent to
// harvested work right now. Estimate reads the History, whose newest sample
// is the present; it must not modify it other than through its query
// methods. Results are clamped to [0, capacity] by the caller, so a policy
// may return any number. String names the policy and its parameters in
// reasons and tables.
type Policy interface {
	Estimate(h *History) Resources
	String() string
}

// Margin is how much is kept back for the business on top of its estimated
// usage: OfUsage percent of that usage (Autopilot's multiplicative safety
// margin), plus OfCapacity percent of capacity, plus Absolute.
type Margin struct {
	OfUsage    float64 // percent of the usage estimate
	OfCapacity float64 // percent of capacity
	Absolute   Resources
}

// apply returns capacity - (usage + margin) in each dimension.
func (m Margin) apply(capacity, usage Resources) Resources {
	return capacity.each(func(r resource, c float64) float64 {
		u := usage.get(r)
		return c - u*(1+m.OfUsage/100) - c*m.OfCapacity/100 - m.Absolute.get(r)
	})
}

func (m Margin) validate(prefix string) error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"OfUsage", m.OfUsage}, {"OfCapacity", m.OfCapacity}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > 1000 {
			return &FieldError{Field: prefix + "." + f.name, Value: f.v, Why: "is not a percentage in [0, 1000]"}
		}
	}
	return checkAmounts(prefix+".Absolute", m.Absolute)
}

func (m Margin) String() string {
	var parts []string
	if m.OfUsage != 0 {
		parts = append(parts, fmt.Sprintf("+%g%% usage", m.OfUsage))
	}
	if m.OfCapacity != 0 {
		parts = append(parts, fmt.Sprintf("+%g%% capacity", m.OfCapacity))
	}
	if m.Absolute != (Resources{}) {
		parts = append(parts, "+"+m.Absolute.String())
	}
	return strings.Join(parts, " ")
}

// Headroom lends capacity minus current business usage minus a margin. It is
// the simplest estimator (Mesos's fixed resource estimator with the usage
// subtracted) and reacts to the newest sample only.
type Headroom struct {
	Margin Margin
}

func (p Headroom) Estimate(h *History) Resources {
	s, _ := h.Latest()
	return p.Margin.apply(s.Capacity, s.Business)
}

func (p Headroom) String() string { return join("headroom", p.Margin.String()) }

// Validate reports a bad margin.
func (p Headroom) Validate() error { return p.Margin.validate("Headroom.Margin") }

// Percentile lends capacity minus the business usage at a percentile over a
// sliding window, minus a margin: a percentile recommender as in Autopilot
// and the Kubernetes VPA, without decay.
type Percentile struct {
	Window     time.Duration // how far back to look; 0 means the newest sample only
	Percentile float64       // in (0, 100]; 100 is the window's peak
	Margin     Margin
}

func (p Percentile) Estimate(h *History) Resources {
	s, _ := h.Latest()
	return p.Margin.apply(s.Capacity, h.Quantile(p.Window, p.Percentile/100))
}

func (p Percentile) String() string {
	return join(fmt.Sprintf("p%g over %s", p.Percentile, shortDuration(p.Window)), p.Margin.String())
}

// Validate reports a bad percentile, window or margin.
func (p Percentile) Validate() error {
	if err := checkPercentile("Percentile.Percentile", p.Percentile); err != nil {
		return err
	}
	if p.Window < 0 {
		return &FieldError{Field: "Percentile.Window", Value: p.Window.Seconds(), Why: "is negative (seconds)"}
	}
	return p.Margin.validate("Percentile.Margin")
}

// PeakDecay follows Google Autopilot's moving-window recommenders (Rzadca et
// al., EuroSys 2020): samples are weighted by exponentially decaying weights
// with the given half-life; the usage estimate is the weighted percentile
// (or, at 100, a peak that decays by half per half-life, which is also
// Borg's reclamation: the reservation for the business decays slowly toward
// usage and rises at once); the recommendation is the maximum of that
// estimate over the recent Window, plus the margin.
type PeakDecay struct {
	HalfLife   time.Duration // > 0
	Percentile float64       // in (0, 100]; 100 = decaying peak
	Window     time.Duration // maximum over this recent window; 0 = now only
	Margin     Margin
}

func (p PeakDecay) Estimate(h *History) Resources {
	s, _ := h.Latest()
	return p.Margin.apply(s.Capacity, h.DecayedQuantile(p.HalfLife, p.Window, p.Percentile/100))
}

func (p PeakDecay) String() string {
	what := "peak"
	if p.Percentile < 100 {
		what = fmt.Sprintf("p%g", p.Percentile)
	}
	return join(fmt.Sprintf("decaying %s (half-life %s) max over %s", what,
		shortDuration(p.HalfLife), shortDuration(p.Window)), p.Margin.String())
}

// Validate reports a bad half-life, percentile, window or margin.
func (p PeakDecay) Validate() error {
	if p.HalfLife <= 0 {
		return &FieldError{Field: "PeakDecay.HalfLife", Value: p.HalfLife.Seconds(), Why: "is not positive (seconds)"}
	}
	if err := checkPercentile("PeakDecay.Percentile", p.Percentile); err != nil {
		return err
	}
	if p.Window < 0 {
		return &FieldError{Field: "PeakDecay.Window", Value: p.Window.Seconds(), Why: "is negative (seconds)"}
	}
	return p.Margin.validate("PeakDecay.Margin")
}

// Koordinator defaults, from koordinator-sh/koordinator's
// ColocationStrategy (cpuReclaimThresholdPercent, memoryReclaimThresholdPercent).
const (
	koordinatorCPUThreshold    = 60
	koordinatorMemoryThreshold = 65
)

// Koordinator is Koordinator's batch-resource formula (slo-controller,
// noderesource plugin):
//
//	batch = capacity - capacity*(100-threshold)% - max(system used, system reserved) - business usage
//
// where business usage here excludes the system part (Sample.System). The
// thresholds default to 60% for CPU and 65% for memory; Koordinator has no
// disk term, and the memory threshold is applied to disk. Koordinator pairs
// the formula with a damped update (only on a change above 10% or every
// 300 s, CPU suppression shrinking at once and growing by at most 10% of the
// node per round): use KoordinatorHysteresis for that.
type Koordinator struct {
	CPUThreshold    float64   // percent; 0 means 60
	MemoryThreshold float64   // percent; 0 means 65 (also for disk)
	SystemReserved  Resources // reserved for the system regardless of its usage
}

func (p Koordinator) thresholds() Resources {
	t := Resources{CPUCores: p.CPUThreshold, MemoryBytes: p.MemoryThreshold}
	if t.CPUCores == 0 {
		t.CPUCores = koordinatorCPUThreshold
	}
	if t.MemoryBytes == 0 {
		t.MemoryBytes = koordinatorMemoryThreshold
	}
	t.DiskBytes = t.MemoryBytes
	return t
}

func (p Koordinator) Estimate(h *History) Resources {
	s, _ := h.Latest()
	thr := p.thresholds()
	return s.Capacity.each(func(r resource, c float64) float64 {
		sys := s.System.get(r)
		business := max(s.Business.get(r)-sys, 0)
		return c*thr.get(r)/100 - max(sys, p.SystemReserved.get(r)) - business
	})
}

func (p Koordinator) String() string {
	t := p.thresholds()
	return fmt.Sprintf("koordinator (cpu %g%%, memory %g%%)", t.CPUCores, t.MemoryBytes)
}

// Validate reports thresholds outside [0, 100] or a bad reservation.
func (p Koordinator) Validate() error {
	if err := checkPercentile("Koordinator.CPUThreshold", p.CPUThreshold); p.CPUThreshold != 0 && err != nil {
		return err
	}
	if err := checkPercentile("Koordinator.MemoryThreshold", p.MemoryThreshold); p.MemoryThreshold != 0 && err != nil {
		return err
	}
	return checkAmounts("Koordinator.SystemReserved", p.SystemReserved)
}

// Min lends, for each resource, the smallest amount any of its policies
// would: a conservative combination, e.g. a percentile that remembers the
// last hour with a headroom that reacts to the newest sample.
type Min []Policy

func (p Min) Estimate(h *History) Resources {
	if len(p) == 0 {
		return Resources{}
	}
	out := p[0].Estimate(h)
	for _, q := range p[1:] {
		e := q.Estimate(h)
		out = out.each(func(r resource, v float64) float64 { return min(v, e.get(r)) })
	}
	return out
}

func (p Min) String() string {
	names := make([]string, len(p))
	for i, q := range p {
		names[i] = q.String()
	}
	return "min(" + strings.Join(names, "; ") + ")"
}

// Validate reports an empty Min or the first bad member.
func (p Min) Validate() error {
	if len(p) == 0 {
		return fmt.Errorf("%w: Min has no policies", ErrInvalid)
	}
	for i, q := range p {
		if err := validatePolicy(q); err != nil {
			return pkgerr.Wrap("reserve", err, "policy %d of Min", i)
		}
	}
	return nil
}

// PerResource estimates each resource with a policy of its own and takes
// that resource's amount from it: CPU on business machines tends to burst
// and fall back, memory to hold a level with noise around it, and the
// setting that suits one does not suit the other (reserve/RESULTS.md). All
// three policies must be set.
type PerResource struct {
	CPU, Memory, Disk Policy
}

func (p PerResource) Estimate(h *History) Resources {
	return Resources{
		CPUCores:    p.CPU.Estimate(h).CPUCores,
		MemoryBytes: p.Memory.Estimate(h).MemoryBytes,
		DiskBytes:   p.Disk.Estimate(h).DiskBytes,
	}
}

func (p PerResource) String() string {
	return "CPU: " + p.CPU.String() + "; memory: " + p.Memory.String() + "; disk: " + p.Disk.String()
}

// Validate reports a missing or bad policy, naming the resource.
func (p PerResource) Validate() error {
	for _, m := range []struct {
		field string
		p     Policy
	}{{"CPU", p.CPU}, {"Memory", p.Memory}, {"Disk", p.Disk}} {
		if err := validatePolicy(m.p); err != nil {
			return pkgerr.Wrap("reserve", err, "PerResource.%s", m.field)
		}
	}
	return nil
}

// validatePolicy calls p's Validate method if it has one.
func validatePolicy(p Policy) error {
	if p == nil {
		return fmt.Errorf("%w: policy is nil", ErrInvalid)
	}
	if v, ok := p.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

func checkPercentile(field string, v float64) error {
	if math.IsNaN(v) || v <= 0 || v > 100 {
		return &FieldError{Field: field, Value: v, Why: "is not a percentile in (0, 100]"}
	}
	return nil
}

func join(name, margin string) string {
	if margin == "" {
		return name
	}
	return name + " " + margin
}

// shortDuration prints 1h0m0s as 1h and 5m0s as 5m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
