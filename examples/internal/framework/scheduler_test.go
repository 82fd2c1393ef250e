package framework

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/offer"
)

// fakeClock is a clock tests step by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// testCluster is a set of agents that make offers, and a scheduler under
// test with a fake clock and numbered task IDs.
type testCluster struct {
	t      *testing.T
	clock  *fakeClock
	s      *scheduler
	agents []offer.Agent
	offers int
}

func newTestCluster(t *testing.T, cfg schedulerConfig) *testCluster {
	t.Helper()
	c := &testCluster{t: t, clock: &fakeClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}}
	cfg.Now = c.clock.Now
	n := 0
	cfg.NewTaskID = func(appID string) string {
		n++
		return fmt.Sprintf("%s%d", taskIDPrefix(appID), n)
	}
	c.s = newScheduler(cfg)
	return c
}

// addAgent adds an agent with resources and attributes "k=v" pairs.
func (c *testCluster) addAgent(id, res string, kv ...string) {
	attrs := map[string]string{}
	for _, p := range kv {
		k, v, _ := strings.Cut(p, "=")
		attrs[k] = v
	}
	r := offer.MustParseResources(res)
	c.agents = append(c.agents, offer.Agent{ID: id, Hostname: "host-" + id, Attributes: attrs, Total: r, Free: r})
}

// setAttrs replaces an agent's attributes.
func (c *testCluster) setAttrs(id string, attrs map[string]string) {
	for i := range c.agents {
		if c.agents[i].ID == id {
			c.agents[i].Attributes = attrs
		}
	}
}

// offerAll offers every agent's free resources and applies the plan to
// the agents' free resources, as the master would.
func (c *testCluster) offerAll() offerPlan {
	c.t.Helper()
	var offers []offer.Offer
	for _, a := range c.agents {
		c.offers++
		offers = append(offers, offer.Offer{
			ID: fmt.Sprintf("o%d", c.offers), AgentID: a.ID, Hostname: a.Hostname,
			Attributes: a.Attributes, FrameworkID: "fw", Resources: a.Free,
		})
	}
	plan := c.s.ResourceOffers(offers)
	for _, acc := range plan.Accept {
		for _, ti := range acc.Tasks {
			for i := range c.agents {
				if c.agents[i].ID == ti.AgentID {
					c.agents[i].Free = c.agents[i].Free.Subtract(offer.MustParseResources(ti.Resources))
				}
			}
		}
	}
	return plan
}

func launches(p offerPlan) []api.TaskInfo {
	var out []api.TaskInfo
	for _, a := range p.Accept {
		out = append(out, a.Tasks...)
	}
	return out
}

func (c *testCluster) status(taskID string, state api.TaskState, reason string) {
	c.t.Helper()
	if !c.s.StatusUpdate(api.TaskStatus{TaskID: taskID, State: state, Reason: reason}) {
		c.t.Fatalf("status of %s: task unknown", taskID)
	}
}

// runAll reports the launches of a plan running.
func (c *testCluster) runAll(p offerPlan) {
	c.run(launches(p))
}

func (c *testCluster) run(tasks []api.TaskInfo) {
	for _, ti := range tasks {
		c.status(ti.TaskID, api.TaskRunning, "")
	}
}

// startApp puts an app on a cluster of one big agent, offers once and
// reports every launch running.
func (c *testCluster) startApp(js string) (App, []api.TaskInfo) {
	c.t.Helper()
	c.addAgent("a1", "cpus:8;mem:8192")
	app := mustApp(c.t, js)
	c.s.PutApp(app)
	ls := launches(c.offerAll())
	c.run(ls)
	return app, ls
}

func mustApp(t *testing.T, js string) App {
	t.Helper()
	a, err := DecodeApp(strings.NewReader(js))
	if err != nil {
		t.Fatalf("DecodeApp(%s): %v", js, err)
	}
	return a
}

func (c *testCluster) appStatus(id string) AppStatus {
	c.t.Helper()
	st, err := c.s.App(id)
	if err != nil {
		c.t.Fatal(err)
	}
	return st
}

func TestGroupBySpreadsSixInstancesOverThreeRacks(t *testing.T) {
	for _, strategy := range []offer.Strategy{offer.BinPack, offer.FirstFit, offer.Spread} {
		t.Run(strategy.String(), func(t *testing.T) {
			c := newTestCluster(t, schedulerConfig{Strategy: strategy})
			// Six agents, two per rack, each big enough for all six tasks:
			// only the constraint spreads them.
			for i := range 6 {
				c.addAgent(fmt.Sprintf("a%d", i), "cpus:8;mem:8192", fmt.Sprintf("rack=r%d", i%3+1))
			}
			c.s.PutApp(mustApp(t, `{"id":"web","cmd":"sleep 1000","cpus":1,"mem":128,"instances":6,
				"constraints":[["rack","GROUP_BY","3"]]}`))
			p := c.offerAll()
			perRack := map[string]int{}
			for _, ti := range launches(p) {
				for _, a := range c.agents {
					if a.ID == ti.AgentID {
						perRack[a.Attributes["rack"]]++
					}
				}
			}
			if want := map[string]int{"r1": 2, "r2": 2, "r3": 2}; !maps.Equal(perRack, want) {
				t.Fatalf("tasks per rack = %v, want %v", perRack, want)
			}
			if st := c.appStatus("/web"); st.TasksStaged != 6 || st.Pending != nil {
				t.Fatalf("staged %d, pending %+v", st.TasksStaged, st.Pending)
			}
		})
	}
}

