//go:build linux

package e2e

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/demo/cluster"
	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/isolate"
)

// TestAgentRestartKeepsRunningTasks kills an agent's process (SIGKILL) on
// its own host while it runs tasks, starts it again on the same directory,
// and checks that the tasks' processes never stopped, that the new agent
// reports the same tasks running, and that the master lost none and the
// framework launched none again.
func TestAgentRestartKeepsRunningTasks(t *testing.T) {
	h := newHosts(t, 1)
	spec := cluster.AgentSpec{ID: "restarted", Attributes: map[string]string{"rack": "r1"}, Capacity: "cpus:1;mem:512"}
	h.startAgent(spec)
	fw := h.framework()
	submit(t, fw, `{"id": "/keep", "cmd": "exec sleep 100000", "cpus": 0.05, "mem": 16, "disk": 8, "instances": 3}`)
	client := h.client(h.MasterURLs()...)
	st := waitState(t, client, 60*time.Second, "3 running instances of /keep", func(st api.State) bool {
		return len(running(st, "/keep")) == 3
	})
	before := taskIDs(running(st, "/keep"))

	features, err := isolate.Detect()
	if err != nil {
		t.Fatal(err)
	}
	pids := func() map[string]string {
		out := map[string]string{}
		for _, id := range before {
			b, _ := os.ReadFile(filepath.Join(features.Mounts["memory"], h.cgroupRoot, spec.ID, id, "cgroup.procs"))
			out[id] = strings.TrimSpace(string(b))
		}
		return out
	}
	pidsBefore := pids()
	for id, p := range pidsBefore {
		if p == "" {
			t.Fatalf("task %s has no process in its cgroup before the restart", id)
		}
	}

	h.agents[spec.ID].kill()
	// Two allocation rounds of the master pass with the agent dead.
	master := h.masters[0].url
	rounds := counter(t, master, metricAllocations)
	waitCounter(t, master, metricAllocations, rounds+2, "two allocation rounds with the agent dead")
	if got := pids(); !maps.Equal(got, pidsBefore) {
		t.Fatalf("with the agent dead, task processes %v, want %v still running", got, pidsBefore)
	}
	reports := counter(t, master, metricReports)
	h.startAgent(spec)

	// After three reports from the new agent the master must still hold
	// the same tasks, running.
	waitCounter(t, master, metricReports, reports+3, "three reports from the new agent")
	st = requireSameTasks(t, client, "/keep", before, "the agent restart")
	for _, task := range st.Tasks {
		if slices.Contains(before, task.TaskID) && task.AgentID != spec.ID {
			t.Errorf("task %s moved to %s", task.TaskID, task.AgentID)
		}
	}
	if got := pids(); !maps.Equal(got, pidsBefore) {
		t.Errorf("after the restart, task processes %v, want the same %v", got, pidsBefore)
	}
}
