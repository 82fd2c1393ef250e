package reserve

import (
	"time"

	"github.com/gleaner/gleaner/internal/pkgerr"
)

// Score is how well a policy with a hysteresis would have harvested a trace.
//
// The replay is causal: the reservation in force during the interval from
// sample i to sample i+1 is the one decided from samples 0..i, and it is
// judged against the business usage recorded at sample i+1, which the
// traces report as the usage over that interval. An interval is a violation
// when something was lent and business usage plus the amount lent exceeds
// capacity: harvested work then held what the business needed. Intervals
// where the business alone exceeded capacity while nothing was lent are not
// violations; the trace's own overload is not the estimator's doing.
// Intervals longer than the maximum gap (WithMaxGap; gaps in the trace)
// are not scored, but their samples still feed the policy.
type Score struct {
	Trace     string
	Policy    string
	Intervals int // intervals scored
	Changes   int // reservation changes published
	CPU       ResourceScore
	Memory    ResourceScore
}

// ResourceScore is the score for one resource. Amounts are in unit-hours:
// core-hours for CPU, byte-hours for memory.
type ResourceScore struct {
	// OracleIdle is capacity minus actual business usage (never below
	// zero), summed over time: what a clairvoyant estimator could lend.
	OracleIdle float64
	// Lent is what the reservation lent, summed over time.
	Lent float64
	// Harvested is the part of Lent that was idle: the sum of
	// min(lent, oracle idle). Lending more than idle earns nothing.
	Harvested float64
	// HarvestRatio is Harvested / OracleIdle (1 when there was nothing
	// idle).
	HarvestRatio float64
	// Violations counts intervals where business + lent > capacity with
	// lent > 0; ViolationRatio is Violations / Intervals.
	Violations     int
	ViolationRatio float64
}

// Step is one scored interval, reported to the WithOnStep function (for
// plots).
type Step struct {
	Time     time.Time // end of the interval
	Capacity Resources
	Business Resources
	Lent     Resources // in force during the interval
	// CPUViolation and MemoryViolation report business + lent > capacity.
	CPUViolation, MemoryViolation bool
}

// DefaultMaxGap is the longest interval Replay scores unless WithMaxGap
// says otherwise.
const DefaultMaxGap = 15 * time.Minute

// ReplayOption configures Replay. The policy and hysteresis replayed are
// Replay's arguments; options say how the replay runs.
type ReplayOption func(*replayConfig)

type replayConfig struct {
	maxGap time.Duration
	onStep func(Step)
}

// WithMaxGap sets the longest interval that is scored (default
// DefaultMaxGap); longer gaps in a trace are skipped. It must be positive.
func WithMaxGap(d time.Duration) ReplayOption {
	return func(c *replayConfig) { c.maxGap = d }
}

// WithOnStep has fn called with every scored interval, in time order, for
// plots. A nil fn is not called.
func WithOnStep(fn func(Step)) ReplayOption {
	return func(c *replayConfig) { c.onStep = fn }
}

// Replay runs policy p with hysteresis h over the trace and scores it. It
// reports an error wrapping ErrInvalid for a bad policy, hysteresis or
// option, or a trace sample that is invalid or out of order (naming its
// index).
func Replay(tr Trace, p Policy, h Hysteresis, opts ...ReplayOption) (Score, error) {
	cfg := replayConfig{maxGap: DefaultMaxGap}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxGap <= 0 {
		return Score{}, &FieldError{Field: "WithMaxGap", Value: cfg.maxGap.Seconds(), Why: "is not positive (seconds)"}
	}
	e, err := newEngine(p, h, 0)
	if err != nil {
		return Score{}, err
	}
	e.quiet = true
	sc := Score{Trace: tr.Name, Policy: e.name}
	var lent Resources
	var prev time.Time
	for i, s := range tr.Samples {
		if i > 0 {
			if dt := s.Time.Sub(prev); dt > 0 && dt <= cfg.maxGap {
				st := Step{Time: s.Time, Capacity: s.Capacity, Business: s.Business, Lent: lent}
				hours := dt.Hours()
				sc.Intervals++
				st.CPUViolation = sc.CPU.add(s.Capacity.CPUCores, s.Business.CPUCores, lent.CPUCores, hours)
				st.MemoryViolation = sc.Memory.add(s.Capacity.MemoryBytes, s.Business.MemoryBytes, lent.MemoryBytes, hours)
				if cfg.onStep != nil {
					cfg.onStep(st)
				}
			}
		}
		_, changed, err := e.observe(s)
		if err != nil {
			return sc, pkgerr.Wrap("reserve", err, "trace %s sample %d", tr.Name, i)
		}
		if changed {
			sc.Changes++
		}
		lent, prev = e.current, s.Time
	}
	for _, rs := range []*ResourceScore{&sc.CPU, &sc.Memory} {
		rs.HarvestRatio = 1
		if rs.OracleIdle > 0 {
			rs.HarvestRatio = rs.Harvested / rs.OracleIdle
		}
		if sc.Intervals > 0 {
			rs.ViolationRatio = float64(rs.Violations) / float64(sc.Intervals)
		}
	}
	return sc, nil
}

// add scores one interval of the given length and reports a violation.
func (rs *ResourceScore) add(capacity, business, lent, hours float64) bool {
	idle := max(capacity-business, 0)
	rs.OracleIdle += idle * hours
	rs.Lent += lent * hours
	rs.Harvested += min(lent, idle) * hours
	if lent > 0 && business+lent > capacity*(1+1e-9) {
		rs.Violations++
		return true
	}
	return false
}