func TestGroupByWaitsForTheThirdRack(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:8;mem:8192", "rack=r1")
	c.addAgent("a2", "cpus:8;mem:8192", "rack=r2")
	c.s.PutApp(mustApp(t, `{"id":"web","cmd":"x","cpus":1,"instances":6,"constraints":[["rack","GROUP_BY","3"]]}`))
	p := c.offerAll()
	if n := len(launches(p)); n != 2 {
		t.Fatalf("launched %d with two racks of three, want 2 (one per rack)", n)
	}
	st := c.appStatus("/web")
	if st.Pending == nil || st.Pending.Instances != 4 || !strings.Contains(st.Pending.Reason, "rack GROUP_BY") {
		t.Fatalf("pending = %+v, want 4 instances rejected by rack GROUP_BY", st.Pending)
	}
	c.addAgent("a3", "cpus:8;mem:8192", "rack=r3")
	p = c.offerAll()
	if n := len(launches(p)); n != 4 {
		t.Fatalf("launched %d once the third rack came, want 4", n)
	}
}

func TestPendingReasonCountsRejectedOffers(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:2;mem:8192", "rack=r1")
	c.addAgent("a2", "cpus:2;mem:8192", "rack=r2")
	c.addAgent("a3", "cpus:8;mem:8192", "rack=r3")
	c.s.PutApp(mustApp(t, `{"id":"big","cmd":"x","cpus":4,"mem":64,"instances":2,"constraints":[["hostname","UNIQUE"]]}`))
	p := c.offerAll()
	if len(launches(p)) != 1 || launches(p)[0].AgentID != "a3" {
		t.Fatalf("launches = %+v, want one on a3", launches(p))
	}
	if !slices.Equal(p.Decline, []string{"o1", "o2"}) {
		t.Fatalf("declined %v, want the two unused offers", p.Decline)
	}
	st := c.appStatus("/big")
	if st.Pending == nil || st.Pending.Reason != "cpus: 2, hostname UNIQUE: 1" || st.Pending.Instances != 1 {
		t.Fatalf("pending = %+v, want 1 instance, reason %q", st.Pending, "cpus: 2, hostname UNIQUE: 1")
	}
	// The same counts, typed, as the master and its dashboard receive them.
	want := []api.Rejection{{Kind: api.RejectResource, Name: "cpus", Offers: 2}, {Kind: api.RejectConstraint, Name: "hostname:UNIQUE", Offers: 1}}
	if !slices.Equal(st.Pending.Rejections, want) {
		t.Fatalf("rejections = %+v, want %+v", st.Pending.Rejections, want)
	}
	reported := pendingApps([]AppStatus{st})
	if len(reported) != 1 || !slices.Equal(reported[0].Rejections, want) || reported[0].Reason != st.Pending.Reason {
		t.Fatalf("reported to the master: %+v, want the reason and rejections", reported)
	}
}

