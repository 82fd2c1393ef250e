package master

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/metricstest"
	"github.com/gleaner/gleaner/internal/etcdtest"
	"github.com/gleaner/gleaner/internal/testenv"
)

var prefixSeq int

// newPrefix returns a cluster prefix of its own for each test.
func newPrefix(t testing.TB) string {
	prefixSeq++
	return fmt.Sprintf("/gleaner-test-master-%d-%d", time.Now().UnixNano()%1e6, prefixSeq)
}

func TestRegisterOfferAcceptLaunchFlow(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	cfg := testConfig(cli, newPrefix(t))
	cfg.MaxPriority = map[string]int{"*": 3}
	m := startMaster(t, cfg)
	waitLeader(t, m.Master)
	ctx := context.Background()

	agent := api.NewAgentClient([]string{m.URL()}, as(t, "agent/a1"))
	reg, err := agent.Register(ctx, api.RegisterAgent{AgentID: "a1", Hostname: "host1",
		Reservation: "cpus:4;mem:4096", Capacity: "cpus:8;mem:16384", Attributes: map[string]string{"rack": "r1"}})
	require.NoError(t, err)
	require.Equal(t, "a1", reg.AgentID)
	require.InDelta(t, 0.1, reg.ReportIntervalSeconds, 1e-9)

	sched := api.NewSchedulerClient([]string{m.URL()}, as(t, "framework/batch"))
	s, fw := subscribe(t, sched, api.Subscribe{Name: "marathon"})
	require.NotEmpty(t, fw)
	o := s.offerOn("a1")
	require.Equal(t, "cpus:4;mem:4096", o.Resources)
	require.Equal(t, "host1", o.Hostname)
	require.Equal(t, map[string]string{"rack": "r1"}, o.Attributes)

	require.NoError(t, sched.Accept(ctx, api.Accept{FrameworkID: fw, OfferIDs: []string{o.ID}, Tasks: []api.TaskInfo{{
		TaskID: "web.1", AppID: "web", OfferID: o.ID, Cmd: "sleep 100", Resources: "cpus:1;mem:512",
		Env: map[string]string{"A": "b"}, Labels: map[string]string{"l": "v"}, Priority: 3,
		Image: &api.Image{Base: "busybox", Version: "1"}, User: "nobody", Network: "none",
		Role: "claimed-by-the-framework"}}}))

	cmds, err := agent.Commands(ctx, "a1", 5*time.Second)
	require.NoError(t, err)
	require.Len(t, cmds, 1)
	require.Equal(t, api.CommandLaunch, cmds[0].Type)
	launched := *cmds[0].Task
	require.Equal(t, api.TaskInfo{TaskID: "web.1", AppID: "web", FrameworkID: fw, AgentID: "a1", Cmd: "sleep 100",
		Resources: "cpus:1;mem:512", Env: map[string]string{"A": "b"}, Labels: map[string]string{"l": "v"}, Priority: 3,
		Revocable: true, Image: &api.Image{Base: "busybox", Version: "1"}, User: "nobody", Network: "none",
		Role: "*"}, launched, "the user and network travel to the agent, the role is the framework's")

	// The agent reports the task running; the framework hears of it.
	_, err = agent.Report(ctx, api.AgentReport{AgentID: "a1", Reservation: "cpus:4;mem:4096",
		Business: "cpus:1.5;mem:2048", Harvested: "cpus:0.5;mem:100", Isolation: "cgroup v1",
		Tasks: []api.TaskStatus{{TaskID: "web.1", State: api.TaskRunning}}})
	require.NoError(t, err)
	st := s.update("web.1", api.TaskRunning)
	require.Equal(t, fw, st.FrameworkID)
	require.Equal(t, "a1", st.AgentID)
	require.Equal(t, "web", st.AppID)

	// What the task holds is not offered again.
	o = s.offerOn("a1")
	require.Equal(t, "cpus:3;mem:3584", o.Resources)
	require.NoError(t, sched.Decline(ctx, api.Decline{FrameworkID: fw, OfferIDs: []string{o.ID}, RefuseSeconds: ptr(0.0)}))

	// The dashboard state shows the agent, its usage and the task.
	state, err := agent.State(ctx)
	require.NoError(t, err)
	require.Len(t, state.Agents, 1)
	require.Equal(t, api.Scalars{"cpus": 1.5, "mem": 2048}, state.Agents[0].Business)
	require.Equal(t, api.Scalars{"cpus": 1, "mem": 512}, state.Agents[0].Allocated)
	require.Equal(t, "cgroup v1", state.Agents[0].Isolation)
	require.NotEmpty(t, state.Agents[0].History)
	require.Len(t, state.Tasks, 1)
	require.Equal(t, api.TaskRunning, state.Tasks[0].State)

	// Kill: the agent gets a KILL command with the reason and reports KILLED.
	require.NoError(t, sched.Kill(ctx, api.Kill{FrameworkID: fw, TaskID: "web.1", Reason: "constraint rack:IS:r2 no longer holds"}))
	cmds, err = agent.Commands(ctx, "a1", 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, []api.AgentCommand{{Type: api.CommandKill, TaskID: "web.1", Reason: "constraint rack:IS:r2 no longer holds"}}, cmds)
	_, err = agent.Report(ctx, api.AgentReport{AgentID: "a1", Reservation: "cpus:4;mem:4096",
		Tasks: []api.TaskStatus{{TaskID: "web.1", State: api.TaskKilled}}})
	require.NoError(t, err)
	st = s.update("web.1", api.TaskKilled)
	require.Equal(t, "constraint rack:IS:r2 no longer holds", st.Reason)

	// Its resources come back: the next offers add up to the whole reservation.
	testenv.Eventually(t, 30*time.Second, func() bool {
		for _, o := range s.next(api.EventOffers).Offers {
			if o.AgentID == "a1" && o.Resources == "cpus:4;mem:4096" {
				return true
			}
			_ = sched.Decline(ctx, api.Decline{FrameworkID: fw, OfferIDs: []string{o.ID}, RefuseSeconds: ptr(0.0)})
		}
		return false
	})
	state, err = agent.State(ctx)
	require.NoError(t, err)
	require.Equal(t, api.KindKilled, state.Events[len(state.Events)-1].Kind)
}

