package framework

import (
	"slices"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// healthy reports tasks running and healthy, as their agent would.
func (c *testCluster) healthy(tasks []api.TaskInfo) {
	c.t.Helper()
	yes := true
	for _, ti := range tasks {
		if !c.s.StatusUpdate(api.TaskStatus{TaskID: ti.TaskID, State: api.TaskRunning, Healthy: &yes}) {
			c.t.Fatalf("status of %s: task unknown", ti.TaskID)
		}
	}
}

func (c *testCluster) ready(id string) (ready, old int) {
	st := c.s.apps[id]
	for _, t := range st.tasks {
		switch {
		case t.version != st.version:
			old++
		case t.killReason == "" && t.ready():
			ready++
		}
	}
	return ready, old
}

func TestRollingRestartKeepsMinimumHealthCapacity(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:64;mem:65536")
	app := mustApp(t, `{"id":"r","cmd":"x","cpus":0.1,"mem":1,"instances":10,
		"healthChecks":[{"protocol":"COMMAND","command":{"value":"true"}}],
		"upgradeStrategy":{"minimumHealthCapacity":0.5,"maximumOverCapacity":0}}`)
	c.s.PutApp(app)
	first := launches(c.offerAll())
	c.healthy(first)
	if d := c.s.Deployments(); len(d) != 0 {
		t.Fatalf("deployments after the start = %+v, want none", d)
	}
	d, err := c.s.Deploy([]Change{{ID: "/r", Restart: true}}, false)
	if err != nil || d.Steps[0].Actions[0].Action != ActionRestart {
		t.Fatalf("restart: %+v, %v", d, err)
	}
	// Half may go at once; no room above ten tasks.
	kills := c.s.TakeKills()
	if len(kills) != 5 {
		t.Fatalf("kills at the start of the restart = %d, want 5", len(kills))
	}
	for _, k := range kills {
		c.status(k.TaskID, api.TaskKilled, "")
	}
	minSeen := 10
	for round := 0; len(c.s.Deployments()) > 0; round++ {
		if round > 50 {
			t.Fatalf("the restart never ended: %+v", c.s.Deployments())
		}
		for _, k := range c.s.TakeKills() {
			c.status(k.TaskID, api.TaskKilled, "")
		}
		c.healthy(launches(c.offerAll()))
		ready, _ := c.ready("/r")
		old := 0
		for _, t := range c.s.apps["/r"].tasks {
			if t.killReason == "" && t.ready() && t.version != c.s.apps["/r"].version {
				old++
			}
		}
		minSeen = min(minSeen, ready+old)
	}
	if minSeen < 5 {
		t.Fatalf("ready tasks fell to %d during the restart, want at least 5", minSeen)
	}
	if st := c.appStatus("/r"); st.TasksHealthy != 10 || st.TasksRunning != 10 {
		t.Fatalf("after the restart: %d healthy, %d running", st.TasksHealthy, st.TasksRunning)
	}
}

func TestScaleDownKeepsGroupByEvenAndHonoursKillSelection(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	for i, rack := range []string{"r1", "r2", "r3"} {
		c.addAgent(string(rune('a'+i)), "cpus:8;mem:8192", "rack="+rack)
	}
	app := mustApp(t, `{"id":"g","cmd":"x","cpus":1,"mem":1,"instances":6,"killSelection":"OLDEST_FIRST",
		"constraints":[["rack","GROUP_BY","3"]]}`)
	c.s.PutApp(app)
	ls := launches(c.offerAll())
	c.run(ls)
	app.Instances = 3
	if _, err := c.s.Deploy([]Change{{App: &app}}, false); err != nil {
		t.Fatal(err)
	}
	kills := c.s.TakeKills()
	racks := map[string]int{}
	for _, k := range kills {
		racks[c.s.tasks[k.TaskID].attrs["rack"]]++
	}
	if len(kills) != 3 || racks["r1"] != 1 || racks["r2"] != 1 || racks["r3"] != 1 {
		t.Fatalf("scale down killed %v (by rack %v), want one per rack", kills, racks)
	}
	// OLDEST_FIRST: in each rack the task launched first goes.
	for _, k := range kills {
		killed := c.s.tasks[k.TaskID]
		for _, t := range c.s.tasks {
			if t != killed && t.attrs["rack"] == killed.attrs["rack"] && t.seq < killed.seq {
				c.t.Fatalf("killed %s, but %s in the same rack is older", killed.id, t.id)
			}
		}
	}
}

func TestRollbackRestoresTheOldVersionAndItsTasks(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	app, old := c.startApp(`{"id":"b","cmd":"v1","cpus":1,"mem":1,"instances":2}`)
	app.Cmd = "v2"
	d, err := c.s.Deploy([]Change{{App: &app}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.s.Deploy([]Change{{App: &app}}, false); err == nil || !strings.Contains(err.Error(), d.ID) {
		t.Fatalf("second change while deploying: %v, want locked by %s", err, d.ID)
	}
	newTasks := launches(c.offerAll())
	if len(newTasks) != 2 {
		t.Fatalf("launches = %d", len(newTasks))
	}
	rb, err := c.s.CancelDeployment(d.ID, false)
	if err != nil || rb == nil {
		t.Fatalf("rollback: %+v, %v", rb, err)
	}
	if st := c.appStatus("/b"); st.Cmd != "v1" {
		t.Fatalf("after rollback cmd = %q", st.Cmd)
	}
	// The old tasks are current again; the new ones go.
	var killed []string
	for _, k := range c.s.TakeKills() {
		killed = append(killed, k.TaskID)
	}
	slices.Sort(killed)
	want := []string{newTasks[0].TaskID, newTasks[1].TaskID}
	slices.Sort(want)
	if !slices.Equal(killed, want) {
		t.Fatalf("killed %v, want the new tasks %v", killed, want)
	}
	for _, ti := range old {
		if c.s.tasks[ti.TaskID].killReason != "" {
			t.Fatalf("old task %s killed", ti.TaskID)
		}
	}
	for _, id := range killed {
		c.status(id, api.TaskKilled, "")
	}
	if ds := c.s.Deployments(); len(ds) != 0 {
		t.Fatalf("deployments after the rollback settled: %+v", ds)
	}
}

func TestGroupDeploymentStartsDependenciesFirst(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:8;mem:8192")
	db := mustApp(t, `{"id":"/shop/db","cmd":"db","cpus":1,"mem":1}`)
	web := mustApp(t, `{"id":"/shop/web","cmd":"web","cpus":1,"mem":1,"dependencies":["db"]}`)
	d, err := c.s.Deploy([]Change{{App: &web}, {App: &db}}, false)
	if err != nil || d.TotalSteps != 2 || d.Steps[0].Actions[0].App != "/shop/db" {
		t.Fatalf("plan = %+v, %v", d, err)
	}
	ls := launches(c.offerAll())
	if len(ls) != 1 || ls[0].Cmd != "db" {
		t.Fatalf("first launches = %+v, want only db", ls)
	}
	c.run(ls)
	ls = launches(c.offerAll())
	if len(ls) != 1 || ls[0].Cmd != "web" {
		t.Fatalf("launches after db runs = %+v, want web", ls)
	}
	loop := mustApp(t, `{"id":"/shop/db","cmd":"db","cpus":1,"mem":1,"dependencies":["web"]}`)
	if _, err := c.s.Deploy([]Change{{App: &web}, {App: &loop}}, true); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("a dependency cycle: %v", err)
	}
}

func TestPortsAreAssignedFromOffersAndNamedWhenShort(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:8;mem:8192;ports:[31000-31002]")
	c.s.PutApp(mustApp(t, `{"id":"p","cmd":"x","cpus":0.1,"mem":1,"instances":2,
		"portDefinitions":[{"port":0,"name":"http"},{"port":0}],
		"healthChecks":[{"protocol":"HTTP","portIndex":1}]}`))
	ls := launches(c.offerAll())
	if len(ls) != 1 {
		t.Fatalf("launches = %d, want 1 (three ports for two tasks of two)", len(ls))
	}
	env := ls[0].Env
	if env["PORT0"] != "31000" || env["PORT1"] != "31001" || env["PORTS"] != "31000,31001" || env["PORT_HTTP"] != "31000" {
		t.Fatalf("port env = %v", env)
	}
	if !strings.Contains(ls[0].Resources, "ports:[31000-31001]") {
		t.Fatalf("resources %q lack the ports", ls[0].Resources)
	}
	if hc := ls[0].HealthChecks; len(hc) != 1 || hc[0].Port != 31001 || hc[0].Path != "/" {
		t.Fatalf("health checks = %+v", hc)
	}
	st := c.appStatus("/p")
	if st.Pending == nil || !strings.Contains(st.Pending.Reason, "ports") {
		t.Fatalf("pending = %+v, want a port shortage", st.Pending)
	}
	q := c.s.Queue()
	if len(q) != 1 || q[0].Count != 1 {
		t.Fatalf("queue = %+v", q)
	}
	var ports RejectSummary
	for _, r := range q[0].ProcessedOffersSummary.RejectSummaryLastOffers {
		if r.Reason == "InsufficientPorts" {
			ports = r
		}
	}
	if ports.Declined != 1 {
		t.Fatalf("queue reasons = %+v, want InsufficientPorts declined 1", q[0].ProcessedOffersSummary)
	}
}

func TestAcceptedResourceRolesNameTheRole(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	c.addAgent("a1", "cpus:8;mem:8192")
	c.s.PutApp(mustApp(t, `{"id":"pub","cmd":"x","cpus":1,"mem":1,"acceptedResourceRoles":["slave_public"]}`))
	if ls := launches(c.offerAll()); len(ls) != 0 {
		t.Fatalf("launched %+v on unreserved resources", ls)
	}
	st := c.appStatus("/pub")
	if st.Pending == nil || !strings.Contains(st.Pending.Reason, "slave_public") {
		t.Fatalf("pending = %+v, want the role named", st.Pending)
	}
	c.addAgent("a2", "cpus(slave_public):2;mem(slave_public):64")
	if ls := launches(c.offerAll()); len(ls) != 1 || ls[0].AgentID != "a2" {
		t.Fatalf("launches = %+v, want one on a2's slave_public resources", ls)
	}
}

func TestKillTaskWithScaleShrinksTheApp(t *testing.T) {
	c := newTestCluster(t, schedulerConfig{})
	_, ls := c.startApp(`{"id":"k","cmd":"x","cpus":1,"mem":1,"instances":3,"taskKillGracePeriodSeconds":7}`)
	_, d, err := c.s.KillTasks("/k", []string{ls[1].TaskID}, true)
	if err != nil || d == nil {
		t.Fatalf("KillTasks: %v", err)
	}
	kills := c.s.TakeKills()
	if len(kills) != 1 || kills[0].TaskID != ls[1].TaskID || kills[0].GraceSeconds != 7 {
		t.Fatalf("kills = %+v, want only the named task, with the app's grace", kills)
	}
	if st := c.appStatus("/k"); st.Instances != 2 || st.Pending != nil {
		t.Fatalf("after the kill: %d instances, pending %+v", st.Instances, st.Pending)
	}
}
