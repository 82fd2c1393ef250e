package offer

import (
	"reflect"
	"slices"
	"strconv"
	"testing"
)

func testOffer(id, host, res string, kv ...string) Offer {
	attrs := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		attrs[kv[i]] = kv[i+1]
	}
	return Offer{ID: id, AgentID: "agent-" + host, Hostname: host, Attributes: attrs, FrameworkID: "fw", Resources: MustParseResources(res)}
}

func testTask(id, app, res string, constraints ...string) Task {
	t := Task{ID: id, AppID: app, Resources: MustParseResources(res)}
	for _, c := range constraints {
		t.Constraints = append(t.Constraints, MustParseConstraint(c))
	}
	return t
}

// launchedOn maps task ID to the offer ID it landed on.
func launchedOn(res Result) map[string]string {
	m := map[string]string{}
	for _, l := range res.Launches {
		m[l.TaskID] = l.OfferID
	}
	return m
}

func TestMatchPlacesTaskAndReturnsLeftover(t *testing.T) {
	offers := []Offer{testOffer("o1", "h1", "cpus:4;mem:4096;ports:[31000-31010]")}
	tasks := []Task{testTask("t1", "app", "cpus:1.5;mem:1024;ports:[31005-31005]")}
	res := Match(offers, tasks, nil)
	if len(res.Launches) != 1 || len(res.Pending) != 0 {
		t.Fatalf("launches %v, pending %v", res.Launches, res.Pending)
	}
	l := res.Launches[0]
	if l.OfferID != "o1" || l.AgentID != "agent-h1" || l.Hostname != "h1" || l.Resources.String() != "cpus:1.5;mem:1024;ports:[31005-31005]" {
		t.Fatalf("launch = %+v", l)
	}
	if len(res.Leftover) != 1 || res.Leftover[0].ID != "o1" ||
		res.Leftover[0].Resources.String() != "cpus:2.5;mem:3072;ports:[31000-31004,31006-31010]" {
		t.Fatalf("leftover = %+v", res.Leftover)
	}
}

func TestMatchSeveralTasksShareAnOffer(t *testing.T) {
	offers := []Offer{testOffer("o1", "h1", "cpus:4;mem:4096")}
	var tasks []Task
	for i := range 5 {
		tasks = append(tasks, testTask("t"+strconv.Itoa(i), "app", "cpus:1;mem:512"))
	}
	res := Match(offers, tasks, nil)
	if len(res.Launches) != 4 || len(res.Pending) != 1 {
		t.Fatalf("launches %d, pending %v", len(res.Launches), res.Pending)
	}
	if got := res.Pending[0].String(); got != "cpus: 1" {
		t.Fatalf("pending reason = %q, want %q", got, "cpus: 1")
	}
	if got := res.Leftover[0].Resources.String(); got != "mem:2048" {
		t.Fatalf("leftover = %q", got)
	}
}

