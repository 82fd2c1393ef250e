package master

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/examples/internal/api"
)

func TestDashboardStateShowsEvictionsReschedulingAndPending(t *testing.T) {
	f := newFixture(t, "cpus:2;mem:1024")
	ctx, agent, sched, s, fw := context.Background(), f.agent, f.sched, f.s, f.fw
	launch(t, sched, agent, s, fw, "a1", "web.1")

	// QoS evicts the task; the framework re-places it.
	_, err := agent.Report(ctx, api.AgentReport{AgentID: "a1", Reservation: "cpus:2;mem:1024",
		Tasks: []api.TaskStatus{{TaskID: "web.1", State: api.TaskKilled, Reason: "evicted: business memory rose to 90%"}}})
	require.NoError(t, err)
	s.update("web.1", api.TaskKilled)
	o := s.offerOn("a1")
	require.NoError(t, sched.Accept(ctx, api.Accept{FrameworkID: fw, OfferIDs: []string{o.ID}, Tasks: []api.TaskInfo{{
		TaskID: "web.2", AppID: "app", OfferID: o.ID, Cmd: "sleep 1", Resources: "cpus:1", Replaces: "web.1"}}}))
	rejections := []api.Rejection{{Kind: api.RejectConstraint, Name: "rack:GROUP_BY", Offers: 1}, {Kind: api.RejectResource, Name: "cpus", Offers: 1}}
	require.NoError(t, sched.ReportPending(ctx, api.ReportPending{FrameworkID: fw,
		Pending: []api.PendingApp{{AppID: "db", Waiting: 2, Reason: "rack GROUP_BY: 1, cpus: 1", Rejections: rejections}}}))

	state, err := agent.State(ctx)
	require.NoError(t, err)
	require.Equal(t, []api.PendingApp{{FrameworkID: fw, AppID: "db", Waiting: 2, Reason: "rack GROUP_BY: 1, cpus: 1", Rejections: rejections}}, state.Pending)
	var kinds []api.EventKind
	for _, e := range state.Events {
		kinds = append(kinds, e.Kind)
	}
	require.Subset(t, kinds, []api.EventKind{api.KindLeader, api.KindAgentRegistered, api.KindEvicted, api.KindRescheduled})
	last := state.Events[len(state.Events)-1]
	require.Equal(t, api.ClusterEvent{Time: last.Time, Kind: api.KindRescheduled, AgentID: "a1", FrameworkID: fw,
		AppID: "app", TaskID: "web.2", Message: "web.2 replaces web.1 on h1"}, last)
	// Live tasks first, then ended ones.
	require.Len(t, state.Tasks, 2)
	require.Equal(t, "web.2", state.Tasks[0].TaskID)
	require.Equal(t, api.TaskStaging, state.Tasks[0].State)
	require.Equal(t, "web.1", state.Tasks[1].TaskID)
	require.Equal(t, "evicted: business memory rose to 90%", state.Tasks[1].Reason)
}

func TestMetricsAndDashboardAreServed(t *testing.T) {
	f := newFixture(t, "cpus:2;mem:1024")
	m := f.m
	launch(t, f.sched, f.agent, f.s, f.fw, "a1", "t1")

	for range 3 {
		_, err := f.agent.Report(context.Background(), api.AgentReport{AgentID: "a1", Reservation: "cpus:2;mem:1024",
			Tasks: []api.TaskStatus{{TaskID: "t1", State: api.TaskRunning}}})
		require.NoError(t, err)
	}
	var st api.State
	require.Equal(t, http.StatusOK, getJSON(t, m.URL()+api.PathState+"?history=2", &st))
	require.Len(t, st.Agents[0].History, 2)
	require.Equal(t, http.StatusOK, getJSON(t, m.URL()+api.PathState, &st))
	require.Len(t, st.Agents[0].History, 4)
	var er api.ErrorResponse
	require.Equal(t, http.StatusBadRequest, getJSON(t, m.URL()+api.PathState+"?history=-1", &er))
	require.Contains(t, er.Error, `history "-1"`)

	body, ctype := get(t, m.URL()+"/")
	require.Contains(t, ctype, "text/html")
	for _, id := range []string{`id="agents"`, `id="tasks"`, `id="pending"`, `id="events"`, `id="frameworks"`,
		`id="leader"`, `data-loaded="false"`, api.PathState} {
		require.Contains(t, body, id)
	}

	metrics, _ := get(t, m.URL()+api.PathMetrics)
	for _, re := range []string{
		`(?m)^gleaner_master_leader 1$`,
		`(?m)^gleaner_master_agents_up 1$`,
		`(?m)^gleaner_master_frameworks 1$`,
		`(?m)^gleaner_master_tasks_running 1$`,
		`(?m)^gleaner_master_tasks_launched_total 1$`,
		`(?m)^gleaner_master_offers_accepted_total 1$`,
		`(?m)^gleaner_master_offers_total [1-9]`,
		`(?m)^gleaner_master_http_requests_total\{code="200",route="/api/v1/agents/register"\} 1$`,
		`(?m)^gleaner_master_allocation_seconds_count [1-9]`,
	} {
		require.Regexp(t, regexp.MustCompile(re), metrics)
	}
}

func get(t *testing.T, url string) (body, contentType string) {
	t.Helper()
	resp, err := operator(t).Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(data), strings.ToLower(resp.Header.Get("Content-Type"))
}
