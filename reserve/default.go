package reserve

import "time"

// DefaultPolicy returns the policy chosen from the replay of the Bitbrains
// traces (reserve/RESULTS.md), one setting per resource:
//
//   - CPU and disk: lend capacity minus the peak business usage of the last
//     15 minutes, keeping 10% of that peak and 4% of capacity on top
//     (PeakPolicy);
//   - memory: lend capacity minus the peak of the last 10 minutes, keeping
//     3.75% of capacity and a quarter of how far usage swung over the last
//     hour on top (MemorySwingPolicy).
//
// Use it with DefaultHysteresis.
func DefaultPolicy() Policy {
	return PerResource{CPU: PeakPolicy(), Memory: MemorySwingPolicy(), Disk: PeakPolicy()}
}

// PeakPolicy returns the default's CPU and disk policy, which was the
// default for every resource before the memory policy was split off: the
// peak business usage of the last 15 minutes, plus 10% of that peak and 4%
// of capacity.
func PeakPolicy() Policy {
	return Percentile{Window: 15 * time.Minute, Percentile: 100, Margin: Margin{OfUsage: 10, OfCapacity: 4}}
}

// MemorySwingPolicy returns the default's memory policy: the peak business
// usage of the last 10 minutes, plus 3.75% of capacity, plus 25% of the
// swing (maximum minus minimum) of usage over the last hour.
func MemorySwingPolicy() Policy {
	return Swing{Window: 10 * time.Minute, SwingWindow: time.Hour, Spread: 25, Margin: Margin{OfCapacity: 3.75}}
}

// DefaultHysteresis returns the hysteresis chosen with DefaultPolicy: shrink
// at once, grow only after the estimate has stayed higher for 15 minutes,
// ignore changes under 1% of capacity.
func DefaultHysteresis() Hysteresis {
	return Hysteresis{GrowAfter: 15 * time.Minute, MinChangePercent: 1}
}
