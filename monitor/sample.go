package monitor

import "time"

// Sample is one reading of the host, of Gleaner's own usage and of the
// business usage derived from both. It holds only plain values, slices and
// pointers, so a consumer (an estimator, a trace writer) can copy what it
// needs without importing anything else.
//
// Rates (CPU cores, bytes per second) need two readings. On the first
// reading after a start they are absent: Host.Rates, Own.CPUCores and
// Business.CPUCores are nil. They are never reported as zero to mean
// "unknown".
type Sample struct {
	Host HostSample
	// Own is Gleaner's own usage; nil when no process tree or cgroup is
	// watched, or when reading it failed (OwnErr then says why).
	Own *OwnUsage
	// OwnErr is the reason Own is missing when a target was configured,
	// for example the watched process exited (errors.Is ErrNotFound).
	OwnErr error
	// Business is host usage minus Own; nil when Own is nil.
	Business *BusinessUsage
}

// HostSample is what the whole machine uses.
type HostSample struct {
	// Time is when the host was read.
	Time time.Time
	// CPUs is the number of CPUs present; OnlineCPUs those online now.
	CPUs       int
	OnlineCPUs int
	Memory     Memory
	Load       LoadAverage
	Pressure   Pressure
	// Filesystems holds space figures for each watched mount point.
	Filesystems []FilesystemSpace
	// Rates is nil on the first reading: rates need two readings.
	Rates *HostRates
}

// Memory is read from /proc/meminfo. All figures are bytes.
type Memory struct {
	TotalBytes     uint64
	AvailableBytes uint64 // MemAvailable: what can be allocated without swapping
	UsedBytes      uint64 // TotalBytes - AvailableBytes
	FreeBytes      uint64 // MemFree: not used for anything, not even cache
	PageCacheBytes uint64 // Cached: file pages in the page cache
	BuffersBytes   uint64
	SwapTotalBytes uint64
	SwapFreeBytes  uint64
	SwapUsedBytes  uint64 // SwapTotalBytes - SwapFreeBytes
}

// LoadAverage is /proc/loadavg: runnable plus uninterruptible tasks averaged
// over 1, 5 and 15 minutes.
type LoadAverage struct {
	Load1, Load5, Load15 float64
}

// Pressure is pressure stall information from /proc/pressure/*.
type Pressure struct {
	// Supported is false when the kernel has no PSI (older than 4.20, or
	// built or booted without it). The other fields are then zero and
	// mean nothing.
	Supported bool
	CPU       PSI
	Memory    PSI
	IO        PSI
}

// PSI is the pressure of one resource. Averages are percentages (0-100) of
// wall time in which some (or all non-idle) tasks were stalled.
type PSI struct {
	Some PSIAverages
	Full PSIAverages
	// HasFull is false when the kernel gives no "full" line (CPU pressure
	// before Linux 5.13).
	HasFull bool
}

// PSIAverages holds the 10 s and 60 s running averages, in percent.
type PSIAverages struct {
	Avg10, Avg60 float64
}

// FilesystemSpace is statfs of one mount point.
type FilesystemSpace struct {
	MountPoint     string
	SizeBytes      uint64
	FreeBytes      uint64 // free for root
	AvailableBytes uint64 // free for unprivileged users
	UsedBytes      uint64 // SizeBytes - FreeBytes
	Files          uint64
	FilesFree      uint64
}

// HostRates are the figures derived from two consecutive readings.
type HostRates struct {
	// Interval is the wall time between the two readings.
	Interval time.Duration
	CPU      CPUCores
	Disks    []DiskIO
	Networks []NetworkIO
}

// CPUCores splits CPU time by mode, in cores: 1.5 means one and a half
// CPUs' worth of time during the interval. Each CPU online in both
// readings contributes the fraction of its own ticks spent in each mode, so
// the figures do not depend on when exactly the sampler woke up, and a CPU
// unplugged between readings is left out rather than counted as idle.
type CPUCores struct {
	// Used = User + Nice + System + IRQ + SoftIRQ: time this machine's
	// tasks kept a CPU busy. Guest time is inside User and Nice.
	Used    float64
	User    float64
	Nice    float64
	System  float64
	IRQ     float64
	SoftIRQ float64
	// IOWait is idle time with I/O outstanding; not part of Used.
	IOWait float64
	// Steal is time the hypervisor ran someone else; not part of Used and
	// not available to this machine.
	Steal float64
	Idle  float64
}

// DiskIO is the I/O rate of one whole block device, from /proc/diskstats.
type DiskIO struct {
	Device              string
	ReadBytesPerSecond  float64
	WriteBytesPerSecond float64
	ReadsPerSecond      float64
	WritesPerSecond     float64
	// Busy is the fraction of the interval with I/O in flight (0-1).
	Busy float64
}

// NetworkIO is the traffic of one interface, from /proc/net/dev.
type NetworkIO struct {
	Interface                string
	ReceiveBytesPerSecond    float64
	TransmitBytesPerSecond   float64
	ReceivePacketsPerSecond  float64
	TransmitPacketsPerSecond float64
}

// OwnUsage is what Gleaner itself (the agent and its tasks) uses.
type OwnUsage struct {
	// Source says where the figures come from: "tree:<pid>" or
	// "cgroup:<path>".
	Source string
	// CPUCores is nil on the first reading.
	CPUCores *float64
	// MemoryBytes is resident memory: the sum of RSS over the process
	// tree (shared pages counted once per process), or the cgroup's
	// usage minus its inactive file cache (the working set).
	MemoryBytes uint64
	// Processes is the number of processes in the tree; 0 for a cgroup.
	Processes int
}

// BusinessUsage is host usage minus Gleaner's own: what the machine's
// business is using. Figures are never negative.
type BusinessUsage struct {
	// CPUCores is nil on the first reading.
	CPUCores    *float64
	MemoryBytes uint64
	// Notes explains every figure that had to be clamped because the
	// inputs disagreed (for example own CPU above host CPU because the
	// two were read a few microseconds apart). Empty when they agree.
	Notes []string
}