func TestAttributeRemovalKillsAndReplaces(t *testing.T) {
	tests := []struct {
		name       string
		constraint string
		attrs      map[string]string // a2's attributes after the change
	}{
		{"IS attribute deleted", `["ssd","IS","true"]`, map[string]string{"rack": "r2"}},
		{"IS attribute changed", `["ssd","IS","true"]`, map[string]string{"rack": "r2", "ssd": "false"}},
		{"LIKE attribute deleted", `["ssd","LIKE","t.*"]`, map[string]string{"rack": "r2"}},
		{"GROUP_BY attribute deleted", `["rack","GROUP_BY"]`, map[string]string{"ssd": "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCluster(t, schedulerConfig{})
			c.addAgent("a1", "cpus:4;mem:4096", "rack=r1", "ssd=true")
			c.addAgent("a2", "cpus:4;mem:4096", "rack=r2", "ssd=true")
			c.s.PutApp(mustApp(t, `{"id":"db","cmd":"x","cpus":1,"instances":2,
				"constraints":[["hostname","UNIQUE"],`+tt.constraint+`]}`))
			p := c.offerAll()
			c.runAll(p)
			var onA2 string
			for _, ti := range launches(p) {
				if ti.AgentID == "a2" {
					onA2 = ti.TaskID
				}
			}
			if onA2 == "" {
				t.Fatalf("no task on a2: %+v", launches(p))
			}
			c.s.OfferCall()

			c.setAttrs("a2", tt.attrs)
			c.s.AgentChanged("a2", "host-a2", tt.attrs)
			kills := c.s.TakeKills()
			if len(kills) != 1 || kills[0].TaskID != onA2 || kills[0].Cause != killConstraint ||
				!strings.HasPrefix(kills[0].Reason, api.ReasonConstraint) {
				t.Fatalf("kills = %+v, want the task on a2 for its constraint", kills)
			}
			if call := c.s.OfferCall(); call != offerRevive {
				t.Fatalf("offer call after the kill = %v, want revive", call)
			}
			// The replacement goes to a new agent that qualifies, naming the
			// task it re-places, before the old one has even ended.
			c.addAgent("a3", "cpus:4;mem:4096", "rack=r3", "ssd=true")
			p = c.offerAll()
			ls := launches(p)
			if len(ls) != 1 || ls[0].AgentID != "a3" || ls[0].Replaces != onA2 {
				t.Fatalf("launches after the change = %+v, want one on a3 replacing %s", ls, onA2)
			}
			c.status(onA2, api.TaskKilled, "")
			st := c.appStatus("/db")
			if st.LastTaskFailure != nil || st.Backoff != nil {
				t.Fatalf("a kill for a constraint counted as a failure: %+v %+v", st.LastTaskFailure, st.Backoff)
			}
		})
	}
}

func TestAttributeChangeSeenInOffersKillsToo(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:4;mem:4096", "zone=east")
	c.s.PutApp(mustApp(t, `{"id":"e","cmd":"x","cpus":1,"constraints":[["zone","IS","east"]]}`))
	c.runAll(c.offerAll())
	c.setAttrs("a1", map[string]string{"zone": "west"})
	c.offerAll() // the offer carries the new attributes
	if kills := c.s.TakeKills(); len(kills) != 1 || kills[0].Cause != killConstraint {
		t.Fatalf("kills = %+v, want one for the constraint", kills)
	}
}

func TestUniqueValueChangeKillsOnlyTheChangedAgentsTask(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:4;mem:4096", "rack=r1")
	c.addAgent("a2", "cpus:4;mem:4096", "rack=r2")
	c.s.PutApp(mustApp(t, `{"id":"u","cmd":"x","cpus":1,"instances":2,"constraints":[["rack","UNIQUE"]]}`))
	p := c.offerAll()
	c.runAll(p)
	c.s.AgentChanged("a2", "", map[string]string{"rack": "r1"}) // hostname unknown: kept
	kills := c.s.TakeKills()
	if len(kills) != 1 || kills[0].AgentID != "a2" {
		t.Fatalf("kills = %+v, want only the task on a2", kills)
	}
	if st := c.appStatus("/u"); st.Tasks[1].Host != "host-a2" {
		t.Fatalf("host after a change without hostname = %q", st.Tasks[1].Host)
	}
}

func TestUnrelatedAttributeChangeKillsNothing(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:4;mem:4096", "rack=r1")
	c.s.PutApp(mustApp(t, `{"id":"g","cmd":"x","cpus":1,"instances":2,"constraints":[["rack","GROUP_BY"]]}`))
	c.runAll(c.offerAll())
	c.s.AgentChanged("a1", "host-a1", map[string]string{"rack": "r1", "cores": "16"})
	if kills := c.s.TakeKills(); len(kills) != 0 {
		t.Fatalf("kills = %+v, want none", kills)
	}
}

