package offer

import (
	"fmt"
	"testing"
)

// matchBenchCluster is the shape BenchmarkMatch measures: 10,000 agents
// with 5 attributes each in 100 racks, and 10,000 pending tasks across 100
// apps with 3 constraints each (UNIQUE hostname, GROUP_BY rack, LIKE zone).
func matchBenchCluster() ([]Offer, []Task) {
	const agents, apps, perApp = 10_000, 100, 100
	res := MustParseResources("cpus:16;mem:65536;disk:1000000")
	offers := make([]Offer, agents)
	for i := range offers {
		host := fmt.Sprintf("host-%05d.dc1", i)
		offers[i] = Offer{
			ID: fmt.Sprintf("o-%d", i), AgentID: fmt.Sprintf("agent-%d", i), Hostname: host, FrameworkID: "fw",
			Attributes: map[string]string{
				"rack":  fmt.Sprintf("rack-%03d", i%100),
				"zone":  fmt.Sprintf("zone-%d", i%10),
				"gen":   fmt.Sprint(2 + i%3),
				"os":    "linux",
				"class": []string{"small", "medium", "large"}[i%3],
			},
			Resources: res,
		}
	}
	taskRes := MustParseResources("cpus:1;mem:2048;disk:1000")
	tasks := make([]Task, 0, apps*perApp)
	for a := range apps {
		app := fmt.Sprintf("/batch/app-%03d", a)
		constraints := []Constraint{
			MustParseConstraint("hostname:UNIQUE"),
			MustParseConstraint("rack:GROUP_BY"),
			MustParseConstraint("zone:LIKE:zone-[0-7]"),
		}
		for i := range perApp {
			tasks = append(tasks, Task{ID: fmt.Sprintf("%s.%d", app, i), AppID: app, Resources: taskRes, Constraints: constraints})
		}
	}
	return offers, tasks
}

// BenchmarkMatch places 10,000 tasks on 10,000 offers with bin-packing and
// reports placements per second. Goal: at least 50,000 on one core
// (go test -bench Match -cpu 1).
func BenchmarkMatch(b *testing.B) {
	offers, tasks := matchBenchCluster()
	b.ReportAllocs()
	placed := 0
	cpu := startCPU()
	for b.Loop() {
		res := Match(offers, tasks, nil, WithStrategy(BinPack))
		if len(res.Pending) != 0 {
			b.Fatalf("%d tasks pending, first: %s", len(res.Pending), res.Pending[0])
		}
		placed += len(res.Launches)
	}
	b.ReportMetric(float64(placed)/b.Elapsed().Seconds(), "placements/s")
	cpu.report(b, float64(placed), "placements/cpu-s")
}

// cpuClock measures the CPU time a benchmark loop used.
type cpuClock struct {
	start float64
	ok    bool
}

func startCPU() cpuClock {
	s, ok := cpuSeconds()
	return cpuClock{start: s, ok: ok}
}

// report adds the metric n per CPU second, where CPU time is available.
// Benchmarks run with -cpu 1 so that this is the throughput of one core.
func (c cpuClock) report(b *testing.B, n float64, unit string) {
	if end, ok := cpuSeconds(); c.ok && ok && end > c.start {
		b.ReportMetric(n/(end-c.start), unit)
	}
}

// BenchmarkMatchPending measures the slow path: every task is rejected by
// every offer, so each is scanned in full and its reasons counted.
func BenchmarkMatchPending(b *testing.B) {
	offers, tasks := matchBenchCluster()
	big := MustParseResources("cpus:17")
	for i := range tasks {
		tasks[i].Resources = big
		tasks[i].ID = fmt.Sprint(i) // distinct tasks, identical classes per app
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res := Match(offers, tasks, nil)
		if len(res.Pending) != len(tasks) {
			b.Fatalf("%d pending, want %d", len(res.Pending), len(tasks))
		}
	}
	b.ReportMetric(float64(len(tasks)*b.N)/b.Elapsed().Seconds(), "tasks/s")
}

// BenchmarkAllocate runs one allocation cycle over 10,000 agents and 1,000
// weighted frameworks. Goal: at most 50 ms per cycle.
func BenchmarkAllocate(b *testing.B) {
	res := MustParseResources("cpus:16;mem:65536;disk:1000000;ports:[31000-32000]")
	agents := make([]Agent, 10_000)
	for i := range agents {
		agents[i] = Agent{ID: fmt.Sprintf("agent-%05d", i), Hostname: fmt.Sprintf("host-%05d", i),
			Attributes: map[string]string{"rack": fmt.Sprint(i % 100)}, Total: res, Free: res}
	}
	b.ReportAllocs()
	offers, cpuSecs := 0, 0.0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a := NewAllocator()
		for _, ag := range agents {
			if err := a.AddAgent(ag); err != nil {
				b.Fatal(err)
			}
		}
		for f := range 1000 {
			if err := a.AddFramework(Framework{ID: fmt.Sprintf("fw-%04d", f), Weight: float64(1 + f%4)}); err != nil {
				b.Fatal(err)
			}
		}
		cpu := startCPU()
		b.StartTimer()
		offers += len(a.Allocate())
		b.StopTimer()
		if end, ok := cpuSeconds(); cpu.ok && ok {
			cpuSecs += end - cpu.start
		}
	}
	if offers != b.N*len(agents) {
		b.Fatalf("%d offers in %d cycles, want one per agent", offers, b.N)
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/cycle")
	if cpuSecs > 0 {
		b.ReportMetric(cpuSecs*1000/float64(b.N), "cpu-ms/cycle")
	}
}

const benchResources = "cpus:24;gpus:2;mem:24576;disk:409600;ports:[21000-24000,30000-34000];bugs(debug_role):{a,b,c};cpus(batch):8.5"

func BenchmarkParseResources(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchResources)))
	for b.Loop() {
		if _, err := ParseResources(benchResources); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "parses/s")
}

func BenchmarkParseResourcesJSON(b *testing.B) {
	data, err := MustParseResources(benchResources).MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	text := string(data)
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := ParseResources(text); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "parses/s")
}

func BenchmarkResourcesString(b *testing.B) {
	r := MustParseResources(benchResources)
	b.ReportAllocs()
	for b.Loop() {
		_ = r.String()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "prints/s")
}

func BenchmarkParseConstraint(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseConstraint("rack:GROUP_BY:3"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "parses/s")
}
