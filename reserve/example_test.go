package reserve_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/gleaner/gleaner/reserve"
)

const gib = 1 << 30

func sample(minute int, cpu, memGiB float64) reserve.Sample {
	return reserve.Sample{
		Time:     time.Date(2026, 7, 1, 0, minute, 0, 0, time.UTC),
		Capacity: reserve.Resources{CPUCores: 8, MemoryBytes: 32 * gib},
		Business: reserve.Resources{CPUCores: cpu, MemoryBytes: memGiB * gib},
	}
}

func ExampleReservation() {
	r, err := reserve.NewReservation(
		reserve.Percentile{Window: 15 * time.Minute, Percentile: 100},
		reserve.Hysteresis{GrowAfter: 5 * time.Minute},
	)
	if err != nil {
		panic(err)
	}
	sub := r.Subscribe()
	defer sub.Close()
	for _, s := range []reserve.Sample{
		sample(0, 2, 8), sample(5, 2, 8), // quiet: lend what is idle after 5 minutes
		sample(6, 6, 8), // the business comes back: shrink at once
	} {
		if _, _, err := r.Observe(s); err != nil {
			panic(err)
		}
		select {
		case c := <-sub.C():
			fmt.Println(c.Reason)
		default:
		}
	}
	// Output:
	// CPU grows 0.00 cores → 6.00 cores after staying higher for 5m (business 2.00 cores of 8.00 cores, estimate 6.00 cores); memory grows 0 B → 24.0 GiB after staying higher for 5m (business 8.0 GiB of 32.0 GiB, estimate 24.0 GiB); policy p100 over 15m
	// CPU shrinks 6.00 cores → 2.00 cores at once (business 6.00 cores of 8.00 cores, estimate 2.00 cores); policy p100 over 15m
}

func ExampleQoS_Decide() {
	start := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	tasks := []reserve.Task{
		{ID: "t-3", Priority: 1, Start: start, CPULimit: 1, MemoryUsage: 1 * gib},
		{ID: "t-17", Priority: 0, Start: start.Add(time.Hour), CPULimit: 1, MemoryUsage: 2 * gib},
	}
	reservation := reserve.Resources{CPUCores: 1, MemoryBytes: 2.1 * gib}
	business := reserve.Resources{CPUCores: 7, MemoryBytes: 21.3 * gib}
	actions, err := reserve.QoS{}.Decide(reservation, business, tasks)
	if err != nil {
		panic(err)
	}
	for _, a := range actions {
		fmt.Println(a.Kind, a.TaskID+":", a.Reason)
	}
	// Output:
	// evict t-17: business memory rose to 21.3 GiB; reservation 2.1 GiB < held 3.0 GiB; evict task t-17 (priority 0, lowest)
}

func ExampleReplay() {
	var samples []reserve.Sample
	for m := range 120 {
		cpu := 2.0
		if m%30 == 29 {
			cpu = 5 // a burst every half hour
		}
		samples = append(samples, sample(m, cpu, 8))
	}
	tr := reserve.Trace{Name: "synthetic", Samples: samples}
	for _, p := range []reserve.Policy{
		reserve.Headroom{},
		reserve.Percentile{Window: time.Hour, Percentile: 100},
	} {
		sc, err := reserve.Replay(tr, p, reserve.Hysteresis{})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-16s CPU harvest %.0f%%, violations %.1f%%\n", p, 100*sc.CPU.HarvestRatio, 100*sc.CPU.ViolationRatio)
	}
	// Output:
	// headroom         CPU harvest 99%, violations 3.4%
	// p100 over 1h     CPU harvest 63%, violations 0.8%
}

func ExampleReadCSV() {
	const trace = `timestamp,cpu,memory
2026-07-01T00:00:00Z,25%,8589934592
2026-07-01T00:05:00Z,25%,8589934592
2026-07-01T00:10:00Z,50%,8589934592
`
	tr, err := reserve.ReadCSV(strings.NewReader(trace), "host.csv",
		reserve.Resources{CPUCores: 8, MemoryBytes: 32 * gib})
	if err != nil {
		panic(err)
	}
	for _, s := range tr.Samples {
		fmt.Printf("%s %.1f of %.0f cores\n", s.Time.Format("15:04"), s.Business.CPUCores, s.Capacity.CPUCores)
	}
	// Output:
	// 00:00 2.0 of 8 cores
	// 00:05 2.0 of 8 cores
	// 00:10 4.0 of 8 cores
}

// Swing keeps back part of how far usage swung lately: memory that
// alternated between 8 and 12 GiB keeps a quarter of the 4 GiB swing on top
// of its peak.
func ExampleSwing() {
	p := reserve.PerResource{
		CPU:    reserve.PeakPolicy(),
		Memory: reserve.Swing{Window: 10 * time.Minute, SwingWindow: time.Hour, Spread: 25},
		Disk:   reserve.PeakPolicy(),
	}
	h := reserve.NewHistory(0)
	for m, mem := range []float64{8, 12, 8, 12, 8, 8, 8} {
		if err := h.Add(sample(5*m, 2, mem)); err != nil {
			panic(err)
		}
	}
	fmt.Printf("memory lent: %.1f GiB\n", p.Estimate(h).MemoryBytes/gib)
	// Output: memory lent: 23.0 GiB
}
