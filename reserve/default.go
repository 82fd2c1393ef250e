package reserve

import "time"

// DefaultPolicy returns the policy chosen from the replay of the Bitbrains
// traces (reserve/RESULTS.md): lend capacity minus the peak business usage
// of the last 15 minutes, keeping 10% of that peak and 4% of capacity on
// top. Use it with DefaultHysteresis.
func DefaultPolicy() Policy {
	return Percentile{Window: 15 * time.Minute, Percentile: 100, Margin: Margin{OfUsage: 10, OfCapacity: 4}}
}

// DefaultHysteresis returns the hysteresis chosen with DefaultPolicy: shrink
// at once, grow only after the estimate has stayed higher for 15 minutes,
// ignore changes under 1% of capacity.
func DefaultHysteresis() Hysteresis {
	return Hysteresis{GrowAfter: 15 * time.Minute, MinChangePercent: 1}
}
