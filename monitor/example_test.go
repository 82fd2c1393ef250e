//go:build linux

package monitor_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/gleaner/gleaner/monitor"
	"github.com/prometheus/client_golang/prometheus"
)

// A Host reads the machine once per Sample; rates appear from the second
// reading on. Here it reads a fixture tree made from a real /proc.
func ExampleHost() {
	h, err := monitor.NewHost(
		monitor.WithProcRoot("testdata/host/1/proc"),
		monitor.WithSysRoot("testdata/host/1/sys"),
		monitor.WithMounts(), // no statfs on a fixture
	)
	if err != nil {
		log.Fatal(err)
	}
	s, err := h.Sample(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d CPUs, %d online\n", s.CPUs, s.OnlineCPUs)
	fmt.Printf("memory: %d MiB used of %d MiB\n", s.Memory.UsedBytes>>20, s.Memory.TotalBytes>>20)
	fmt.Printf("load: %.2f\n", s.Load.Load1)
	fmt.Printf("cpu pressure (some, 10 s): %.2f%%\n", s.Pressure.CPU.Some.Avg10)
	fmt.Println("rates yet:", s.Rates != nil)
	// Output:
	// 2 CPUs, 2 online
	// memory: 459 MiB used of 24105 MiB
	// load: 1.74
	// cpu pressure (some, 10 s): 3.24%
	// rates yet: false
}

func ExampleCgroup() {
	cg, err := monitor.NewCgroup("testdata/cgroup-v2/1/sys/fs/cgroup", "/gleaner")
	if err != nil {
		log.Fatal(err)
	}
	u, err := cg.Usage(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("cgroup v%d: %.3f CPU seconds, %d MiB working set\n", cg.Version(), u.CPUSeconds, u.MemoryBytes>>20)
	// Output:
	// cgroup v2: 464.014 CPU seconds, 384 MiB working set
}

// A Sampler watching this process's tree on the live host, exported to
// Prometheus and read by a subscriber.
func ExampleSampler() {
	s, err := monitor.NewSampler(
		monitor.WithProcessTree(os.Getpid()),
		monitor.WithInterval(50*time.Millisecond),
	)
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(monitor.NewCollector(s))

	sub := s.Subscribe(4) // before Run, so as not to miss the first sample
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()

	first, second := <-sub.C(), <-sub.C()
	fmt.Println("first sample has CPU rates:", first.Host.Rates != nil, first.Business.CPUCores != nil)
	fmt.Println("second sample has CPU rates:", second.Host.Rates != nil, second.Business.CPUCores != nil)

	cancel()
	<-done // Run has returned: nothing of the sampler is left running
	// Output:
	// first sample has CPU rates: false false
	// second sample has CPU rates: true true
}