func TestMatchStrategies(t *testing.T) {
	offers := []Offer{
		testOffer("big", "h1", "cpus:8;mem:8192"),
		testOffer("tight", "h2", "cpus:1;mem:1024"),
		testOffer("medium", "h3", "cpus:4;mem:4096"),
	}
	task := testTask("t", "app", "cpus:1;mem:512")
	tests := []struct {
		name     string
		strategy Strategy
		want     string
	}{
		{"first fit takes the first offer that fits", FirstFit, "big"},
		{"bin pack takes the offer the task fills most", BinPack, "tight"},
		{"spread takes the offer the task fills least", Spread, "big"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Match(offers, []Task{task}, nil, WithStrategy(tt.strategy), WithLimit(0))
			if got := launchedOn(res)["t"]; got != tt.want {
				t.Fatalf("%v placed the task on %q, want %q", tt.strategy, got, tt.want)
			}
		})
	}
	t.Run("spread moves on to the next offer", func(t *testing.T) {
		even := []Offer{testOffer("a", "h1", "cpus:8"), testOffer("b", "h2", "cpus:8"), testOffer("c", "h3", "cpus:8")}
		var tasks []Task
		for i := range 6 {
			tasks = append(tasks, testTask("t"+strconv.Itoa(i), "app", "cpus:1"))
		}
		res := Match(even, tasks, nil, WithStrategy(Spread))
		count := map[string]int{}
		for _, l := range res.Launches {
			count[l.OfferID]++
		}
		if count["a"] != 2 || count["b"] != 2 || count["c"] != 2 {
			t.Fatalf("spread placed %v, want 2 per offer", count)
		}
	})
	t.Run("bin pack fills one offer before the next", func(t *testing.T) {
		even := []Offer{testOffer("a", "h1", "cpus:4"), testOffer("b", "h2", "cpus:4")}
		var tasks []Task
		for i := range 4 {
			tasks = append(tasks, testTask("t"+strconv.Itoa(i), "app", "cpus:1"))
		}
		res := Match(even, tasks, nil, WithStrategy(BinPack))
		for _, l := range res.Launches {
			if l.OfferID != "a" {
				t.Fatalf("bin pack placed %s on %s, want all on a", l.TaskID, l.OfferID)
			}
		}
	})
}

func TestMatchPendingReasons(t *testing.T) {
	offers := []Offer{
		testOffer("o1", "h1", "cpus:0.5;mem:4096", "rack", "r1"),
		testOffer("o2", "h2", "cpus:4;mem:128", "rack", "r1"),
		testOffer("o3", "h3", "cpus:4;mem:4096", "rack", "r1"),
		testOffer("o4", "h4", "cpus:4;mem:4096", "rack", "r2"),
		testOffer("o5", "h5", "cpus:4;mem:4096"),
	}
	running := []Placement{{TaskID: "old", AppID: "web", Hostname: "h4", Attributes: map[string]string{"rack": "r2"}}}
	tasks := []Task{testTask("t1", "web", "cpus:1;mem:256", "rack:UNIQUE", "rack:LIKE:r[0-9]")}
	res := Match(offers, tasks, running)
	// h3 takes it: o1 lacks cpus, o2 mem, o4's rack is used, o5 lacks rack.
	if got := launchedOn(res)["t1"]; got != "o3" {
		t.Fatalf("t1 on %q, want o3", got)
	}
	tasks = append(tasks, testTask("t2", "web", "cpus:1;mem:256", "rack:UNIQUE", "rack:LIKE:r[0-9]"))
	res = Match(offers, tasks, running)
	if len(res.Pending) != 1 || res.Pending[0].TaskID != "t2" {
		t.Fatalf("pending = %+v, want t2", res.Pending)
	}
	want := []Rejection{{ByConstraint, "rack:UNIQUE", 3}, {ByResource, "cpus", 1}, {ByResource, "mem", 1}}
	if !reflect.DeepEqual(res.Pending[0].Rejections, want) {
		t.Fatalf("rejections = %v, want %v", res.Pending[0].Rejections, want)
	}
	if got := res.Pending[0].String(); got != "rack UNIQUE: 3, cpus: 1, mem: 1" {
		t.Fatalf("String() = %q", got)
	}
}

func TestMatchPendingReasonKinds(t *testing.T) {
	offers := []Offer{
		testOffer("o1", "h1", "cpus:4;mem:1024", "zone", "z1"),          // cpus in no role: role
		testOffer("o2", "h2", "cpus:0.5;mem:1024", "zone", "z1"),        // too few cpus in any role: resource
		testOffer("o3", "h3", "cpus(batch):4;mem:1024", "zone", "z1:a"), // zone LIKE refuses
	}
	task := testTask("t1", "app", "cpus(batch):1;mem:512", "zone:LIKE:z[0-9]")
	res := Match(offers, []Task{task}, nil)
	if len(res.Pending) != 1 {
		t.Fatalf("pending = %+v, want t1", res.Pending)
	}
	want := []Rejection{{ByRole, "cpus(batch)", 1}, {ByConstraint, "zone:LIKE:z[0-9]", 1}, {ByResource, "cpus", 1}}
	slices.SortFunc(want, compareRejections)
	if got := res.Pending[0].Rejections; !reflect.DeepEqual(got, want) {
		t.Fatalf("rejections = %v, want %v", got, want)
	}
	if got, want := res.Pending[0].String(), "cpus: 1, cpus(batch): 1, zone LIKE z[0-9]: 1"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}

}

