//go:build unix

package offer

import "syscall"

// cpuSeconds returns the CPU time this process has used (user + system).
// Benchmarks report throughput per CPU second as well as per wall second,
// because on a shared machine wall time mostly measures the neighbours.
func cpuSeconds() (float64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime), true
}