func TestFailedTasksRestartWithExponentialBackoff(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{StableAfter: time.Minute})
	c.addAgent("a1", "cpus:4;mem:4096")
	c.s.PutApp(mustApp(t, `{"id":"crash","cmd":"exit 1","cpus":1,
		"backoffSeconds":1,"backoffFactor":2,"maxLaunchDelaySeconds":5}`))

	launchAndFail := func() string {
		t.Helper()
		ls := launches(c.offerAll())
		if len(ls) != 1 {
			t.Fatalf("at %s: launches = %d, want 1", c.clock.t.Format("15:04:05.000"), len(ls))
		}
		c.status(ls[0].TaskID, api.TaskRunning, "")
		c.status(ls[0].TaskID, api.TaskFailed, "exited 1")
		c.agents[0].Free = c.agents[0].Total
		return ls[0].TaskID
	}
	// After the nth failure the next launch waits 1, 2, 4, then 5 s (capped).
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		id := launchAndFail()
		st := c.appStatus("/crash")
		if st.LastTaskFailure == nil || st.LastTaskFailure.TaskID != id || st.LastTaskFailure.State != api.TaskFailed ||
			st.LastTaskFailure.Message != "exited 1" {
			t.Fatalf("failure %d: lastTaskFailure = %+v", i+1, st.LastTaskFailure)
		}
		if st.Backoff == nil || st.Backoff.Failures != i+1 || st.Backoff.Until != c.clock.t.Add(want) {
			t.Fatalf("failure %d: backoff = %+v, want until now+%s", i+1, st.Backoff, want)
		}
		if st.Pending == nil || !strings.HasPrefix(st.Pending.Reason, "backoff") {
			t.Fatalf("failure %d: pending = %+v, want a backoff reason", i+1, st.Pending)
		}
		if call := c.s.OfferCall(); call != offerSuppress {
			t.Fatalf("failure %d: offer call in backoff = %v, want suppress", i+1, call)
		}
		c.clock.Advance(want - time.Millisecond)
		c.s.Tick()
		if p := c.offerAll(); len(launches(p)) != 0 || len(p.Decline) != 1 {
			t.Fatalf("failure %d: launched %d within the backoff", i+1, len(launches(p)))
		}
		c.clock.Advance(time.Millisecond)
		c.s.Tick()
		if call := c.s.OfferCall(); call != offerRevive {
			t.Fatalf("failure %d: offer call when the backoff ends = %v, want revive", i+1, call)
		}
	}

	// A task that runs stably resets the backoff.
	ls := launches(c.offerAll())
	c.status(ls[0].TaskID, api.TaskRunning, "")
	c.clock.Advance(time.Minute)
	c.s.Tick()
	if st := c.appStatus("/crash"); st.Backoff != nil {
		t.Fatalf("backoff after a stable minute = %+v, want none", st.Backoff)
	}
	c.status(ls[0].TaskID, api.TaskFailed, "")
	if st := c.appStatus("/crash"); st.Backoff == nil || st.Backoff.Failures != 1 || st.Backoff.Until != c.clock.t.Add(time.Second) {
		t.Fatalf("backoff after the reset = %+v, want the first delay again", st.Backoff)
	}
}

func TestStableRunResetsBackoffAtFailure(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{StableAfter: time.Minute})
	c.addAgent("a1", "cpus:4;mem:4096")
	c.s.PutApp(mustApp(t, `{"id":"x","cmd":"x","cpus":1,"backoffSeconds":1,"backoffFactor":2}`))
	for range 3 { // three quick failures: the delay is 4 s
		c.clock.Advance(10 * time.Second)
		c.s.Tick()
		ls := launches(c.offerAll())
		c.status(ls[0].TaskID, api.TaskRunning, "")
		c.status(ls[0].TaskID, api.TaskFailed, "")
		c.agents[0].Free = c.agents[0].Total
	}
	c.clock.Advance(10 * time.Second)
	ls := launches(c.offerAll())
	c.status(ls[0].TaskID, api.TaskRunning, "")
	c.clock.Advance(2 * time.Minute) // no Tick in between
	c.status(ls[0].TaskID, api.TaskFailed, "")
	if st := c.appStatus("/x"); st.Backoff.Failures != 1 {
		t.Fatalf("failures after a task ran two minutes = %d, want 1", st.Backoff.Failures)
	}
}

func TestScaleUpAndDown(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	app, first := c.startApp(`{"id":"s","cmd":"x","cpus":1,"instances":2}`)

	app.Instances = 4
	c.s.PutApp(app)
	if kills := c.s.TakeKills(); len(kills) != 0 {
		t.Fatalf("scaling up killed %+v", kills)
	}
	second := launches(c.offerAll())
	if len(second) != 2 {
		t.Fatalf("scale to 4 launched %d, want 2", len(second))
	}
	c.clock.Advance(time.Second)
	c.status(second[0].TaskID, api.TaskRunning, "")

	// Scaling down kills what is not running yet first, then the youngest.
	app.Instances = 1
	c.s.PutApp(app)
	var killed []string
	for _, k := range c.s.TakeKills() {
		if k.Cause != killScale {
			t.Fatalf("kill cause %q, want scale", k.Cause)
		}
		killed = append(killed, k.TaskID)
	}
	want := []string{second[1].TaskID, second[0].TaskID, first[1].TaskID}
	if !slices.Equal(killed, want) {
		t.Fatalf("killed %v, want %v", killed, want)
	}
	if st := c.appStatus("/s"); st.TasksKilling != 3 || st.TasksRunning != 1 || st.Pending != nil {
		t.Fatalf("after scale down: killing %d running %d pending %+v", st.TasksKilling, st.TasksRunning, st.Pending)
	}
}

