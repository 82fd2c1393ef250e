package framework_test

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/examples/framework/framework"
	"github.com/gleaner/gleaner/examples/internal/api"
)

func TestAppSpreadsAndMovesOffADeletedAttribute(t *testing.T) {
	c := startCluster(t)
	store := attrs.NewEtcdStore(c.cli, attrs.WithPrefix(c.prefix))
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
	waitFor(t, 10*time.Second, "6 tasks running", func() bool { return c.app("/web").TasksRunning == 6 })
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
	waitFor(t, 2*time.Second, "a2's tasks to move to a4", func() bool {
		return len(c.agents["a2"].running()) == 0 && len(c.agents["a4"].running()) == 2
	})
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
	waitFor(t, 5*time.Second, "the app to settle", func() bool {
		st := c.app("/web")
		return st.TasksRunning == 6 && st.TasksKilling == 0 && st.Pending == nil
	})
	ms, err := api.NewClient([]string{c.master.URL()}).State(context.Background())
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

	waitFor(t, 10*time.Second, "three failures of /crash", func() bool {
		b := c.app("/crash").Backoff
		return b != nil && b.Failures >= 3
	})
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
	waitFor(t, 5*time.Second, "the master to show /big pending", func() bool {
		ms, err := api.NewClient([]string{c.master.URL()}).State(context.Background())
		if err != nil {
			return false
		}
		for _, p := range ms.Pending {
			if p.AppID == "big" && p.Waiting == 1 && strings.HasPrefix(p.Reason, "cpus") {
				return true
			}
		}
		return false
	})
}
