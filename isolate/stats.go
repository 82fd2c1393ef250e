package isolate

import "time"

// Stats is a snapshot of one cgroup's usage.
type Stats struct {
	// CPUUsage is the CPU time used by all processes since the cgroup was
	// created.
	CPUUsage time.Duration
	// CPUPeriods counts CFS periods that had runnable tasks; CPUThrottled
	// counts the periods in which the quota ran out, and
	// CPUThrottledTime sums the time the tasks were held back.
	CPUPeriods       uint64
	CPUThrottled     uint64
	CPUThrottledTime time.Duration
	// MemoryBytes is the current memory use, MemoryPeakBytes the highest
	// seen (v2: memory.peak, where the kernel has it).
	MemoryBytes     uint64
	MemoryPeakBytes uint64
	// OOMKills counts processes the kernel killed because the cgroup hit
	// its memory limit.
	OOMKills uint64
	// PIDs is the number of processes and threads (pids.current).
	PIDs uint64
}
