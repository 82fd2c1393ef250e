//go:build !unix

package offer

// cpuSeconds is not available here; benchmarks then report wall time only.
func cpuSeconds() (float64, bool) { return 0, false }
