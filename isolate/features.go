package isolate

import (
	"fmt"
	"slices"
	"strings"
)

// Mode is the cgroup layout of the host, as containerd's cgroups.Mode reports it.
type Mode int

const (
	// Unavailable: no cgroup file system is mounted.
	Unavailable Mode = iota
	// Legacy: only cgroup v1 hierarchies.
	Legacy
	// Hybrid: cgroup v1 hierarchies hold the controllers; a cgroup v2
	// hierarchy is mounted (usually at /sys/fs/cgroup/unified) without them.
	Hybrid
	// Unified: only cgroup v2.
	Unified
)

func (m Mode) String() string {
	switch m {
	case Unavailable:
		return "unavailable"
	case Legacy:
		return "legacy"
	case Hybrid:
		return "hybrid"
	case Unified:
		return "unified"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Version is the cgroup version isolate drives on a host of this mode: 1 for
// Legacy and Hybrid, 2 for Unified, 0 when cgroups are unavailable.
func (m Mode) Version() int {
	switch m {
	case Legacy, Hybrid:
		return 1
	case Unified:
		return 2
	}
	return 0
}

// Features is what the host's kernel offers for isolating tasks.
type Features struct {
	// Mode is the host's cgroup layout.
	Mode Mode
	// Controllers lists the controllers that are mounted (v1) or enabled at
	// the root (v2) and writable by this process, sorted.
	Controllers []string
	// CPUQuota reports CFS bandwidth control (cpu.cfs_quota_us on v1,
	// cpu.max on v2): hard CPU limits are possible.
	CPUQuota bool
	// CPUShares reports cpu.shares (v1) or cpu.weight (v2): soft CPU limits.
	CPUShares bool
	// CPUAccounting reports per-cgroup CPU usage (cpuacct on v1, cpu.stat on v2).
	CPUAccounting bool
	// Memory reports the memory controller.
	Memory bool
	// SwapAccounting reports that swap use can be limited
	// (memory.memsw.* on v1, memory.swap.max on v2).
	SwapAccounting bool
	// Pids reports the pids controller.
	Pids bool
	// Freezer reports a freezer (the v1 freezer controller; built into v2).
	Freezer bool
	// PSI reports pressure stall information per cgroup (cpu.pressure in
	// the cgroup directories).
	PSI bool
	// Mounts maps each usable v1 controller to its hierarchy's mount point;
	// on v2 it maps "unified" to the cgroup2 mount point.
	Mounts map[string]string
}

// Has reports whether controller is mounted and usable.
func (f Features) Has(controller string) bool {
	return slices.Contains(f.Controllers, controller)
}

func (f Features) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mode=%s v%d controllers=%s", f.Mode, f.Mode.Version(), strings.Join(f.Controllers, ","))
	for _, x := range []struct {
		name string
		on   bool
	}{
		{"cfs-quota", f.CPUQuota}, {"shares", f.CPUShares}, {"cpu-accounting", f.CPUAccounting},
		{"memory", f.Memory}, {"swap-accounting", f.SwapAccounting}, {"pids", f.Pids},
		{"freezer", f.Freezer}, {"psi", f.PSI},
	} {
		sign := "-"
		if x.on {
			sign = "+"
		}
		b.WriteString(" " + sign + x.name)
	}
	return b.String()
}