func ptr[T any](v T) *T { return &v }

func TestRescindWhenReservationShrinks(t *testing.T) {
	f := newFixture(t, "cpus:4;mem:4096")
	ctx, agent, sched, s, fw := context.Background(), f.agent, f.sched, f.s, f.fw
	o := s.offerOn("a1")

	// Growing does not take the offer back; shrinking below it does.
	_, err := agent.Report(ctx, api.AgentReport{AgentID: "a1", Reservation: "cpus:5;mem:4096", Tasks: []api.TaskStatus{}})
	require.NoError(t, err)
	_, err = agent.Report(ctx, api.AgentReport{AgentID: "a1", Reservation: "cpus:1;mem:4096", Tasks: []api.TaskStatus{}})
	require.NoError(t, err)
	ev := s.next(api.EventRescind)
	require.Equal(t, o.ID, ev.OfferID)

	// Accepting the rescinded offer is refused and launches nothing.
	err = sched.Accept(ctx, api.Accept{FrameworkID: fw, OfferIDs: []string{o.ID}, Tasks: []api.TaskInfo{{
		TaskID: "t1", AppID: "app", OfferID: o.ID, Cmd: "true", Resources: "cpus:1"}}})
	var se *api.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 404, se.Code)
	require.Contains(t, se.Message, o.ID)
	require.Contains(t, se.Message, "rescinded")

	// The next offer holds the smaller reservation.
	require.Equal(t, "cpus:1;mem:4096", s.offerOn("a1").Resources)
	state, err := agent.State(ctx)
	require.NoError(t, err)
	require.Empty(t, state.Tasks)
	var rescinds int
	for _, e := range state.Events {
		if e.Kind == api.KindRescinded {
			rescinds++
			require.Contains(t, e.Message, "reservation shrank to cpus:1;mem:4096")
		}
	}
	require.Equal(t, 1, rescinds)
}

