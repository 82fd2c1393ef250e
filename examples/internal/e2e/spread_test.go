//go:build linux

package e2e

import (
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/demo/cluster"
	"github.com/gleaner/gleaner/examples/internal/api"
)

// TestGroupBySpreadsInstancesOverRacks runs an app of six instances with
// rack:GROUP_BY on three agents in racks r1, r2 and r3, and checks that each
// rack runs two of them.
func TestGroupBySpreadsInstancesOverRacks(t *testing.T) {
	c := startCluster(t, cluster.Config{})
	submit(t, c, `{"id": "/spread", "cmd": "sleep 100000", "cpus": 0.05, "mem": 16, "disk": 8,
		"instances": 6, "constraints": [["rack", "GROUP_BY", "3"]]}`)
	client := c.Client()
	st := waitState(t, client, 30*time.Second, "6 running instances of /spread", func(st api.State) bool {
		return len(running(st, "/spread")) == 6
	})
	racks := agentAttrs(st)
	perRack := map[string]int{}
	for _, task := range running(st, "/spread") {
		perRack[racks[task.AgentID]["rack"]]++
	}
	want := map[string]int{"r1": 2, "r2": 2, "r3": 2}
	for rack, n := range want {
		if perRack[rack] != n {
			t.Errorf("rack %s runs %d instances, want %d (all: %v)", rack, perRack[rack], n, perRack)
		}
	}
}
