package master

import (
	"context"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/etcdtest"
	"github.com/gleaner/gleaner/internal/testenv"
)

func TestRestartedMasterKeepsState(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	cfg := testConfig(cli, newPrefix(t))
	m1 := startMaster(t, cfg)
	waitLeader(t, m1.Master)
	ctx := context.Background()
	agent := api.NewAgentClient([]string{m1.URL()}, as(t, "agent/a1"))
	_, err := agent.Register(ctx, api.RegisterAgent{AgentID: "a1", Hostname: "h1", Reservation: "cpus:2;mem:1024",
		Attributes: map[string]string{"rack": "r1"}})
	require.NoError(t, err)
	sched := api.NewSchedulerClient([]string{m1.URL()}, as(t, "framework/batch"))
	s, fw := subscribe(t, sched, api.Subscribe{Name: "batch", Weight: 2})
	launch(t, sched, agent, s, fw, "a1", "t1")
	m1.stop(t)
	require.True(t, s.closed(5*time.Second), "stream of a stopped master ends")

	// A new master on the same etcd and prefix knows the agent, the
	// framework and the running task.
	m2 := startMaster(t, cfg)
	waitLeader(t, m2.Master)
	agent = api.NewAgentClient([]string{m2.URL()}, as(t, "agent/a1"))
	state, err := agent.State(ctx)
	require.NoError(t, err)
	require.Len(t, state.Agents, 1)
	require.Equal(t, "h1", state.Agents[0].Hostname)
	require.Equal(t, api.Scalars{"cpus": 2, "mem": 1024}, state.Agents[0].Reservation)
	require.Len(t, state.Frameworks, 1)
	require.Equal(t, api.FrameworkState{ID: fw, Name: "batch", Role: "*", Weight: 2, Tasks: 1}, state.Frameworks[0])
	require.Len(t, state.Tasks, 1)
	require.Equal(t, "t1", state.Tasks[0].TaskID)
	require.Equal(t, api.TaskRunning, state.Tasks[0].State)

	// The framework resumes with its ID and learns its task; the agent
	// reports without registering again; what the task holds stays taken.
	sched = api.NewSchedulerClient([]string{m2.URL()}, as(t, "framework/batch"))
	s2, fw2 := subscribe2(t, sched, api.Subscribe{FrameworkID: fw, Name: "batch", Weight: 2})
	require.Equal(t, fw, fw2.FrameworkID)
	require.Equal(t, []string{"t1"}, taskIDs(fw2.Tasks))
	_, err = agent.Report(ctx, api.AgentReport{AgentID: "a1", Reservation: "cpus:2;mem:1024",
		Tasks: []api.TaskStatus{{TaskID: "t1", State: api.TaskRunning}}})
	require.NoError(t, err)
	require.Equal(t, "cpus:1.5;mem:960", s2.offerOn("a1").Resources)

	// When the restored task ends its resources come back.
	_, err = agent.Report(ctx, api.AgentReport{AgentID: "a1", Reservation: "cpus:2;mem:1024",
		Tasks: []api.TaskStatus{{TaskID: "t1", State: api.TaskFinished}}})
	require.NoError(t, err)
	s2.update("t1", api.TaskFinished)
	require.Equal(t, "cpus:2;mem:1024", s2.offerOn("a1").Resources)
}

func taskIDs(sts []api.TaskStatus) []string {
	var ids []string
	for _, st := range sts {
		ids = append(ids, st.TaskID)
	}
	return ids
}

func TestFollowerRedirectsAndTakesOver(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	cfg := testConfig(cli, newPrefix(t))
	m1 := startMaster(t, cfg)
	waitLeader(t, m1.Master)
	m2 := startMaster(t, cfg)
	ctx := context.Background()

	// The follower answers 503 naming the leader; /metrics and /api/v1/leader
	// work on it.
	testenv.Eventually(t, 30*time.Second, func() bool {
		var info api.LeaderInfo
		return getJSON(t, m2.URL()+api.PathLeader, &info) == http.StatusOK && info.Leader == m1.URL() && !info.IsLeader
	})
	var er api.ErrorResponse
	require.Equal(t, http.StatusServiceUnavailable, getJSON(t, m2.URL()+api.PathState, &er))
	require.Equal(t, m1.URL(), er.Leader)
	resp, err := operator(t).Get(m2.URL() + api.PathMetrics)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Clients given both masters, follower first, find the leader.
	masters := []string{m2.URL(), m1.URL()}
	agent := api.NewAgentClient(masters, as(t, "agent/a1"))
	_, err = agent.Register(ctx, api.RegisterAgent{AgentID: "a1", Hostname: "h1", Reservation: "cpus:2;mem:1024"})
	require.NoError(t, err)
	require.Equal(t, m1.URL(), agent.Leader())
	sched := api.NewSchedulerClient(masters, as(t, "framework/batch"))
	s, fw := subscribe(t, sched, api.Subscribe{Name: "batch"})
	launch(t, sched, agent, s, fw, "a1", "t1")

	// The leader stops; the follower leads at once (the leader resigns) and
	// the task is still there.
	changed := m2.leaderChanged()
	m1.stop(t)
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("follower did not take over within 5 s of the leader resigning")
	}
	require.True(t, m2.IsLeader())
	state, err := agent.State(ctx)
	require.NoError(t, err)
	require.Equal(t, m2.URL(), state.Leader)
	require.Len(t, state.Tasks, 1)
	require.Equal(t, api.TaskRunning, state.Tasks[0].State)
	_, err = agent.Report(ctx, api.AgentReport{AgentID: "a1", Reservation: "cpus:2;mem:1024",
		Tasks: []api.TaskStatus{{TaskID: "t1", State: api.TaskRunning}}})
	require.NoError(t, err)
}

