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
	// MemoryBytes is the working set: usage minus the inactive file
	// cache (page cache the kernel can drop at once), as cAdvisor and the
	// kubelet count it and as package monitor counts a business cgroup.
	// MemoryPeakBytes is the highest usage seen, page cache included (v1:
	// memory.max_usage_in_bytes; v2: memory.peak, where the kernel has
	// it).
	MemoryBytes     uint64
	MemoryPeakBytes uint64
	// OOMKills counts processes the kernel killed because the cgroup hit
	// its memory limit.
	OOMKills uint64
	// PIDs is the number of processes and threads (pids.current).
	PIDs uint64
}
