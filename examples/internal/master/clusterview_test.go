package master

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/testenv"
)

// TestClusterViewSumsTheAgentsAndTheHarvestRatio: the state and /metrics
// lead with the cluster's totals over the agents that are up (a gone
// agent does not count), what is idle and not lent, and the harvest ratio,
// harvested over idle (capacity − business), integrated over the reports.
func TestClusterViewSumsTheAgentsAndTheHarvestRatio(t *testing.T) {
	f := newFixture(t, "cpus:2;mem:1024")
	ctx := context.Background()
	_, err := agentAs(t, f.m.URL(), "a2").Register(ctx, api.RegisterAgent{AgentID: "a2", Hostname: "h2", Reservation: "cpus:1;mem:512"})
	require.NoError(t, err)
	// a1: 8 cores, 4 used by the business, 2 lent, 1 used by batch work;
	// a2: 4 cores, none used by the business, 1 lent, 1 used. Both use a
	// quarter of what is idle (and an eighth of the idle memory), so the
	// ratio is exact however the reports' intervals weigh the agents.
	reports := []api.AgentReport{
		{AgentID: "a1", Capacity: "cpus:8;mem:8192", Reservation: "cpus:2;mem:1024", Business: "cpus:4;mem:4096", Harvested: "cpus:1;mem:512", Tasks: []api.TaskStatus{}},
		{AgentID: "a2", Capacity: "cpus:4;mem:4096", Reservation: "cpus:1;mem:512", Business: "cpus:0;mem:0", Harvested: "cpus:1;mem:512", Tasks: []api.TaskStatus{}},
	}
	for range 3 {
		for _, r := range reports {
			_, err := agentAs(t, f.m.URL(), r.AgentID).Report(ctx, r)
			require.NoError(t, err)
		}
	}
	st, err := f.agent.State(ctx)
	require.NoError(t, err)
	c := st.Cluster
	require.Equal(t, 2, c.AgentsUp)
	require.Equal(t, 12.0, c.Capacity["cpus"])
	require.Equal(t, 12288.0, c.Capacity["mem"])
	require.Equal(t, 3.0, c.Lent["cpus"])
	require.Equal(t, 2.0, c.Harvested["cpus"])
	require.Equal(t, 4.0, c.Business["cpus"])
	require.Equal(t, 5.0, c.IdleNotLent["cpus"], "(8-4-2) + (4-0-1)")
	require.Equal(t, 6656.0, c.IdleNotLent["mem"], "(8192-4096-1024) + (4096-0-512)")
	require.InDelta(t, 0.25, c.HarvestRatio.Hour["cpus"], 1e-9)
	require.InDelta(t, 0.25, c.HarvestRatio.Day["cpus"], 1e-9)
	require.InDelta(t, 0.125, c.HarvestRatio.Hour["mem"], 1e-9)

	resp, err := operator(t).Get(f.m.URL() + api.PathMetrics)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`gleaner_cluster_cpu_cores{figure="capacity"} 12`,
		`gleaner_cluster_cpu_cores{figure="idle_not_lent"} 5`,
		`gleaner_cluster_memory_bytes{figure="lent"} 1.610612736e+09`,
		`gleaner_cluster_harvest_ratio{resource="cpu",window="1h"} 0.25`,
	} {
		require.Contains(t, string(body), want)
	}

	// The chart's history fills as buckets close.
	testenv.Eventually(t, 30*time.Second, func() bool {
		for _, r := range reports {
			if _, err := agentAs(t, f.m.URL(), r.AgentID).Report(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		st, err := f.agent.State(ctx)
		require.NoError(t, err)
		h := st.Cluster.History
		return len(h) > 0 && h[len(h)-1].Capacity["cpus"] > 0 && time.Since(h[0].Time) < time.Minute
	}, "a bucket of the cluster's history")
}
