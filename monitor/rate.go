package monitor

import "time"

// CPURate turns successive readings of a cumulative CPU-time counter
// (ResourceUsage.CPUSeconds, isolate's Stats.CPUUsage) into the cores used
// between them. The zero value is ready to use. It is not safe for
// concurrent use; keep one per counter.
type CPURate struct {
	seconds float64
	at      time.Time
}

// Observe records a reading of seconds taken at at, and returns the cores
// used since the previous reading. ok is false for the first reading, the
// first after Reset, and a reading not later than the previous one. A
// counter that went backwards (a cgroup removed and created again) counts
// as no use rather than as a negative rate.
func (r *CPURate) Observe(seconds float64, at time.Time) (cores float64, ok bool) {
	prev, prevAt := r.seconds, r.at
	r.seconds, r.at = seconds, at
	if prevAt.IsZero() || !at.After(prevAt) {
		return 0, false
	}
	return max(seconds-prev, 0) / at.Sub(prevAt).Seconds(), true
}

// Reset forgets the previous reading, for example after a failed read, so
// that the next rate does not span the gap.
func (r *CPURate) Reset() { *r = CPURate{} }
