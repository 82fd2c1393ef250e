package master

import (
	"context"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/testenv"
)

// agentState returns one agent's entry of the dashboard state.
func agentState(t *testing.T, c *api.Client, id string) api.AgentState {
	t.Helper()
	st, err := c.State(context.Background())
	require.NoError(t, err)
	for _, a := range st.Agents {
		if a.ID == id {
			return a
		}
	}
	t.Fatalf("agent %s not in the state", id)
	return api.AgentState{}
}

// allocationRounds counts the master's allocation rounds so far.
func allocationRounds(t *testing.T, m *Master) uint64 {
	t.Helper()
	var out dto.Metric
	require.NoError(t, m.metrics.allocation.Write(&out))
	return out.GetHistogram().GetSampleCount()
}

// TestDrainStopsOffersKillsAtTheDeadlineAndEnds: a drained agent's offers
// are rescinded and no more are made; frameworks hear of the drain; at the
// deadline the master kills what is left with the drained reason; the
// agent learns it drains and, empty, reports itself drained; up brings
// its offers back. The drain is kept in etcd: a new term drains it too.
func TestDrainStopsOffersKillsAtTheDeadlineAndEnds(t *testing.T) {
	f := newFixture(t, "cpus:2;mem:1024")
	ctx := context.Background()
	launch(t, f.sched, f.agent, f.s, f.fw, "a1", "job.1")

	_, err := f.sched.Drain(ctx, api.DrainAgent{AgentID: "nobody"})
	require.ErrorIs(t, err, api.ErrNotFound)
	_, err = f.sched.Drain(ctx, api.DrainAgent{AgentID: "a1", DeadlineSeconds: ptr(-1.0)})
	require.ErrorIs(t, err, api.ErrInvalid)

	m, err := f.sched.Drain(ctx, api.DrainAgent{AgentID: "a1", DeadlineSeconds: ptr(1.0)})
	require.NoError(t, err)
	require.True(t, m.Draining)
	require.False(t, m.Drained)
	ev := f.s.next(api.EventMaintenance)
	require.Equal(t, "a1", ev.Maintenance.AgentID)
	require.True(t, ev.Maintenance.Draining)

	// The agent hears it drains; the task is killed once the deadline passed.
	resp, err := f.agent.SendReport(ctx, api.AgentReport{AgentID: "a1", Reservation: "cpus:2;mem:1024",
		Tasks: []api.TaskStatus{{TaskID: "job.1", State: api.TaskRunning}}})
	require.NoError(t, err)
	require.True(t, resp.Draining)
	cmds, err := f.agent.Commands(ctx, "a1", 10*time.Second)
	require.NoError(t, err)
	require.Len(t, cmds, 1)
	require.Equal(t, api.CommandKill, cmds[0].Type)
	require.True(t, strings.HasPrefix(cmds[0].Reason, api.ReasonDrained+": "), cmds[0].Reason)
	_, err = f.agent.Report(ctx, api.AgentReport{AgentID: "a1", Reservation: "cpus:2;mem:1024",
		Tasks: []api.TaskStatus{{TaskID: "job.1", State: api.TaskKilled, Reason: cmds[0].Reason}}, Drained: true})
	require.NoError(t, err)
	st := f.s.update("job.1", api.TaskKilled)
	require.True(t, strings.HasPrefix(st.Reason, api.ReasonDrained), st.Reason)
	ev = f.s.next(api.EventMaintenance)
	require.True(t, ev.Maintenance.Drained)
	a := agentState(t, f.sched.Client, "a1")
	require.NotNil(t, a.Maintenance)
	require.True(t, a.Maintenance.Draining && a.Maintenance.Drained)

	// No offers while it drains, over ten allocation rounds.
	from := allocationRounds(t, f.m.Master)
	testenv.Eventually(t, 30*time.Second, func() bool {
		for {
			select {
			case ev := <-f.s.events:
				require.NotEqual(t, api.EventOffers, ev.Type, "a draining agent was offered")
				continue
			default:
			}
			return allocationRounds(t, f.m.Master) >= from+10
		}
	}, "ten allocation rounds")

	// A new term keeps the drain.
	f.m.stop(t)
	m2 := startMaster(t, f.m.cfg)
	waitLeader(t, m2.Master)
	a = agentState(t, api.NewClient([]string{m2.URL()}, as(t, "operator/ops")), "a1")
	require.NotNil(t, a.Maintenance)
	require.True(t, a.Maintenance.Draining)

	c2 := api.NewSchedulerClient([]string{m2.URL()}, as(t, "framework/batch"))
	s2, fw2 := subscribe(t, c2, api.Subscribe{Name: "batch", FrameworkID: f.fw})
	require.Equal(t, f.fw, fw2)
	ag := api.NewAgentClient([]string{m2.URL()}, as(t, "agent/a1"))
	_, err = ag.Register(ctx, api.RegisterAgent{AgentID: "a1", Hostname: "h1", Reservation: "cpus:2;mem:1024"})
	require.NoError(t, err)
	m, err = c2.Up(ctx, "a1")
	require.NoError(t, err)
	require.False(t, m.Draining)
	require.Equal(t, "cpus:2;mem:1024", s2.offerOn("a1").Resources)
	_, err = c2.Up(ctx, "a1")
	require.ErrorIs(t, err, api.ErrNotFound, "up of an agent that does not drain")
}

