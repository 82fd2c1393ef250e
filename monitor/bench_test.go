//go:build linux

package monitor

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkHostSample reads the live host once per iteration, with rates
// (every iteration after the first has a previous reading). Goal: at most
// 200 µs and 50 allocations per sample, so sampling every second costs
// under 0.1% of a core.
func BenchmarkHostSample(b *testing.B) {
	h, err := NewHost(WithMounts("/"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := h.Sample(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := processCPUTime(b)
	for b.Loop() {
		if _, err := h.Sample(ctx); err != nil {
			b.Fatal(err)
		}
	}
	// ns/op is wall time, which on a shared machine includes waiting for
	// a CPU; the CPU time the process spent is the cost of sampling.
	perSample := (processCPUTime(b) - cpu0).Seconds() / float64(b.N)
	b.ReportMetric(perSample*1e6, "cpu-µs/sample")
	b.ReportMetric(perSample*100, "%core@1s")
}

// processCPUTime returns the user+system CPU time of this process so far.
func processCPUTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTreeUsage measures a live tree of 50 processes: a shell and 49
// sleeping children. Every walk reads every process in /proc (to find
// parents), so the cost grows with the host's process count too.
func BenchmarkTreeUsage(b *testing.B) {
	cmd := startTree(b, `for i in $(seq 49); do sleep 600 & done; wait`)
	tree, err := NewProcessTree("/proc", cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		u, err := tree.Usage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if u.Processes == 50 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("tree has %d processes, want 50", u.Processes)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		u, err := tree.Usage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if u.Processes != 50 {
			b.Fatalf("tree has %d processes, want 50", u.Processes)
		}
	}
}