func TestUpdateReplacesEveryTask(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	app, old := c.startApp(`{"id":"u","cmd":"v1","cpus":1,"instances":2}`)
	c.clock.Advance(time.Second)
	app.Cmd = "v2"
	if created := c.s.PutApp(app); created {
		t.Fatal("update reported as created")
	}
	// Marathon's default strategy (minimumHealthCapacity 1,
	// maximumOverCapacity 1): the new tasks start beside the old ones,
	// and each old one goes when a new one runs.
	if kills := c.s.TakeKills(); len(kills) != 0 {
		t.Fatalf("kills = %+v before any new task runs", kills)
	}
	ls := launches(c.offerAll())
	if len(ls) != 2 || ls[0].Cmd != "v2" {
		t.Fatalf("launches = %+v, want two v2 tasks", ls)
	}
	c.run(ls[:1])
	kills := c.s.TakeKills()
	if len(kills) != 1 || kills[0].Cause != killUpdate || kills[0].TaskID != old[1].TaskID {
		t.Fatalf("kills after one new task runs = %+v, want the youngest old task", kills)
	}
	c.run(ls[1:])
	if kills := c.s.TakeKills(); len(kills) != 1 || kills[0].TaskID != old[0].TaskID {
		t.Fatalf("kills after both run = %+v, want the other old task", kills)
	}
	if ls[0].Env["MARATHON_APP_VERSION"] == old[0].Env["MARATHON_APP_VERSION"] {
		t.Fatal("the new version has the old version's timestamp")
	}
}

func TestRemoveAppKillsTasksAndForgetsItWhenTheyEnd(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:8;mem:8192")
	c.s.PutApp(mustApp(t, `{"id":"d","cmd":"x","cpus":1,"instances":2}`))
	ls := launches(c.offerAll())
	if err := c.s.RemoveApp("/d"); err != nil {
		t.Fatal(err)
	}
	if kills := c.s.TakeKills(); len(kills) != 2 || kills[0].Cause != killDelete {
		t.Fatalf("kills = %+v", kills)
	}
	if _, err := c.s.App("/d"); err == nil {
		t.Fatal("deleted app still listed")
	}
	if err := c.s.RemoveApp("/d"); err == nil {
		t.Fatal("second delete succeeded")
	}
	for _, ti := range ls {
		c.status(ti.TaskID, api.TaskKilled, "")
	}
	if n := len(c.s.apps); n != 0 {
		t.Fatalf("%d apps kept after their tasks ended", n)
	}
	if call := c.s.OfferCall(); call != offerSuppress {
		t.Fatalf("offer call with no apps = %v", call)
	}
}

func TestOfferCalls(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:8;mem:8192")
	if call := c.s.OfferCall(); call != offerSuppress {
		t.Fatalf("with nothing to run: %v, want suppress", call)
	}
	if call := c.s.OfferCall(); call != offerNone {
		t.Fatalf("again: %v, want none", call)
	}
	c.s.PutApp(mustApp(t, `{"id":"a","cmd":"x","cpus":1}`))
	if call := c.s.OfferCall(); call != offerRevive {
		t.Fatalf("after a new app: %v, want revive", call)
	}
	if call := c.s.OfferCall(); call != offerNone {
		t.Fatalf("still pending: %v, want none", call)
	}
	c.offerAll()
	if call := c.s.OfferCall(); call != offerSuppress {
		t.Fatalf("all launched: %v, want suppress", call)
	}
	c.s.ResetOffers()
	if call := c.s.OfferCall(); call != offerSuppress {
		t.Fatalf("after a reset with nothing pending: %v, want suppress again", call)
	}
}

func TestKillsAreRepeatedUntilAnswered(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{KillRetry: 10 * time.Second})
	c.addAgent("a1", "cpus:8;mem:8192")
	c.s.PutApp(mustApp(t, `{"id":"k","cmd":"x","cpus":1}`))
	c.offerAll()
	_ = c.s.RemoveApp("/k")
	if n := len(c.s.TakeKills()); n != 1 {
		t.Fatalf("kills = %d", n)
	}
	c.clock.Advance(9 * time.Second)
	c.s.Tick()
	if n := len(c.s.TakeKills()); n != 0 {
		t.Fatalf("kill repeated after 9 s")
	}
	c.clock.Advance(time.Second)
	c.s.Tick()
	if k := c.s.TakeKills(); len(k) != 1 || k[0].Cause != killDelete {
		t.Fatalf("kill not repeated after 10 s: %+v", k)
	}
}

func TestLaunchFailedMakesInstancesPendingWithoutBackoff(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:8;mem:8192")
	c.s.PutApp(mustApp(t, `{"id":"r","cmd":"x","cpus":1}`))
	ls := launches(c.offerAll())
	c.s.LaunchFailed(ls[0].TaskID)
	st := c.appStatus("/r")
	if st.Pending == nil || st.Backoff != nil || len(st.Tasks) != 0 {
		t.Fatalf("after a refused launch: %+v", st)
	}
	if n := len(launches(c.offerAll())); n != 1 {
		t.Fatalf("relaunched %d", n)
	}
}

