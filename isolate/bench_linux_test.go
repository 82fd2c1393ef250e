package isolate

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"
)

// BenchmarkTaskLifecycle measures create + limit + add a process + destroy
// (freeze, kill, thaw, wait, remove) of a task cgroup. Goal: under 2 ms.
// Starting and reaping the process are not timed. "empty" leaves out the
// process: its difference is the kernel's cost of moving a process between
// v1 cgroups (an RCU grace period) and of the process dying.
func BenchmarkTaskLifecycle(b *testing.B) {
	for _, withProc := range []bool{false, true} {
		name := "empty"
		if withProc {
			name = "with-process"
		}
		b.Run(name, func(b *testing.B) {
			iso := newTestIsolator(b)
			ctx := context.Background()
			l := Limits{CPUs: 0.5, MemoryBytes: 64 << 20, PidsMax: 64}
			b.ReportAllocs()
			b.ResetTimer()
			for n := range b.N {
				var waited chan struct{}
				var cmd *exec.Cmd
				if withProc {
					b.StopTimer()
					cmd = exec.Command("/bin/sleep", "60")
					if err := cmd.Start(); err != nil {
						b.Fatal(err)
					}
					waited = make(chan struct{})
					go func() { _ = cmd.Wait(); close(waited) }()
					b.StartTimer()
				}
				task, err := iso.Create(fmt.Sprintf("bench-%d", n), l)
				if err != nil {
					b.Fatal(err)
				}
				if withProc {
					if err := task.AddPID(cmd.Process.Pid); err != nil {
						b.Fatal(err)
					}
				}
				if err := task.Destroy(ctx); err != nil {
					b.Fatal(err)
				}
				if withProc {
					b.StopTimer()
					<-waited
					b.StartTimer()
				}
			}
		})
	}
}

// BenchmarkStats measures one stats read of a task with a process. Goal:
// under 100 µs.
func BenchmarkStats(b *testing.B) {
	iso := newTestIsolator(b)
	task, err := iso.Create("stats", Limits{CPUs: 0.5, MemoryBytes: 64 << 20, PidsMax: 64})
	if err != nil {
		b.Fatal(err)
	}
	h := startHelper(b, "sleep")
	if err := task.AddPID(h.pid()); err != nil {
		b.Fatal(err)
	}
	// The first read opens the control files the later ones re-read: setup,
	// not the steady-state cost (it would be all of -benchtime 1x).
	if _, err := task.Stats(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := task.Stats(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCPULimitAccuracy reports used ÷ limit for a hard-limited task
// running two busy threads, over a 1 s window per iteration. 1.0 is exact.
func BenchmarkCPULimitAccuracy(b *testing.B) {
	for _, cpus := range []float64{0.25, 0.5, 1, 1.5} {
		b.Run(fmt.Sprintf("cpus=%g", cpus), func(b *testing.B) {
			iso := newTestIsolator(b)
			boostParent(b, iso)
			task, err := iso.Create("acc", Limits{CPUs: cpus, MemoryBytes: 256 << 20})
			if err != nil {
				b.Fatal(err)
			}
			h := startHelper(b, "spin", "GLEANER_ISOLATE_SPINNERS=2")
			if err := task.AddPID(h.pid()); err != nil {
				b.Fatal(err)
			}
			h.release(b)
			b.ReportAllocs()
			b.ResetTimer()
			var ratio float64
			for range b.N {
				ratio += measureCPU(b, time.Second, task) / cpus
			}
			b.ReportMetric(ratio/float64(b.N), "used/limit")
		})
	}
}