func TestDeclineRefusesForTheGivenTime(t *testing.T) {
	srv := etcdtest.Start(t)
	m := startMaster(t, testConfig(srv.Client(t), newPrefix(t)))
	waitLeader(t, m.Master)
	ctx := context.Background()
	agent := api.NewAgentClient([]string{m.URL()}, as(t, "agent/a1"))
	for _, id := range []string{"a1", "a2"} {
		c := api.NewAgentClient([]string{m.URL()}, as(t, "agent/"+id))
		_, err := c.Register(ctx, api.RegisterAgent{AgentID: id, Hostname: id, Reservation: "cpus:2;mem:1024"})
		require.NoError(t, err)
	}
	sched := api.NewSchedulerClient([]string{m.URL()}, as(t, "framework/batch"))
	s, fw := subscribe(t, sched, api.Subscribe{Name: "batch"})
	o1 := s.offerOn("a1")
	require.NoError(t, sched.Decline(ctx, api.Decline{FrameworkID: fw, OfferIDs: []string{o1.ID}, RefuseSeconds: ptr(60.0)}))

	// For the next three allocation rounds only a2 is offered (after its
	// own short decline).
	rounds := func() float64 {
		return metricstest.Value(t, m.URL()+api.PathMetrics, "gleaner_master_allocation_seconds_count")
	}
	until := rounds() + 3
	testenv.Eventually(t, 30*time.Second, func() bool {
		select {
		case ev := <-s.events:
			if ev.Type != api.EventOffers {
				break
			}
			for _, o := range ev.Offers {
				require.NotEqual(t, "a1", o.AgentID, "a1 offered again within its refuse time")
				require.NoError(t, sched.Decline(ctx, api.Decline{FrameworkID: fw, OfferIDs: []string{o.ID}, RefuseSeconds: ptr(0.0)}))
			}
		case <-time.After(10 * time.Millisecond):
		}
		return rounds() >= until
	}, "three allocation rounds after a1 was declined for 60s")
	// The dashboard says why a1 is not offered: the framework's own filter.
	state, err := agent.State(ctx)
	require.NoError(t, err)
	require.Len(t, state.Frameworks, 1)
	require.Equal(t, []api.Rejection{{Kind: api.RejectFilter, Offers: 1}}, state.Frameworks[0].Withheld)

	// Revive clears the filter.
	require.NoError(t, sched.Revive(ctx, fw))
	s.offerOn("a1")

	// Declining twice is refused: the offer is no longer outstanding.
	err = sched.Decline(ctx, api.Decline{FrameworkID: fw, OfferIDs: []string{o1.ID}})
	require.True(t, errors.Is(err, api.ErrNotFound), "%v", err)
}

func TestAgentGoneMakesItsTasksLost(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	prefix := newPrefix(t)
	m := startMaster(t, testConfig(cli, prefix))
	waitLeader(t, m.Master)
	ctx := context.Background()

	reg, err := attrs.NewRegistrar(cli, "a1", attrs.WithPrefix(prefix), attrs.WithLeaseTTL(2*time.Second))
	require.NoError(t, err)
	regDone := make(chan error, 1)
	go func() { regDone <- reg.Run(ctx) }()
	agent := api.NewAgentClient([]string{m.URL()}, as(t, "agent/a1"))
	_, err = agent.Register(ctx, api.RegisterAgent{AgentID: "a1", Hostname: "h1", Reservation: "cpus:2;mem:1024"})
	require.NoError(t, err)
	sched := api.NewSchedulerClient([]string{m.URL()}, as(t, "framework/batch"))
	s, fw := subscribe(t, sched, api.Subscribe{Name: "batch"})
	launch(t, sched, agent, s, fw, "a1", "t1")

	require.NoError(t, reg.Close())
	<-regDone
	st := s.update("t1", api.TaskLost)
	require.Equal(t, api.ReasonAgentGone, st.Reason)
	ev := s.next(api.EventAgentChanged)
	require.Equal(t, &api.AgentChange{AgentID: "a1", Hostname: "h1", Attributes: map[string]string{}, Gone: true}, ev.Agent)

	// A report from the gone agent is refused so that it registers again.
	_, err = agent.Report(ctx, api.AgentReport{AgentID: "a1", Reservation: "cpus:2;mem:1024", Tasks: []api.TaskStatus{}})
	require.ErrorIs(t, err, api.ErrNotFound)
	state, err := agent.State(ctx)
	require.NoError(t, err)
	require.False(t, state.Agents[0].Up)
	require.Equal(t, api.TaskLost, state.Tasks[0].State)
}