func TestReconcileAdoptsKillsAndDrops(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:8;mem:8192")
	c.s.PutApp(mustApp(t, `{"id":"known","cmd":"x","cpus":1,"instances":2}`))
	ls := launches(c.offerAll()) // known.1, known.2
	c.s.Reconcile([]api.TaskStatus{
		{TaskID: ls[0].TaskID, AppID: "known", AgentID: "a1", State: api.TaskRunning},
		{TaskID: "known.old", AppID: "known", AgentID: "a1", State: api.TaskRunning},
		{TaskID: "gone.1", AppID: "gone", AgentID: "a1", State: api.TaskRunning},
		{TaskID: "ended.1", AppID: "known", AgentID: "a1", State: api.TaskFinished},
	})
	kills := c.s.TakeKills()
	if len(kills) != 1 || kills[0].TaskID != "gone.1" || kills[0].Cause != killUnknown {
		t.Fatalf("kills = %+v, want the task of the unknown app", kills)
	}
	st := c.appStatus("/known")
	var ids []string
	for _, tv := range st.Tasks {
		ids = append(ids, tv.ID)
	}
	// ls[1] is unknown to the master: dropped as lost and re-placed later;
	// known.old is adopted.
	if !slices.Equal(ids, []string{ls[0].TaskID, "known.old"}) || st.TasksRunning != 2 {
		t.Fatalf("tasks = %v (running %d), want the master's two", ids, st.TasksRunning)
	}
	if st.LastTaskFailure == nil || st.LastTaskFailure.TaskID != ls[1].TaskID || st.LastTaskFailure.State != api.TaskLost {
		t.Fatalf("lastTaskFailure = %+v", st.LastTaskFailure)
	}
	if len(c.s.Apps()) != 1 {
		t.Fatalf("apps = %+v, want only /known", c.s.Apps())
	}
	c.status("gone.1", api.TaskKilled, "")
	if len(c.s.apps) != 1 {
		t.Fatal("the unknown app's placeholder outlived its task")
	}
}

func TestAgentGoneDropsTasksWithoutBackoff(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.startApp(`{"id":"g","cmd":"x","cpus":1,"instances":2}`)
	c.s.OfferCall()
	c.s.AgentGone("a1")
	st := c.appStatus("/g")
	if len(st.Tasks) != 0 || st.Pending == nil || st.Pending.Instances != 2 || st.Backoff != nil {
		t.Fatalf("after the agent went: %+v", st)
	}
	if st.LastTaskFailure == nil || st.LastTaskFailure.Message != api.ReasonAgentGone {
		t.Fatalf("lastTaskFailure = %+v", st.LastTaskFailure)
	}
	if call := c.s.OfferCall(); call != offerRevive {
		t.Fatalf("offer call = %v, want revive", call)
	}
}

func TestLaunchCarriesTheAppDefinition(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:8;mem:8192;disk:1000")
	c.s.PutApp(mustApp(t, `{"id":"/team/job","args":["/bin/job","--fast"],"cpus":0.5,"mem":64,"disk":10,
		"env":{"MODE":"batch"},"labels":{"team":"render"},
		"fetch":[{"uri":"https://example.com/a.tar.gz","extract":true,"cache":true},{"uri":"/srv/tool","executable":true,"destPath":"bin/tool"}],
		"container":{"rootfs":{"image":"file:///srv/job.tar.gz","sha256":"`+strings.Repeat("ab", 32)+`","base":"busybox","baseVersion":"1.36"}}}`))
	ls := launches(c.offerAll())
	if len(ls) != 1 {
		t.Fatalf("launches = %+v", ls)
	}
	ti := ls[0]
	want := api.TaskInfo{
		TaskID: "team_job.1", AppID: "team_job", AgentID: "a1", OfferID: "o1",
		Args: []string{"/bin/job", "--fast"}, Resources: "cpus:0.5;disk:10;mem:64",
		Env: map[string]string{
			"MODE": "batch", "MARATHON_APP_ID": "/team/job", "MESOS_TASK_ID": "team_job.1", "HOST": "host-a1",
			"MARATHON_APP_VERSION": "2026-11-25T12:00:00Z",
		},
		Labels: map[string]string{"team": "render"},
		Fetch: []api.FetchURI{
			{URI: "https://example.com/a.tar.gz", Extract: true, Cache: true},
			{URI: "/srv/tool", Executable: true, DestPath: "bin/tool"},
		},
		Image: &api.Image{URI: "file:///srv/job.tar.gz", SHA256: strings.Repeat("ab", 32), Base: "busybox", Version: "1.36"},
	}
	if !reflect.DeepEqual(ti, want) {
		t.Fatalf("task info\n got %+v\nwant %+v", ti, want)
	}
}

