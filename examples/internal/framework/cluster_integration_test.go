package framework_test

import (
	"context"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
	"github.com/gleaner/gleaner/examples/internal/framework"
	"github.com/gleaner/gleaner/examples/internal/metricstest"
	"github.com/gleaner/gleaner/internal/testenv"
)

func TestAppSpreadsAndMovesOffADeletedAttribute(t *testing.T) {
	c := startCluster(t)
	store, err := attrs.NewEtcdStore(c.cli, attrs.WithPrefix(c.prefix))
	if err != nil {
		t.Fatal(err)
	}
	// Attributes live in etcd only: the agents register none.
	for i, rack := range []string{"r1", "r2", "r3"} {
		id := "a" + string(rune('1'+i))
		if _, err := store.SetAgent(context.Background(), id, mustAttrs(t, "ssd:true;rack:"+rack)); err != nil {
			t.Fatal(err)
		}
		c.addAgent(id, "cpus:8;mem:8192", nil)
	}
	c.startFramework(framework.Config{})

	var created framework.AppStatus
	code := do(t, http.MethodPost, c.fwURL+"/v2/apps", `{"id":"web","cmd":"sleep 1000","cpus":0.5,"mem":64,
		"instances":6,"constraints":[["rack","GROUP_BY","3"]]}`, &created)
	if code != http.StatusCreated || created.ID != "/web" {
		t.Fatalf("POST /v2/apps: %d %+v", code, created)
	}
	testenv.Eventually(t, 30*time.Second, func() bool { return c.app("/web").TasksRunning == 6 }, "6 tasks running")
	perAgent := map[string]int{}
	for id, a := range c.agents {
		perAgent[id] = len(a.running())
	}
	if want := map[string]int{"a1": 2, "a2": 2, "a3": 2}; !maps.Equal(perAgent, want) {
		t.Fatalf("tasks per agent = %v, want two per rack", perAgent)
	}
	onA2 := c.agents["a2"].running()

	// A fourth agent in rack r2 appears; then a2 loses its rack.
	if _, err := store.SetAgent(context.Background(), "a4", mustAttrs(t, "ssd:true;rack:r2")); err != nil {
		t.Fatal(err)
	}
	c.addAgent("a4", "cpus:8;mem:8192", nil)
	deleted := time.Now()
	if _, err := store.Delete(context.Background(), "a2", "rack"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() bool {
		return len(c.agents["a2"].running()) == 0 && len(c.agents["a4"].running()) == 2
	}, "a2's tasks to move to a4")
	t.Logf("tasks moved %s after the attribute was deleted", time.Since(deleted).Round(time.Millisecond))
	replaced := []string{}
	for _, id := range c.agents["a4"].running() {
		ti, _ := c.agents["a4"].launch(id)
		replaced = append(replaced, ti.Replaces)
	}
	slices.Sort(replaced)
	slices.Sort(onA2)
	if !slices.Equal(replaced, onA2) {
		t.Fatalf("replacements name %v, want a2's tasks %v", replaced, onA2)
	}
	testenv.Eventually(t, 30*time.Second, func() bool {
		st := c.app("/web")
		return st.TasksRunning == 6 && st.TasksKilling == 0 && st.Pending == nil
	}, "the app to settle")
	ms, err := api.NewClient([]string{c.master.URL()}, asPrincipal(t, "operator/ops")).State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var rescheduled int
	for _, ev := range ms.Events {
		if ev.Kind == api.KindRescheduled {
			rescheduled++
		}
	}
	if rescheduled != 2 {
		t.Fatalf("master saw %d reschedulings, want 2", rescheduled)
	}
}

