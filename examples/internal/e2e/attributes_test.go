//go:build linux

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/examples/demo/cluster"
	"github.com/gleaner/gleaner/examples/internal/api"
)

// TestDeletedAttributeMovesDependentTasks runs an app that needs ssd:true on
// the two agents that have it, deletes the attribute of the agent running it
// in etcd, and checks that the tasks there are killed for their constraint
// and the app runs again in full on the agent that still has ssd. How fast
// (goal: within a second) is BenchmarkAttributeMove's figure.
func TestDeletedAttributeMovesDependentTasks(t *testing.T) {
	const capacity = "cpus:1;mem:512"
	c := startCluster(t, cluster.Config{Agents: []cluster.AgentSpec{
		{ID: "ssd-1", Attributes: map[string]string{"rack": "r1", "ssd": "true"}, Capacity: capacity},
		{ID: "ssd-2", Attributes: map[string]string{"rack": "r2", "ssd": "true"}, Capacity: capacity},
		{ID: "plain", Attributes: map[string]string{"rack": "r3"}, Capacity: capacity},
	}})
	// Both instances fit on one agent, so after the move they share the
	// agent that still has ssd.
	submit(t, c, `{"id": "/db", "cmd": "sleep 100000", "cpus": 0.05, "mem": 16, "disk": 8,
		"instances": 2, "constraints": [["ssd", "IS", "true"]]}`)
	client := c.Client()
	st := waitState(t, client, 30*time.Second, "2 running instances of /db", func(st api.State) bool {
		return len(running(st, "/db")) == 2
	})
	// The agent to strip: the one running the first task.
	victim := running(st, "/db")[0].AgentID
	other := map[string]string{"ssd-1": "ssd-2", "ssd-2": "ssd-1"}[victim]
	var moved []string
	for _, task := range running(st, "/db") {
		if task.AgentID == victim {
			moved = append(moved, task.TaskID)
		}
	}

	store, err := attrs.NewEtcdStore(c.Etcd(), attrs.WithPrefix(c.Prefix()))
	if err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	if _, err := store.Delete(t.Context(), victim, "ssd"); err != nil {
		t.Fatal(err)
	}
	st = waitState(t, client, 30*time.Second, "/db running in full on "+other, func(st api.State) bool {
		r := running(st, "/db")
		if len(r) != 2 {
			return false
		}
		for _, task := range r {
			if task.AgentID != other {
				return false
			}
		}
		return true
	})
	t.Logf("tasks moved %v after the attribute was deleted", time.Since(deleted).Round(time.Millisecond))
	for _, id := range moved {
		task, ok := taskView(st, id)
		if !ok {
			continue // ended and already dropped from the state: it is not running
		}
		if task.State != api.TaskKilled || !strings.HasPrefix(task.Reason, api.ReasonConstraint) {
			t.Errorf("task %s on %s: %s %q, want %s with a reason starting %q", id, victim, task.State, task.Reason, api.TaskKilled, api.ReasonConstraint)
		}
	}
}
