//go:build linux

package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/demo/cluster"
	"github.com/gleaner/gleaner/examples/internal/api"
)

// BenchmarkSubmitToAllRunning measures the time from posting an app of 100
// instances to the framework until the master shows all 100 running, with
// three real agents that launch every instance as a process in its own
// cgroup and task root. (The framework's own benchmark measures the same
// with simulated agents, to isolate the control plane.)
func BenchmarkSubmitToAllRunning(b *testing.B) {
	const instances = 100
	c := startCluster(b, cluster.Config{Agents: []cluster.AgentSpec{
		{ID: "bench-1", Attributes: map[string]string{"rack": "r1"}, Capacity: "cpus:2;mem:1024"},
		{ID: "bench-2", Attributes: map[string]string{"rack": "r2"}, Capacity: "cpus:2;mem:1024"},
		{ID: "bench-3", Attributes: map[string]string{"rack": "r3"}, Capacity: "cpus:2;mem:1024"},
	}})
	client := c.Client()
	b.ReportAllocs()
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("/bench/app%d", i)
		start := time.Now()
		submit(b, c, fmt.Sprintf(`{"id": %q, "cmd": "sleep 100000", "cpus": 0.01, "mem": 8, "disk": 1, "instances": %d}`, id, instances))
		waitState(b, client, 120*time.Second, fmt.Sprintf("%d running instances of %s", instances, id), func(st api.State) bool {
			return len(running(st, id)) == instances
		})
		total += time.Since(start)

		b.StopTimer()
		req, _ := http.NewRequestWithContext(b.Context(), http.MethodDelete, c.FrameworkURL()+"/v2/apps"+id, nil)
		resp, err := c.HTTPClient().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		waitState(b, client, 120*time.Second, "the app's tasks to end", func(st api.State) bool {
			return len(running(st, id)) == 0
		})
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s-to-running/app")
}