func mustAttrs(t *testing.T, text string) attrs.Attributes {
	t.Helper()
	as, err := attrs.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func TestFailingAppBacksOffAndPendingReasonsReachTheMaster(t *testing.T) {
	c := startCluster(t)
	c.addAgent("a1", "cpus:2;mem:2048", map[string]string{"rack": "r1"})
	c.startFramework(framework.Config{})

	do(t, http.MethodPost, c.fwURL+"/v2/apps", `{"id":"crash","cmd":"exit 1","cpus":0.1,"mem":16,
		"backoffSeconds":0.1,"backoffFactor":2,"maxLaunchDelaySeconds":0.4}`, nil)
	do(t, http.MethodPost, c.fwURL+"/v2/apps", `{"id":"big","cmd":"sleep 1","cpus":4,"mem":16}`, nil)

	testenv.Eventually(t, 30*time.Second, func() bool {
		b := c.app("/crash").Backoff
		return b != nil && b.Failures >= 3
	}, "three failures of /crash")
	st := c.app("/crash")
	if f := st.LastTaskFailure; f == nil || f.State != api.TaskFailed || f.Message != "exited with status 1" || f.AgentID != "a1" || f.Host != "host-a1" {
		t.Fatalf("lastTaskFailure = %+v", st.LastTaskFailure)
	}
	launches := c.agents["a1"].launchedOf("crash")
	if len(launches) < 3 {
		t.Fatalf("%d launches", len(launches))
	}
	// Gaps grow: the third launch waits at least 0.2 s after the second's failure.
	if gap := launches[2].Sub(launches[1]); gap < 200*time.Millisecond {
		t.Fatalf("gap between the 2nd and 3rd launch = %s, want ≥ 200ms", gap)
	}

	big := c.app("/big")
	if big.Pending == nil || big.Pending.Reason != "cpus: 1" {
		t.Fatalf("/big pending = %+v, want reason %q", big.Pending, "cpus: 1")
	}
	testenv.Eventually(t, 30*time.Second, func() bool {
		ms, err := api.NewClient([]string{c.master.URL()}, asPrincipal(t, "operator/ops")).State(context.Background())
		if err != nil {
			return false
		}
		for _, p := range ms.Pending {
			if p.AppID == "big" && p.Waiting == 1 && strings.HasPrefix(p.Reason, "cpus") &&
				slices.Equal(p.Rejections, []api.Rejection{{Kind: api.RejectResource, Name: "cpus", Offers: 1}}) {
				return true
			}
		}
		return false
	}, "the master to show /big pending")
}

func TestRestartedFrameworkAdoptsItsTasks(t *testing.T) {
	c := startCluster(t)
	c.addAgent("a1", "cpus:4;mem:4096", map[string]string{"rack": "r1"})
	dir := t.TempDir()
	ctx, stop := context.WithCancel(context.Background())
	f1, err := framework.New(framework.Config{Masters: []string{c.master.URL()}, Listen: "127.0.0.1:0",
		TLS: authtest.Framework(t, "marathon"), AppsDir: dir, Tick: 50 * time.Millisecond, Logger: testLogger(t, "framework-1")})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f1.Run(ctx) }()
	c.fwURL = f1.Addr()
	do(t, http.MethodPost, c.fwURL+"/v2/apps", `{"id":"keep","cmd":"sleep 1000","cpus":0.5,"mem":32,"instances":3}`, nil)
	testenv.Eventually(t, 30*time.Second, func() bool { return c.app("/keep").TasksRunning == 3 }, "3 tasks running")
	id := f1.FrameworkID()
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	// A new framework process: same apps directory, same framework ID.
	suppressed := func() float64 {
		return metricstest.Value(t, c.master.URL()+api.PathMetrics, "gleaner_master_http_requests_total", "route", api.PathSuppress)
	}
	suppressedBefore := suppressed()
	c.startFramework(framework.Config{AppsDir: dir, FrameworkID: id})
	testenv.Eventually(t, 30*time.Second, func() bool { return c.app("/keep").TasksRunning == 3 }, "the tasks to be adopted")
	for _, tv := range c.app("/keep").Tasks {
		if tv.Host != "host-a1" || tv.AgentID != "a1" {
			t.Fatalf("adopted task %+v does not know its agent", tv)
		}
	}
	// The new framework suppresses offers once it knows nothing is pending:
	// had it lost the tasks, it would revive offers and launch them again.
	testenv.Eventually(t, 30*time.Second, func() bool { return suppressed() > suppressedBefore }, "the restarted framework to suppress offers")
	if st := c.app("/keep"); st.TasksRunning != 3 || st.TasksStaged != 0 || st.Pending != nil {
		t.Fatalf("after the restart: %+v", st)
	}
	c.agents["a1"].mu.Lock()
	launched := len(c.agents["a1"].launched)
	c.agents["a1"].mu.Unlock()
	if launched != 3 {
		t.Fatalf("agent received %d launches, want the original 3", launched)
	}
}

