package reserve

import "time"

// DefaultPolicy returns the policy chosen from the replay of the Bitbrains
// traces in RESULTS.md.
func DefaultPolicy() Policy {
	return PeakDecay{HalfLife: 30 * time.Minute, Percentile: 100, Window: time.Hour, Margin: Margin{OfUsage: 10, OfCapacity: 5}}
}

// DefaultHysteresis returns the hysteresis chosen with DefaultPolicy.
func DefaultHysteresis() Hysteresis {
	return Hysteresis{GrowAfter: 10 * time.Minute, MinChangePercent: 1}
}
