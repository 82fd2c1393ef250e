//go:build linux

package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/examples/demo/cluster"
	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/testenv"
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

// BenchmarkAttributeMove measures, with the cluster's default intervals,
// the time from deleting an attribute in etcd to every task that depended
// on it running on another agent: the master's watch, the framework's
// recheck and kill, the agent's kill, the offer round and the launch
// elsewhere. Goal: p50 at most 1,000 ms without -race. Each iteration
// strips ssd from the agent running both instances of an app that needs
// it, so that they move to the other ssd agent; the attribute comes back
// between iterations, untimed. It reports p50-ms and max-ms.
func BenchmarkAttributeMove(b *testing.B) {
	const capacity = "cpus:1;mem:512"
	c := startCluster(b, cluster.Config{
		Interval: time.Second, // the cluster's default
		Agents: []cluster.AgentSpec{
			{ID: "ssd-1", Attributes: map[string]string{"rack": "r1", "ssd": "true"}, Capacity: capacity},
			{ID: "ssd-2", Attributes: map[string]string{"rack": "r2"}, Capacity: capacity},
			{ID: "plain", Attributes: map[string]string{"rack": "r3"}, Capacity: capacity},
		},
	})
	store, err := attrs.NewEtcdStore(c.Etcd(), attrs.WithPrefix(c.Prefix()))
	if err != nil {
		b.Fatal(err)
	}
	client := c.Client()
	// on returns the agent running every instance of /db, or "".
	on := func(st api.State) string {
		r := running(st, "/db")
		if len(r) != 2 || r[0].AgentID != r[1].AgentID {
			return ""
		}
		return r[0].AgentID
	}
	hasSSD := func(st api.State, agent string) bool {
		for _, a := range st.Agents {
			if a.ID == agent {
				return a.Attributes["ssd"] == "true"
			}
		}
		return false
	}
	submit(b, c, `{"id": "/db", "cmd": "sleep 100000", "cpus": 0.05, "mem": 16, "disk": 8,
		"instances": 2, "constraints": [["ssd", "IS", "true"]]}`)
	waitState(b, client, 60*time.Second, "/db running on ssd-1", func(st api.State) bool { return on(st) == "ssd-1" })
	if _, err := store.Set(b.Context(), "ssd-2", "ssd", attrs.Text("true")); err != nil {
		b.Fatal(err)
	}
	waitState(b, client, 30*time.Second, "ssd-2 to have ssd", func(st api.State) bool { return hasSSD(st, "ssd-2") })

	var took []time.Duration
	victim, other := "ssd-1", "ssd-2"
	b.ReportAllocs()
	for b.Loop() {
		deleted := time.Now()
		if _, err := store.Delete(b.Context(), victim, "ssd"); err != nil {
			b.Fatal(err)
		}
		waitState(b, client, 60*time.Second, "/db running in full on "+other, func(st api.State) bool { return on(st) == other })
		took = append(took, time.Since(deleted))

		b.StopTimer()
		if _, err := store.Set(b.Context(), victim, "ssd", attrs.Text("true")); err != nil {
			b.Fatal(err)
		}
		waitState(b, client, 30*time.Second, victim+" to have ssd again", func(st api.State) bool { return hasSSD(st, victim) })
		victim, other = other, victim
		b.StartTimer()
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[(len(took)-1)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "max-ms")
}

// BenchmarkRollingRestart restarts an app of 100 instances with a COMMAND
// health check (run by the agents inside each task's root and cgroup) on
// three real agents, with minimumHealthCapacity 0.5 and no room above the
// instance count: half the old tasks go at once, and each further one only
// when a new one is healthy. It reports the seconds from the restart until
// the deployment is done with every task new and healthy, and the least
// number of healthy tasks the framework showed meanwhile, which must never
// fall below 50. The check runs once at each task's start and then every
// 30 s, so that the checks' launches do not crowd the two cores.
func BenchmarkRollingRestart(b *testing.B) {
	const instances, minHealthy = 100, 50
	c := startCluster(b, cluster.Config{Agents: []cluster.AgentSpec{
		{ID: "roll-1", Attributes: map[string]string{"rack": "r1"}, Capacity: "cpus:2;mem:3072"},
		{ID: "roll-2", Attributes: map[string]string{"rack": "r2"}, Capacity: "cpus:2;mem:3072"},
		{ID: "roll-3", Attributes: map[string]string{"rack": "r3"}, Capacity: "cpus:2;mem:3072"},
	}})
	url, id := c.FrameworkURL(), "/bench/rolling"
	submit(b, c, fmt.Sprintf(`{"id": %q, "cmd": "sleep 100000", "cpus": 0.01, "mem": 48, "instances": %d,
		"healthChecks": [{"protocol": "COMMAND", "command": {"value": "test -x /bin/sh"},
			"gracePeriodSeconds": 60, "intervalSeconds": 30, "timeoutSeconds": 20, "maxConsecutiveFailures": 3}],
		"upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0}}`, id, instances))
	testenv.Eventually(b, 300*time.Second, func() bool { return settled(appStatus(b, url, id)) }, "%d healthy instances of %s", instances, id)

	b.ReportAllocs()
	var total time.Duration
	least := instances
	for b.Loop() {
		before := appStatus(b, url, id).VersionInfo.LastConfigChangeAt
		start := time.Now()
		if code, body := call(b, http.MethodPost, url+"/v2/apps"+id+"/restart", ""); code != http.StatusOK {
			b.Fatalf("restart: %d %s", code, body)
		}
		testenv.Eventually(b, 300*time.Second, func() bool {
			a := appStatus(b, url, id)
			least = min(least, a.TasksHealthy)
			if a.VersionInfo.LastConfigChangeAt == before || !settled(a) {
				return false
			}
			for _, t := range a.Tasks {
				if t.Version != a.VersionInfo.LastConfigChangeAt {
					return false
				}
			}
			return true
		}, "the restart of %s to end", id)
		total += time.Since(start)
	}
	if least < minHealthy {
		b.Fatalf("healthy tasks fell to %d during the restart, want at least %d", least, minHealthy)
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s-to-restart/app")
	b.ReportMetric(float64(least), "min-healthy")
}