func TestOneOfferLaunchesAtMostMaxTasksPerAccept(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:64;mem:65536")
	c.s.PutApp(mustApp(t, `{"id":"many","cmd":"x","cpus":0.1,"mem":16,"instances":250}`))
	if n := len(launches(c.offerAll())); n != api.MaxTasksPerAccept {
		t.Fatalf("first offer launched %d, want %d", n, api.MaxTasksPerAccept)
	}
	if st := c.appStatus("/many"); st.TasksStaged != api.MaxTasksPerAccept || st.Pending.Instances != 250-api.MaxTasksPerAccept {
		t.Fatalf("staged %d, pending %+v", st.TasksStaged, st.Pending)
	}
	c.offerAll()
	if n := len(launches(c.offerAll())); n != 50 {
		t.Fatalf("third offer launched %d, want the last 50", n)
	}
}

func TestRecreatingADeletedAppKeepsTrackOfItsDyingTasks(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	app, old := c.startApp(`{"id":"re","cmd":"x","cpus":1,"instances":2}`)
	_ = c.s.RemoveApp("/re")
	if created := c.s.PutApp(app); !created {
		t.Fatal("re-creating a deleted app is not a creation")
	}
	st := c.appStatus("/re")
	if st.TasksKilling != 2 || st.Pending == nil || st.Pending.Instances != 2 {
		t.Fatalf("after re-creation: killing %d, pending %+v", st.TasksKilling, st.Pending)
	}
	if n := len(launches(c.offerAll())); n != 2 {
		t.Fatalf("launched %d new tasks, want 2", n)
	}
	for _, ti := range old {
		c.status(ti.TaskID, api.TaskKilled, "")
	}
	if st := c.appStatus("/re"); st.TasksKilling != 0 || st.LastTaskFailure != nil || len(st.Tasks) != 2 {
		t.Fatalf("after the old tasks ended: %+v", st)
	}
}

func TestScaleDownForgetsReplacementsNoLongerNeeded(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:8;mem:8192")
	app := mustApp(t, `{"id":"sd","cmd":"x","cpus":1,"instances":2,"backoffSeconds":0}`)
	c.s.PutApp(app)
	ls := launches(c.offerAll())
	c.status(ls[0].TaskID, api.TaskFailed, "")
	c.status(ls[1].TaskID, api.TaskFailed, "")
	app.Instances = 1
	c.s.PutApp(app)
	c.agents[0].Free = c.agents[0].Total
	next := launches(c.offerAll())
	if len(next) != 1 || next[0].Replaces != ls[1].TaskID {
		t.Fatalf("launches = %+v, want one replacing the latest failure %s", next, ls[1].TaskID)
	}
}

func TestEndsThatAreNotTheAppsFaultDoNotBackOff(t *testing.T) {
	tests := []struct {
		name    string
		state   api.TaskState
		reason  string
		backoff bool
	}{
		{"failed", api.TaskFailed, "exited with status 1", true},
		{"killed by someone else", api.TaskKilled, "", true},
		{"evicted for the business", api.TaskKilled, api.ReasonEvicted + ": business memory rose", false},
		{"agent gone", api.TaskLost, api.ReasonAgentGone, false},
		{"unknown to the agent", api.TaskLost, api.ReasonUnknownToAgent, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCluster(t, schedulerConfig{})
			c.addAgent("a1", "cpus:8;mem:8192")
			c.s.PutApp(mustApp(t, `{"id":"f","cmd":"x","cpus":1}`))
			ls := launches(c.offerAll())
			c.status(ls[0].TaskID, api.TaskRunning, "")
			c.status(ls[0].TaskID, tt.state, tt.reason)
			st := c.appStatus("/f")
			if (st.Backoff != nil) != tt.backoff {
				t.Fatalf("backoff = %+v, want backoff %v", st.Backoff, tt.backoff)
			}
			if st.LastTaskFailure == nil || st.LastTaskFailure.State != tt.state || st.LastTaskFailure.Message != tt.reason {
				t.Fatalf("lastTaskFailure = %+v", st.LastTaskFailure)
			}
			c.agents[0].Free = c.agents[0].Total
			if got := len(launches(c.offerAll())) == 1; got == tt.backoff {
				t.Fatalf("relaunched at once: %v, want %v", got, !tt.backoff)
			}
		})
	}
}

