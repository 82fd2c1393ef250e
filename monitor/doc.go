// Package monitor measures what a business machine is using and what
// Gleaner itself (the agent and its tasks) is using, so that the difference
// (the business's usage) can be turned into an idle-resource estimate.
//
// A Host reads CPU (per mode, in cores, from /proc/stat deltas), memory
// (MemAvailable), load, pressure stall information, file-system space,
// disk I/O and network rates. A ProcessTree or a Cgroup reads Gleaner's own
// usage. A Sampler does both every interval, keeps the last samples and
// hands each new one to subscribers without blocking; a Collector exports
// the newest one to Prometheus. Every path is under a configurable /proc
// and /sys root, so the same code runs on fixture trees in tests.
//
// The shortest use:
//
//	s, err := monitor.NewSampler(monitor.WithProcessTree(os.Getpid()))
//	if err != nil {
//		return err
//	}
//	sub := s.Subscribe(8)
//	go s.Run(ctx) // closes sub.C() and returns when ctx is done
//	for sample := range sub.C() {
//		if b := sample.Business; b != nil && b.CPUCores != nil {
//			fmt.Printf("business uses %.2f cores\n", *b.CPUCores)
//		}
//	}
//
// Rates need two readings: on the first sample after start, HostSample.Rates,
// OwnUsage.CPUCores and BusinessUsage.CPUCores are nil, never a zero that
// looks real.
package monitor
