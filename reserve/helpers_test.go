package reserve

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)

const gib = 1 << 30

// machine is 8 cores, 32 GiB memory, 100 GiB disk.
var machine = Resources{CPUCores: 8, MemoryBytes: 32 * gib, DiskBytes: 100 * gib}

// at returns a sample of machine at minute m with the business using cpu
// cores and mem GiB (and 10 GiB of disk).
func at(m int, cpu, mem float64) Sample {
	return Sample{
		Time:     t0.Add(time.Duration(m) * time.Minute),
		Capacity: machine,
		Business: Resources{CPUCores: cpu, MemoryBytes: mem * gib, DiskBytes: 10 * gib},
	}
}

// historyOf returns a History fed with samples.
func historyOf(t *testing.T, samples ...Sample) *History {
	t.Helper()
	h := NewHistory(0)
	for _, s := range samples {
		if err := h.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b)) }

func approxResources(a, b Resources) bool {
	return approx(a.CPUCores, b.CPUCores) && approx(a.MemoryBytes, b.MemoryBytes) && approx(a.DiskBytes, b.DiskBytes)
}
