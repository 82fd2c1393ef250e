package framework_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/framework"
	"github.com/gleaner/gleaner/internal/testenv"
)

// BenchmarkSubmitToRunning measures the time from posting an app with 100
// instances to the framework's HTTP API until all 100 run, through a real
// master (embedded etcd, weighted-DRF allocation) and ten simulated agents
// on loopback. The master's allocation interval bounds it from below, so it
// runs with a fast one and with the default one.
func BenchmarkSubmitToRunning(b *testing.B) {
	for _, alloc := range []time.Duration{20 * time.Millisecond, time.Second} {
		b.Run(fmt.Sprintf("instances=100/allocation=%s", alloc), func(b *testing.B) {
			benchSubmitToRunning(b, 100, alloc)
		})
	}
}

func benchSubmitToRunning(b *testing.B, instances int, alloc time.Duration) {
	c := startClusterWith(b, alloc)
	for i := range 10 {
		c.addAgent(fmt.Sprintf("a%d", i), "cpus:16;mem:16384", map[string]string{"rack": fmt.Sprintf("r%d", i%3)})
	}
	c.startFramework(framework.Config{})
	b.ReportAllocs()
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("/bench/app%d", i)
		body := fmt.Sprintf(`{"id":%q,"cmd":"sleep 1000","cpus":0.1,"mem":16,"instances":%d}`, id, instances)
		start := time.Now()
		if code := do(b, http.MethodPost, c.fwURL+"/v2/apps", body, nil); code != http.StatusCreated {
			b.Fatalf("POST: %d", code)
		}
		testenv.Eventually(b, 60*time.Second, func() bool { return c.app(id).TasksRunning == instances }, "all instances running")
		total += time.Since(start)

		b.StopTimer()
		do(b, http.MethodDelete, c.fwURL+"/v2/apps"+id, "", nil)
		testenv.Eventually(b, 60*time.Second, func() bool {
			var out struct{ Tasks []framework.TaskView }
			do(b, http.MethodGet, c.fwURL+"/v2/tasks", "", &out)
			return len(out.Tasks) == 0
		}, "the app's tasks to end")
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s-to-running/app")
}