func TestRejectionString(t *testing.T) {
	for _, tt := range []struct {
		r    Rejection
		want string
	}{
		{Rejection{ByResource, "mem", 12}, "mem: 12"},
		{Rejection{ByRole, "cpus(batch)", 3}, "cpus(batch): 3"},
		{Rejection{ByConstraint, "hostname:UNIQUE", 1}, "hostname UNIQUE: 1"},
		{Rejection{ByConstraint, "zone:LIKE:a:b", 2}, "zone LIKE a:b: 2"},
		{Rejection{ByFilter, "", 4}, "filter: 4"},
		{Rejection{RejectionKind(9), "", 1}, "RejectionKind(9): 1"},
	} {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestMatchIdenticalPendingTasksReportTheSame(t *testing.T) {
	offers := []Offer{testOffer("o1", "h1", "cpus:1"), testOffer("o2", "h2", "cpus:1")}
	var tasks []Task
	for i := range 3 {
		tasks = append(tasks, testTask("t"+strconv.Itoa(i), "app", "cpus:2"))
	}
	res := Match(offers, tasks, nil)
	if len(res.Pending) != 3 {
		t.Fatalf("pending %d, want 3", len(res.Pending))
	}
	for _, p := range res.Pending {
		if p.String() != "cpus: 2" {
			t.Fatalf("%s: %q, want %q", p.TaskID, p, "cpus: 2")
		}
	}
	res.Pending[0].Rejections[0].Offers = 99
	if res.Pending[1].Rejections[0].Offers != 2 {
		t.Fatal("pending tasks share one rejection slice")
	}
}

func TestMatchConstraintsSeeEarlierPlacementsOfTheBatch(t *testing.T) {
	offers := []Offer{testOffer("o1", "h1", "cpus:8"), testOffer("o2", "h2", "cpus:8")}
	var tasks []Task
	for i := range 3 {
		tasks = append(tasks, testTask("t"+strconv.Itoa(i), "app", "cpus:1", "hostname:UNIQUE"))
	}
	tasks = append(tasks, testTask("other", "other-app", "cpus:1", "hostname:UNIQUE"))
	res := Match(offers, tasks, nil)
	if len(res.Launches) != 3 || len(res.Pending) != 1 {
		t.Fatalf("launches %d pending %v", len(res.Launches), res.Pending)
	}
	if got := res.Pending[0].String(); got != "hostname UNIQUE: 2" {
		t.Fatalf("pending = %q, want hostname UNIQUE: 2", got)
	}
	if launchedOn(res)["other"] == "" {
		t.Fatal("another app's UNIQUE was judged against this app's tasks")
	}
}

func TestMatchPriorityFirst(t *testing.T) {
	offers := []Offer{testOffer("o1", "h1", "cpus:1")}
	low := testTask("low", "app", "cpus:1")
	high := testTask("high", "app", "cpus:1")
	high.Priority = 10
	res := Match(offers, []Task{low, high}, nil)
	if launchedOn(res)["high"] != "o1" || len(res.Pending) != 1 || res.Pending[0].TaskID != "low" {
		t.Fatalf("launches %v pending %v: want high placed, low pending", res.Launches, res.Pending)
	}
}

func TestMatchRolesAndRanges(t *testing.T) {
	offers := []Offer{testOffer("o1", "h1", "cpus:1;cpus(batch):2;ports(batch):[31000-31001];ports:[32000-32001]")}
	tasks := []Task{
		testTask("reserved", "app", "cpus(batch):1"),
		testTask("any-role", "app", "cpus:1.5;ports:[31001-31001,32000-32000]"),
		testTask("taken-port", "app", "ports:[31001-31001]"),
	}
	res := Match(offers, tasks, nil, WithStrategy(FirstFit))
	got := map[string]string{}
	for _, l := range res.Launches {
		got[l.TaskID] = l.Resources.String()
	}
	want := map[string]string{
		"reserved": "cpus(batch):1",
		// Unreserved demand uses the reserved role first.
		"any-role": "cpus:0.5;cpus(batch):1;ports:[32000-32000];ports(batch):[31001-31001]",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("launched %v, want %v", got, want)
	}
	if len(res.Pending) != 1 || res.Pending[0].String() != "ports: 1" {
		t.Fatalf("pending %v, want taken-port with ports: 1", res.Pending)
	}
	if left := res.Leftover[0].Resources.String(); left != "cpus:0.5;ports:[32001-32001];ports(batch):[31000-31000]" {
		t.Fatalf("leftover %q", left)
	}
}

func TestMatchInvalidConstraintLeavesTaskPending(t *testing.T) {
	offers := []Offer{testOffer("o1", "h1", "cpus:1"), testOffer("o2", "h2", "cpus:1")}
	task := testTask("t", "app", "cpus:1")
	task.Constraints = []Constraint{{Field: "rack", Op: MaxPer, Value: "lots"}}
	res := Match(offers, []Task{task}, nil)
	want := Rejection{ByConstraint, "rack:MAX_PER:lots (invalid: MAX_PER value must be a positive integer)", 2}
	if len(res.Pending) != 1 || !reflect.DeepEqual(res.Pending[0].Rejections, []Rejection{want}) {
		t.Fatalf("pending = %+v, want every offer refused by %+v", res.Pending, want)
	}
	if got := res.Pending[0].String(); got != "rack MAX_PER lots (invalid: MAX_PER value must be a positive integer): 2" {
		t.Fatalf("String() = %q", got)
	}
}

func TestMatchIsDeterministic(t *testing.T) {
	offers, tasks, running := randomCluster(7, 200, 400)
	first := Match(offers, tasks, running)
	for range 3 {
		// Rebuild the attribute maps so that their iteration order differs.
		o2, t2, r2 := randomCluster(7, 200, 400)
		if again := Match(o2, t2, r2); !reflect.DeepEqual(first, again) {
			t.Fatal("two runs on equal input differ")
		}
	}
	if len(first.Launches) == 0 || len(first.Pending) == 0 {
		t.Fatalf("the cluster should place some tasks and leave some pending: %d launched, %d pending",
			len(first.Launches), len(first.Pending))
	}
}

func TestMatchLimitBoundsTheCandidates(t *testing.T) {
	offers := []Offer{
		testOffer("loose", "h1", "cpus:8"),
		testOffer("looser", "h2", "cpus:16"),
		testOffer("tight", "h3", "cpus:1"),
	}
	task := testTask("t", "app", "cpus:1")
	tests := []struct {
		name  string
		limit int
		want  string
	}{
		{"limit 2 ranks only the first two feasible offers", 2, "loose"},
		{"limit 0 ranks every feasible offer", 0, "tight"},
		{"default limit of 2 for few offers", -1, "loose"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []MatchOption{WithStrategy(BinPack)}
			if tt.limit >= 0 {
				opts = append(opts, WithLimit(tt.limit))
			}
			if got := launchedOn(Match(offers, []Task{task}, nil, opts...))["t"]; got != tt.want {
				t.Fatalf("placed on %q, want %q", got, tt.want)
			}
		})
	}
}
