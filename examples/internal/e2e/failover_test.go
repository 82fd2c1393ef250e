//go:build linux

package e2e

import (
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/demo/cluster"
	"github.com/gleaner/gleaner/examples/internal/api"
)

// TestMasterLeaderKilledFollowerTakesOverNoTaskLost runs two masters and
// three agents on separate (network-namespace) hosts, kills the leading
// master's process with SIGKILL once six tasks run, and checks that the
// follower becomes leader and still has exactly those six tasks running:
// none lost, none launched again.
func TestMasterLeaderKilledFollowerTakesOverNoTaskLost(t *testing.T) {
	h := newHosts(t, 2)
	for _, rack := range []string{"r1", "r2", "r3"} {
		h.startAgent(cluster.AgentSpec{ID: "agent-" + rack, Attributes: map[string]string{"rack": rack},
			Capacity: "cpus:1;mem:512"})
	}
	fw := h.framework()
	submit(t, fw, `{"id": "/steady", "cmd": "sleep 100000", "cpus": 0.05, "mem": 16, "disk": 8,
		"instances": 6, "constraints": [["rack", "GROUP_BY", "3"]]}`)
	client := h.client(h.MasterURLs()...)
	st := waitState(t, client, 60*time.Second, "6 running instances of /steady", func(st api.State) bool {
		return len(running(st, "/steady")) == 6
	})
	before := taskIDs(running(st, "/steady"))

	leader, follower := h.masters[0], h.masters[1]
	if st.Leader == follower.url {
		leader, follower = follower, leader
	} else if st.Leader != leader.url {
		t.Fatalf("leader %q is neither master (%s, %s)", st.Leader, leader.url, follower.url)
	}
	killed := time.Now()
	leader.kill()

	followerOnly := h.client(follower.url)
	waitState(t, followerOnly, 30*time.Second, "the follower to lead", func(st api.State) bool {
		return st.Leader == follower.url
	})
	t.Logf("follower leads %v after the leader was killed", time.Since(killed).Round(time.Millisecond))
	// Let the agents report twice each to the new leader and the framework
	// answer offers of two allocation rounds: a lost task would show as
	// LOST and be replaced by a new one.
	waitState(t, followerOnly, 30*time.Second, "a report of every agent to the new leader", func(st api.State) bool {
		for _, a := range st.Agents {
			if a.LastReport.Before(killed) {
				return false
			}
		}
		return len(st.Agents) == 3
	})
	waitCounter(t, follower.url, metricReports, 2*3, "two reports of each agent to the new leader")
	rounds := counter(t, follower.url, metricAllocations)
	waitCounter(t, follower.url, metricAllocations, rounds+2, "two allocation rounds of the new leader")
	requireSameTasks(t, followerOnly, "/steady", before, "the failover")
}