// TestMaintenanceWindowDrainsFromItsStartToItsEnd: offers carry the next
// window (Mesos's unavailability); the window drains the agent from its
// start, killing what is left at once, and brings it back up at its end.
func TestMaintenanceWindowDrainsFromItsStartToItsEnd(t *testing.T) {
	f := newFixture(t, "cpus:2;mem:1024")
	ctx := context.Background()
	err := f.sched.SetSchedule(ctx, api.MaintenanceSchedule{Windows: []api.ScheduledWindow{{AgentIDs: []string{"a1"},
		MaintenanceWindow: api.MaintenanceWindow{Start: time.Now(), DurationSeconds: -1}}}})
	require.ErrorIs(t, err, api.ErrInvalid)
	require.ErrorContains(t, err, "windows[0].duration_seconds")

	start := time.Now().Add(2 * time.Second).Truncate(time.Millisecond)
	w := api.MaintenanceWindow{Start: start, DurationSeconds: 2}
	require.NoError(t, f.sched.SetSchedule(ctx, api.MaintenanceSchedule{Windows: []api.ScheduledWindow{{AgentIDs: []string{"a1"}, MaintenanceWindow: w}}}))
	sched, err := f.sched.Schedule(ctx)
	require.NoError(t, err)
	require.Len(t, sched.Windows, 1)
	require.True(t, sched.Windows[0].Start.Equal(start))

	o := f.s.offerOn("a1")
	require.NotNil(t, o.Unavailability, "offers of an agent with a window carry it")
	require.True(t, o.Unavailability.Start.Equal(start))
	require.NoError(t, f.sched.Accept(ctx, api.Accept{FrameworkID: f.fw, OfferIDs: []string{o.ID}, Tasks: []api.TaskInfo{{
		TaskID: "web.1", AppID: "web", OfferID: o.ID, Cmd: "sleep 100", Resources: "cpus:0.5;mem:64"}}}))

	for {
		ev := f.s.next(api.EventMaintenance)
		if ev.Maintenance.Draining {
			require.True(t, ev.Maintenance.Deadline.Equal(start))
			break
		}
	}
	// Killed at once: the deadline is the window's start.
	testenv.Eventually(t, 30*time.Second, func() bool {
		cmds, err := f.agent.Commands(ctx, "a1", time.Second)
		require.NoError(t, err)
		for _, c := range cmds {
			if c.Type == api.CommandKill && c.TaskID == "web.1" && strings.HasPrefix(c.Reason, api.ReasonDrained) {
				return true
			}
		}
		return false
	}, "the kill of web.1 at the window's start")
	for {
		ev := f.s.next(api.EventMaintenance)
		if !ev.Maintenance.Draining {
			require.Empty(t, ev.Maintenance.Windows, "the ended window is gone")
			break
		}
	}
	require.Nil(t, agentState(t, f.sched.Client, "a1").Maintenance)
}