func TestFollowerTakesOverWhenLeaderLosesEtcd(t *testing.T) {
	srv := etcdtest.Start(t)
	// The first master reaches etcd through a proxy the test cuts, as if
	// the leader's host died: its session lease expires after the TTL.
	proxy := etcdtest.NewProxy(t, srv.Endpoint())
	cfg := testConfig(etcdtest.NewClient(t, proxy.Endpoint()), newPrefix(t))
	cfg.SessionTTL = 2 * time.Second
	m1 := startMaster(t, cfg)
	waitLeader(t, m1.Master)
	cfg.Etcd = srv.Client(t)
	m2 := startMaster(t, cfg)
	ctx := context.Background()
	agent := api.NewAgentClient([]string{m1.URL(), m2.URL()}, as(t, "agent/a1"))
	_, err := agent.Register(ctx, api.RegisterAgent{AgentID: "a1", Hostname: "h1", Reservation: "cpus:2;mem:1024"})
	require.NoError(t, err)

	start := time.Now()
	proxy.Cut()
	waitLeader(t, m2.Master)
	// How fast is BenchmarkFollowerTakeover's figure.
	t.Logf("follower took over %v after the leader lost etcd (session TTL %v)", time.Since(start), cfg.SessionTTL)
	// The old leader stops serving as leader once its session is gone.
	testenv.Eventually(t, 30*time.Second, func() bool { return !m1.IsLeader() })
	state, err := agent.State(ctx)
	require.NoError(t, err)
	require.Equal(t, m2.URL(), state.Leader)
	require.Len(t, state.Agents, 1)
}

// getJSON GETs url, decodes the body into v and returns the status.
func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := operator(t).Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.NoError(t, jsonDecode(resp, v))
	return resp.StatusCode
}

func TestStoppedMasterLeavesNoGoroutine(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	// The etcd client's lease keep-alive loops, which the master's session
	// starts, live as long as the client (the caller's): start them now.
	lease, err := cli.Grant(context.Background(), 5)
	require.NoError(t, err)
	kctx, kcancel := context.WithCancel(context.Background())
	_, err = cli.KeepAlive(kctx, lease.ID)
	require.NoError(t, err)
	kcancel()
	_, err = cli.Revoke(context.Background(), lease.ID)
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	before := runtime.NumGoroutine()

	m := startMaster(t, testConfig(cli, newPrefix(t)))
	waitLeader(t, m.Master)
	ctx := context.Background()
	agent := api.NewAgentClient([]string{m.URL()}, as(t, "agent/a1"))
	_, err = agent.Register(ctx, api.RegisterAgent{AgentID: "a1", Hostname: "h1", Reservation: "cpus:2;mem:1024"})
	require.NoError(t, err)
	sched := api.NewSchedulerClient([]string{m.URL()}, as(t, "framework/batch"))
	s, fw := subscribe(t, sched, api.Subscribe{Name: "batch"})
	launch(t, sched, agent, s, fw, "a1", "t1")
	poll := make(chan error, 1)
	go func() { _, err := agent.Commands(ctx, "a1", 20*time.Second); poll <- err }() // in flight at stop

	m.stop(t)
	require.True(t, s.closed(5*time.Second))
	require.Error(t, <-poll)
	closeIdleClients()
	// Polled by hand: assert.Eventually runs goroutines of its own.
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(10 * time.Second); after > before && time.Now().Before(deadline); after = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	if after > before {
		var buf strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
		t.Fatalf("goroutines: %d before the master, %d after it stopped:\n%s", before, after, buf.String())
	}
}
