package isolate

import (
	"fmt"
	"math"

	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// This file is the one place where Limits become cgroup settings. The
// functions are pure so that both versions are tested on any host.

// cpuMode decides how l's CPU limit is enforced on a host with feat: a hard
// limit needs CFS bandwidth control; without it, the hard request fails with
// ErrNotSupported unless fallback allows shares, in which case the returned
// mode is Soft and fellBack is true.
func cpuMode(l Limits, feat Features, fallback bool) (mode CPUMode, fellBack bool, err error) {
	if l.CPUMode == Soft {
		if !feat.CPUShares {
			return 0, false, fmt.Errorf("%w: soft CPU limit needs cpu shares/weight", ErrNotSupported)
		}
		return Soft, false, nil
	}
	if feat.CPUQuota {
		return Hard, false, nil
	}
	if fallback && feat.CPUShares {
		return Soft, true, nil
	}
	return 0, false, fmt.Errorf("%w: hard CPU limit needs CFS bandwidth control (cpu.cfs_quota_us / cpu.max), absent on this kernel", ErrNotSupported)
}

// periodUs is CFSPeriod in microseconds, as the cgroup files take it.
var periodUs = uint64(CFSPeriod.Microseconds())

// v1Resources maps l to cgroup v1 settings: cpu.shares, cpu.cfs_period_us
// and cpu.cfs_quota_us (-1 in soft mode), memory.limit_in_bytes,
// memory.memsw.limit_in_bytes (memory + swap; only when swap is accounted)
// and pids.max. parentQuotaUs, when positive, caps the quota: cgroup v1
// refuses a child quota above its parent's (v2 takes the minimum itself).
func v1Resources(l Limits, mode CPUMode, swap bool, parentQuotaUs int64) *specs.LinuxResources {
	sh := shares(l.CPUs)
	period := periodUs
	quota := int64(-1)
	if mode == Hard {
		quota = quotaUs(l.CPUs)
		if parentQuotaUs > 0 {
			quota = min(quota, parentQuotaUs)
		}
	}
	mem := l.MemoryBytes
	r := &specs.LinuxResources{
		CPU:    &specs.LinuxCPU{Shares: &sh, Period: &period, Quota: &quota},
		Memory: &specs.LinuxMemory{Limit: &mem},
	}
	if swap {
		memsw := int64(-1)
		if l.MemorySwapBytes >= 0 {
			memsw = mem + l.MemorySwapBytes
		}
		r.Memory.Swap = &memsw
	}
	if l.PidsMax > 0 {
		pids := l.PidsMax
		r.Pids = &specs.LinuxPids{Limit: &pids}
	}
	return r
}

// v2Resources maps l to cgroup v2 settings: cpu.weight (from the v1 shares by
// containerd's conversion), cpu.max ("max 100000" in soft mode),
// memory.max, memory.swap.max (swap alone; only when swap is accounted) and
// pids.max ("max" for no limit).
func v2Resources(l Limits, mode CPUMode, swap bool) *cgroup2.Resources {
	weight := cgroup2.ConvertCPUSharesToCgroupV2Value(shares(l.CPUs))
	period := periodUs
	var max cgroup2.CPUMax
	if mode == Hard {
		quota := quotaUs(l.CPUs)
		max = cgroup2.NewCPUMax(&quota, &period)
	} else {
		max = cgroup2.NewCPUMax(nil, &period)
	}
	mem := l.MemoryBytes
	r := &cgroup2.Resources{
		CPU:    &cgroup2.CPU{Weight: &weight, Max: max},
		Memory: &cgroup2.Memory{Max: &mem},
		Pids:   &cgroup2.Pids{Max: -1},
	}
	if swap {
		// memory.swap.max takes "max", not -1; the kernel clamps a huge
		// value to its maximum, which is the same.
		sw := int64(math.MaxInt64)
		if l.MemorySwapBytes >= 0 {
			sw = l.MemorySwapBytes
		}
		r.Memory.Swap = &sw
	}
	if l.PidsMax > 0 {
		r.Pids.Max = l.PidsMax
	}
	return r
}

// v1ParentResources maps a reservation to the parent cgroup's v1 settings:
// a CFS quota and a memory limit. Shares are left alone.
func v1ParentResources(cpus float64, memoryBytes int64) *specs.LinuxResources {
	period, quota, mem := periodUs, quotaUs(cpus), memoryBytes
	return &specs.LinuxResources{
		CPU:    &specs.LinuxCPU{Period: &period, Quota: &quota},
		Memory: &specs.LinuxMemory{Limit: &mem},
	}
}

// v2ParentResources maps a reservation to the parent cgroup's v2 settings.
func v2ParentResources(cpus float64, memoryBytes int64) *cgroup2.Resources {
	period, quota, mem := periodUs, quotaUs(cpus), memoryBytes
	return &cgroup2.Resources{
		CPU:    &cgroup2.CPU{Max: cgroup2.NewCPUMax(&quota, &period)},
		Memory: &cgroup2.Memory{Max: &mem},
	}
}

// deviceRules maps DefaultDevices to the runtime spec's device cgroup
// entries: deny everything, then allow the list. Both containerd managers
// take them: v1 writes devices.deny and devices.allow, v2 attaches an eBPF
// device program.
func deviceRules() []specs.LinuxDeviceCgroup {
	out := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	for _, d := range DefaultDevices {
		major, minor := d.Major, d.Minor
		var pmaj, pmin *int64
		if major >= 0 {
			pmaj = &major
		}
		if minor >= 0 {
			pmin = &minor
		}
		out = append(out, specs.LinuxDeviceCgroup{Allow: true, Type: string(d.Type), Major: pmaj, Minor: pmin, Access: d.Access})
	}
	return out
}
