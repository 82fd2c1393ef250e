package isolate

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// CPUMode says how a task's CPU limit is enforced.
type CPUMode int

const (
	// Hard enforces the limit with CFS bandwidth control (a quota per
	// period): a 1-CPU task never uses more than one core, even on an idle
	// machine. It also sets shares, as Mesos does, so that under contention
	// tasks split the CPU in proportion.
	Hard CPUMode = iota
	// Soft sets only CPU shares (cgroup v2: cpu.weight): under contention the
	// task gets its proportion, and it may use idle CPU beyond its share.
	Soft
)

func (m CPUMode) String() string {
	switch m {
	case Hard:
		return "hard"
	case Soft:
		return "soft"
	}
	return "CPUMode(" + strconv.Itoa(int(m)) + ")"
}

// Minimums and constants of the CPU and memory mapping, from Mesos's cgroups
// isolators.
const (
	// SharesPerCPU is the number of cpu.shares given per CPU.
	SharesPerCPU = 1024
	// MinShares is the smallest cpu.shares value the kernel accepts.
	MinShares = 2
	// MaxShares is the largest cpu.shares value the kernel accepts.
	MaxShares = 262144
	// CFSPeriod is the CFS bandwidth period used for every quota.
	CFSPeriod = 100 * time.Millisecond
	// MinCFSQuota is the smallest quota given per period.
	MinCFSQuota = time.Millisecond
	// MinCPUs is the smallest CPU limit accepted: MinCFSQuota per CFSPeriod.
	MinCPUs = float64(MinCFSQuota) / float64(CFSPeriod)
	// MinMemoryBytes is the smallest memory limit accepted (32 MiB).
	MinMemoryBytes = 32 << 20
	// maxCPUs bounds CPUs so that the quota in microseconds cannot overflow.
	maxCPUs = 1 << 20
)

// Limits are the resources of one task (or, through Resize, of all tasks).
type Limits struct {
	// CPUs is the CPU limit in cores, e.g. 0.5. At least MinCPUs.
	CPUs float64
	// CPUMode chooses a hard (CFS quota) or soft (shares) CPU limit.
	CPUMode CPUMode
	// MemoryBytes is the hard memory limit. Required; at least MinMemoryBytes.
	MemoryBytes int64
	// MemorySwapBytes is the swap the task may use on top of MemoryBytes:
	// 0 allows none, -1 leaves swap unlimited. It is enforced only where the
	// kernel accounts swap (Features.SwapAccounting).
	MemorySwapBytes int64
	// PidsMax caps the number of processes and threads; 0 means no limit.
	PidsMax int64
}

// Validate checks l and returns a *FieldError (matching ErrInvalid) naming
// the first bad field.
func (l Limits) Validate() error {
	if err := validateCPUs("CPUs", l.CPUs); err != nil {
		return err
	}
	if l.CPUMode != Hard && l.CPUMode != Soft {
		return invalid("CPUMode", l.CPUMode, "must be Hard or Soft")
	}
	if err := validateMemory("MemoryBytes", l.MemoryBytes); err != nil {
		return err
	}
	if l.MemorySwapBytes < -1 {
		return invalid("MemorySwapBytes", l.MemorySwapBytes, "must be 0 (no swap), -1 (unlimited) or positive")
	}
	if l.PidsMax < 0 {
		return invalid("PidsMax", l.PidsMax, "must be 0 (no limit) or positive")
	}
	return nil
}

func validateCPUs(field string, cpus float64) error {
	switch {
	case math.IsNaN(cpus) || math.IsInf(cpus, 0):
		return invalid(field, cpus, "must be a finite number")
	case cpus < 0:
		return invalid(field, cpus, "must not be negative")
	case cpus == 0:
		return invalid(field, cpus, "must be set")
	case cpus < MinCPUs:
		return invalid(field, cpus, "below the minimum %g (a %v quota per %v period)", MinCPUs, MinCFSQuota, CFSPeriod)
	case cpus > maxCPUs:
		return invalid(field, cpus, "above the maximum %d", maxCPUs)
	}
	return nil
}

func validateMemory(field string, bytes int64) error {
	switch {
	case bytes == 0:
		return invalid(field, bytes, "must be set")
	case bytes < 0:
		return invalid(field, bytes, "must not be negative")
	case bytes < MinMemoryBytes:
		return invalid(field, bytes, "below the minimum %d (32 MiB)", MinMemoryBytes)
	}
	return nil
}

// ValidateName checks a task name: one non-empty path element, no "/", not
// "." or "..", no NUL, at most 255 bytes.
func ValidateName(name string) error {
	switch {
	case name == "":
		return invalid("name", `""`, "must not be empty")
	case name == "." || name == "..":
		return invalid("name", name, "must not be . or ..")
	case strings.ContainsAny(name, "/\x00"):
		return invalid("name", name, "must not contain / or NUL")
	case len(name) > 255:
		return invalid("name", name[:32]+"...", "longer than 255 bytes")
	}
	return nil
}

// validateParent checks a parent cgroup path such as "/gleaner" or
// "agents/gleaner": every element must be a valid name.
func validateParent(parent string) (string, error) {
	p := strings.Trim(parent, "/")
	if p == "" {
		return "", invalid("WithParent", parent, "must name a cgroup below the root")
	}
	for _, el := range strings.Split(p, "/") {
		if err := ValidateName(el); err != nil {
			return "", invalid("WithParent", parent, "element %q: %v", el, err.(*FieldError).Reason)
		}
	}
	return "/" + p, nil
}

// shares maps CPUs to cpu.shares: 1024 per CPU, clamped to [MinShares, MaxShares].
func shares(cpus float64) uint64 {
	s := uint64(math.Round(cpus * SharesPerCPU))
	return min(max(s, MinShares), MaxShares)
}

// quotaUs maps CPUs to a CFS quota in microseconds per CFSPeriod, at least
// MinCFSQuota.
func quotaUs(cpus float64) int64 {
	q := int64(math.Round(cpus * float64(CFSPeriod.Microseconds())))
	return max(q, MinCFSQuota.Microseconds())
}