func TestReconcileChecksTheConstraintsOfAdoptedTasks(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.s.PutApp(mustApp(t, `{"id":"ssd","cmd":"x","cpus":1,"instances":2,"constraints":[["disk","IS","ssd"]]}`))
	// After a restart the framework learns the agents, then the tasks.
	c.s.AgentChanged("a1", "h1", map[string]string{"disk": "ssd"})
	c.s.AgentChanged("a2", "h2", map[string]string{"disk": "hdd"}) // changed while the framework was down
	c.s.Reconcile([]api.TaskStatus{
		{TaskID: "ssd.1", AppID: "ssd", AgentID: "a1", State: api.TaskRunning},
		{TaskID: "ssd.2", AppID: "ssd", AgentID: "a2", State: api.TaskRunning},
	})
	kills := c.s.TakeKills()
	if len(kills) != 1 || kills[0].TaskID != "ssd.2" || kills[0].Cause != killConstraint {
		t.Fatalf("kills = %+v, want ssd.2 for its constraint", kills)
	}
	if st := c.appStatus("/ssd"); st.Tasks[0].Host != "h1" {
		t.Fatalf("adopted task's host = %q, want h1", st.Tasks[0].Host)
	}
}

// TestPriorityTravelsAndIsBoundedByTheRole: an app's priority (its field,
// or the GLEANER_PRIORITY label) goes with its tasks; above what the
// framework's role may use, the app stays pending saying so, and asks for
// no offers.
func TestPriorityTravelsAndIsBoundedByTheRole(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:8;mem:8192")
	c.s.maxPriority = 5
	c.s.PutApp(mustApp(t, `{"id":"/urgent","cmd":"x","cpus":0.1,"mem":16,"labels":{"GLEANER_PRIORITY":"9"}}`))
	c.s.PutApp(mustApp(t, `{"id":"/batch","cmd":"x","cpus":0.1,"mem":16,"priority":5}`))
	ls := launches(c.offerAll())
	if len(ls) != 1 || ls[0].AppID != "batch" || ls[0].Priority != 5 {
		t.Fatalf("launches %+v, want one of batch at priority 5", ls)
	}
	st := c.appStatus("/urgent")
	if st.Priority != 9 || st.Pending == nil || st.Pending.Reason != "priority 9: the framework's role may use 0 to 5" {
		t.Fatalf("urgent: priority %d, pending %+v", st.Priority, st.Pending)
	}
	if c.s.wantsOffers() {
		t.Error("an app above the role's priorities asks for offers")
	}
	c.s.maxPriority = 10
	if ls := launches(c.offerAll()); len(ls) != 1 || ls[0].Priority != 9 {
		t.Fatalf("launches %+v, want urgent at priority 9 once the role allows it", ls)
	}
}

// TestDrainingAgentsTasksMoveReplacementFirst: when an agent drains, each
// of an app's tasks there gets a replacement on another agent, and goes
// only once that replacement runs, so that the app never has fewer
// instances running; a drain ended meanwhile moves nothing more.
func TestDrainingAgentsTasksMoveReplacementFirst(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:1;mem:1024")
	app := mustApp(t, `{"id":"/web","cmd":"x","cpus":0.4,"mem":16,"instances":2}`)
	c.s.PutApp(app)
	first := launches(c.offerAll())
	if len(first) != 2 {
		t.Fatalf("launches %+v", first)
	}
	c.run(first)
	c.addAgent("a2", "cpus:1;mem:1024")

	c.s.AgentDraining("a1", true)
	if k := c.s.TakeKills(); len(k) != 0 {
		t.Fatalf("kills %+v before any replacement runs", k)
	}
	// The draining agent offers nothing: the master withholds it.
	c.agents[0].Free = offer.Resources{}
	moved := launches(c.offerAll())
	if len(moved) != 2 || moved[0].AgentID != "a2" || moved[1].AgentID != "a2" {
		t.Fatalf("launches %+v, want two replacements on a2", moved)
	}
	c.status(moved[0].TaskID, api.TaskRunning, "")
	kills := c.s.TakeKills()
	if len(kills) != 1 || kills[0].AgentID != "a1" || kills[0].Cause != killDrain ||
		!strings.HasPrefix(kills[0].Reason, api.ReasonDrained) {
		t.Fatalf("kills %+v, want one task of a1 killed for the drain once one replacement runs", kills)
	}
	if n := c.appStatus("/web").TasksRunning; n < 2 {
		t.Errorf("%d tasks running while moving, want at least 2", n)
	}
	c.status(kills[0].TaskID, api.TaskKilled, kills[0].Reason)
	c.status(moved[1].TaskID, api.TaskRunning, "")
	kills = c.s.TakeKills()
	if len(kills) != 1 || kills[0].AgentID != "a1" {
		t.Fatalf("kills %+v, want the second task of a1", kills)
	}
	c.status(kills[0].TaskID, api.TaskKilled, kills[0].Reason)
	st := c.appStatus("/web")
	if st.TasksRunning != 2 || st.LastTaskFailure != nil || st.Backoff != nil {
		t.Errorf("after the move: %d running, failure %+v, backoff %+v; want 2 and neither", st.TasksRunning, st.LastTaskFailure, st.Backoff)
	}
	for _, tv := range st.Tasks {
		if tv.AgentID != "a2" {
			t.Errorf("task %s still on %s", tv.ID, tv.AgentID)
		}
	}
}