// launch places one task on the agent and reports it running.
func launch(t *testing.T, sched *api.SchedulerClient, agent *api.AgentClient, s *stream, fw, agentID, taskID string) {
	t.Helper()
	ctx := context.Background()
	o := s.offerOn(agentID)
	require.NoError(t, sched.Accept(ctx, api.Accept{FrameworkID: fw, OfferIDs: []string{o.ID}, Tasks: []api.TaskInfo{{
		TaskID: taskID, AppID: "app", OfferID: o.ID, Args: []string{"sleep", "100"}, Resources: "cpus:0.5;mem:64"}}}))
	cmds, err := agent.Commands(ctx, agentID, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, cmds, 1)
	_, err = agent.Report(ctx, api.AgentReport{AgentID: agentID, Reservation: "cpus:2;mem:1024",
		Tasks: []api.TaskStatus{{TaskID: taskID, State: api.TaskRunning}}})
	require.NoError(t, err)
	s.update(taskID, api.TaskRunning)
}

func TestAttributeChangeIsAnnouncedAndOffered(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	prefix := newPrefix(t)
	m := startMaster(t, testConfig(cli, prefix))
	waitLeader(t, m.Master)
	ctx := context.Background()
	store, err := attrs.NewEtcdStore(cli, attrs.WithPrefix(prefix))
	require.NoError(t, err)
	_, err = store.SetAgent(ctx, "a1", mustAttrs(t, "rack:r1;zone:east"))
	require.NoError(t, err)
	agent := api.NewAgentClient([]string{m.URL()}, as(t, "agent/a1"))
	_, err = agent.Register(ctx, api.RegisterAgent{AgentID: "a1", Hostname: "h1", Reservation: "cpus:2;mem:1024",
		Attributes: map[string]string{"rack": "from-config"}})
	require.NoError(t, err)
	sched := api.NewSchedulerClient([]string{m.URL()}, as(t, "framework/batch"))
	s, fw := subscribe(t, sched, api.Subscribe{Name: "batch"})
	testenv.Eventually(t, 30*time.Second, func() bool {
		o := s.offerOn("a1")
		require.NoError(t, sched.Decline(ctx, api.Decline{FrameworkID: fw, OfferIDs: []string{o.ID}, RefuseSeconds: ptr(0.0)}))
		return fmt.Sprint(o.Attributes) == "map[rack:r1 zone:east]"
	}, "offers carry etcd's attributes")

	_, err = store.Delete(ctx, "a1", "rack")
	require.NoError(t, err)
	ev := s.next(api.EventAgentChanged)
	require.Equal(t, &api.AgentChange{AgentID: "a1", Hostname: "h1", Attributes: map[string]string{"zone": "east"}}, ev.Agent)
	state, err := agent.State(ctx)
	require.NoError(t, err)
	require.Equal(t, api.KindAttributesChanged, state.Events[len(state.Events)-1].Kind)
	require.Equal(t, "rack removed (was r1)", state.Events[len(state.Events)-1].Message)

	// Once etcd held the agent's attributes, deleting the last one leaves
	// none: the registered ones do not come back.
	_, err = store.Delete(ctx, "a1", "zone")
	require.NoError(t, err)
	ev = s.next(api.EventAgentChanged)
	require.Empty(t, ev.Agent.Attributes)
	// (Offers take their attributes from where the state does.)
	state, err = agent.State(ctx)
	require.NoError(t, err)
	require.Empty(t, state.Agents[0].Attributes)
}

func mustAttrs(t *testing.T, text string) attrs.Attributes {
	t.Helper()
	as, err := attrs.Parse(text)
	require.NoError(t, err)
	return as
}

func TestSilentAgentWithoutLeaseIsGone(t *testing.T) {
	f := newFixture(t, "cpus:2;mem:1024", func(c *Config) { c.AgentGrace = time.Second })
	s := f.s
	launch(t, f.sched, f.agent, s, f.fw, "a1", "t1")

	// No more reports and no lease in etcd: after the grace period the
	// agent is gone and its task lost.
	st := s.update("t1", api.TaskLost)
	require.Equal(t, api.ReasonAgentGone, st.Reason)
	require.Contains(t, st.Message, "no report for")
}

func TestTeardownKillsTheFrameworksTasks(t *testing.T) {
	f := newFixture(t, "cpus:2;mem:1024")
	ctx, agent, sched, s, fw := context.Background(), f.agent, f.sched, f.s, f.fw
	launch(t, sched, agent, s, fw, "a1", "t1")

	require.NoError(t, sched.Teardown(ctx, fw))
	require.True(t, s.closed(5*time.Second), "the torn-down framework's stream ends")
	cmds, err := agent.Commands(ctx, "a1", 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, []api.AgentCommand{{Type: api.CommandKill, TaskID: "t1", Reason: "framework torn down"}}, cmds)
	require.ErrorIs(t, sched.Revive(ctx, fw), api.ErrNotFound)
	state, err := agent.State(ctx)
	require.NoError(t, err)
	require.Empty(t, state.Frameworks)
}