func TestRunStopsEverything(t *testing.T) {
	c := startCluster(t)
	c.addAgent("a1", "cpus:4;mem:4096", nil)
	// The agent's goroutines are all up once its reports arrive.
	testenv.Eventually(t, 30*time.Second, func() bool {
		return metricstest.Value(t, c.master.URL()+api.PathMetrics, "gleaner_master_http_requests_total", "route", api.PathAgentReport) >= 2
	}, "two reports from a1")
	before := runtime.NumGoroutine()
	ctx, stop := context.WithCancel(context.Background())
	f, err := framework.New(framework.Config{Masters: []string{c.master.URL()}, Listen: "127.0.0.1:0",
		TLS: authtest.Framework(t, "marathon"), Apps: []framework.App{{ID: "x", Cmd: "sleep 1", Cpus: 0.1, Instances: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	testenv.Eventually(t, 30*time.Second, func() bool { return f.FrameworkID() != "" }, "subscription")
	ops := operator(t)
	resp, err := ops.Get(f.Addr() + "/v2/apps")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ops.CloseIdleConnections()
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := ops.Get(f.Addr() + "/ping"); err == nil {
		t.Fatal("the API still answers after Run returned")
	}
	testenv.Eventually(t, 30*time.Second, func() bool {
		return runtime.NumGoroutine() <= before
	}, "the framework's goroutines to end")
}

func TestTasksOfAGoneAgentArePlacedElsewhereWithoutBackoff(t *testing.T) {
	c := startCluster(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	// a1 keeps a liveness lease in etcd, as a real agent does; when the
	// lease ends the master marks its tasks LOST.
	reg, err := attrs.NewRegistrar(c.cli, "a1", attrs.WithPrefix(c.prefix), attrs.WithLeaseTTL(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	regDone := make(chan error, 1)
	go func() { regDone <- reg.Run(ctx) }()
	c.addAgent("a1", "cpus:4;mem:4096", nil)
	c.startFramework(framework.Config{})
	do(t, http.MethodPost, c.fwURL+"/v2/apps", `{"id":"move","cmd":"sleep 1000","cpus":1,"mem":64,"instances":2,"backoffSeconds":60}`, nil)
	testenv.Eventually(t, 30*time.Second, func() bool { return len(c.agents["a1"].running()) == 2 }, "2 tasks on a1")

	c.addAgent("a2", "cpus:4;mem:4096", nil)
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	<-regDone
	testenv.Eventually(t, 30*time.Second, func() bool { return len(c.agents["a2"].running()) == 2 }, "both tasks running on a2")
	st := c.app("/move")
	if st.Backoff != nil {
		t.Fatalf("losing the agent backed the app off: %+v", st.Backoff)
	}
	if f := st.LastTaskFailure; f == nil || f.State != api.TaskLost || !strings.HasPrefix(f.Message, api.ReasonAgentGone) {
		t.Fatalf("lastTaskFailure = %+v", st.LastTaskFailure)
	}
}

func TestFrameworkFollowsANewLeaderAndKeepsItsTasks(t *testing.T) {
	c := startCluster(t)
	m2 := c.addMaster()
	c.addAgent("a1", "cpus:4;mem:4096", nil)
	c.startFramework(framework.Config{})
	do(t, http.MethodPost, c.fwURL+"/v2/apps", `{"id":"ha","cmd":"sleep 1000","cpus":0.5,"mem":32,"instances":3}`, nil)
	testenv.Eventually(t, 30*time.Second, func() bool { return c.app("/ha").TasksRunning == 3 }, "3 tasks running")
	id := c.fw.FrameworkID()

	// The leader stops (and resigns); the second master takes over, and the
	// framework subscribes to it again with the same ID.
	c.stopMaster(0)
	testenv.Eventually(t, 30*time.Second, m2.IsLeader, "the second master to lead")
	testenv.Eventually(t, 30*time.Second, func() bool {
		var info framework.Info
		do(t, http.MethodGet, c.fwURL+"/v2/info", "", &info)
		return info.Connected && info.Master == m2.URL()
	}, "the framework to resubscribe")
	if got := c.fw.FrameworkID(); got != id {
		t.Fatalf("framework ID after failover = %q, want %q", got, id)
	}
	// Nothing was lost or launched again; new work still launches.
	do(t, http.MethodPut, c.fwURL+"/v2/apps/ha", `{"cmd":"sleep 1000","cpus":0.5,"mem":32,"instances":4}`, nil)
	testenv.Eventually(t, 30*time.Second, func() bool { return c.app("/ha").TasksRunning == 4 }, "4 tasks running")
	c.agents["a1"].mu.Lock()
	launched := len(c.agents["a1"].launched)
	c.agents["a1"].mu.Unlock()
	if launched != 4 {
		t.Fatalf("agent received %d launches, want 3 before the failover and 1 after", launched)
	}
}