// TestPriorityIsBoundedByRoleAndRevocableIsMarked: a task above the
// priority its framework's role may use is refused, naming the field; an
// offer within what the agent guarantees is not revocable, one beyond it
// is, and tasks launched on them carry the mark to the agent, the
// framework and the dashboard.
func TestPriorityIsBoundedByRoleAndRevocableIsMarked(t *testing.T) {
	f := newFixture(t, "cpus:4;mem:4096", func(c *Config) { c.MaxPriority = map[string]int{"*": 10, "prod": 100} })
	ctx := context.Background()
	o := f.s.offerOn("a1")
	require.True(t, o.Revocable, "an agent that guarantees nothing makes revocable offers")
	err := f.sched.Accept(ctx, api.Accept{FrameworkID: f.fw, OfferIDs: []string{o.ID}, Tasks: []api.TaskInfo{{
		TaskID: "t1", AppID: "app", OfferID: o.ID, Cmd: "sleep 1", Resources: "cpus:1;mem:128", Priority: 11}}})
	require.ErrorIs(t, err, api.ErrInvalid)
	require.ErrorContains(t, err, `tasks[0].priority 11: role "*" may use priorities 0 to 10`)

	// The agent guarantees cpus:2;mem:2048; it holds nothing yet.
	_, err = f.agent.Report(ctx, api.AgentReport{AgentID: "a1", Reservation: "cpus:2;mem:2048", Guaranteed: "cpus:2;mem:2048", Tasks: []api.TaskStatus{}})
	require.NoError(t, err)
	o = f.s.offerOn("a1")
	require.Equal(t, "cpus:2;mem:2048", o.Resources)
	require.False(t, o.Revocable, "an offer within the guarantee is not revocable")
	require.NoError(t, f.sched.Accept(ctx, api.Accept{FrameworkID: f.fw, OfferIDs: []string{o.ID}, Tasks: []api.TaskInfo{{
		TaskID: "t2", AppID: "app", OfferID: o.ID, Cmd: "sleep 1", Resources: "cpus:1;mem:128", Priority: 10}}}))
	cmds, err := f.agent.Commands(ctx, "a1", 5*time.Second)
	require.NoError(t, err)
	require.Len(t, cmds, 1)
	require.False(t, cmds[0].Task.Revocable)
	require.Equal(t, 10, cmds[0].Task.Priority)

	// The reservation grows beyond the guarantee: what is offered now is
	// more than the guarantee leaves beside t2.
	_, err = f.agent.Report(ctx, api.AgentReport{AgentID: "a1", Reservation: "cpus:4;mem:4096", Guaranteed: "cpus:2;mem:2048",
		Tasks: []api.TaskStatus{{TaskID: "t2", State: api.TaskRunning}}})
	require.NoError(t, err)
	st := f.s.update("t2", api.TaskRunning)
	require.False(t, st.Revocable)
	o = f.s.offerOn("a1")
	require.True(t, o.Revocable, "offer %s beside t2 exceeds the guarantee", o.Resources)
	require.NoError(t, f.sched.Accept(ctx, api.Accept{FrameworkID: f.fw, OfferIDs: []string{o.ID}, Tasks: []api.TaskInfo{{
		TaskID: "t3", AppID: "app", OfferID: o.ID, Cmd: "sleep 1", Resources: "cpus:1;mem:128", Priority: 2}}}))
	cmds, err = f.agent.Commands(ctx, "a1", 5*time.Second)
	require.NoError(t, err)
	require.Len(t, cmds, 1)
	require.True(t, cmds[0].Task.Revocable)

	state, err := f.agent.State(ctx)
	require.NoError(t, err)
	got := map[string]api.TaskView{}
	for _, tv := range state.Tasks {
		got[tv.TaskID] = tv
	}
	require.Equal(t, 10, got["t2"].Priority)
	require.False(t, got["t2"].Revocable)
	require.Equal(t, 2, got["t3"].Priority)
	require.True(t, got["t3"].Revocable)

	// A framework of role prod learns it may use up to 100.
	_, sub := subscribe2(t, f.sched, api.Subscribe{Name: "prod-fw", Role: "prod"})
	require.Equal(t, 100, sub.MaxPriority)
}
