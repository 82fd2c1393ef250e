package offer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// randomCluster builds a reproducible random matching problem: offers with
// attributes (some missing, some scalar), tasks of several apps with random
// constraints, and some running placements.
func randomCluster(seed uint64, nOffers, nTasks int) ([]Offer, []Task, []Placement) {
	rng := rand.New(rand.NewPCG(seed, 1))
	offers := make([]Offer, nOffers)
	for i := range offers {
		attrs := map[string]string{}
		if rng.IntN(10) > 0 {
			attrs["rack"] = fmt.Sprintf("r%d", rng.IntN(8))
		}
		attrs["zone"] = fmt.Sprintf("z%d", rng.IntN(4))
		attrs["gen"] = []string{"1", "2.0", "2", "3.50"}[rng.IntN(4)]
		res := fmt.Sprintf("cpus:%d.%d;mem:%d;ports:[%d-%d]", 1+rng.IntN(8), rng.IntN(10), 512*(1+rng.IntN(8)), 31000, 31000+rng.IntN(20))
		if rng.IntN(3) == 0 {
			res += fmt.Sprintf(";cpus(batch):%d", 1+rng.IntN(3))
		}
		host := fmt.Sprintf("h%03d", i)
		offers[i] = Offer{ID: fmt.Sprintf("o%03d", i), AgentID: "a-" + host, Hostname: host, Attributes: attrs, Resources: MustParseResources(res)}
	}
	menu := []string{"hostname:UNIQUE", "rack:GROUP_BY", "rack:GROUP_BY:3", "zone:LIKE:z[0-2]", "zone:UNLIKE:z3",
		"rack:MAX_PER:2", "gen:IS:2", "rack:CLUSTER", "zone:CLUSTER:z1", "rack:UNIQUE", "@hostname:UNLIKE:h00.*"}
	tasks := make([]Task, nTasks)
	for i := range tasks {
		app := fmt.Sprintf("app%02d", rng.IntN(20))
		res := fmt.Sprintf("cpus:0.%d;mem:%d", 1+rng.IntN(9), 128*(1+rng.IntN(8)))
		if rng.IntN(5) == 0 {
			res += fmt.Sprintf(";ports:[%d-%d]", 31000+rng.IntN(5), 31005)
		}
		if rng.IntN(8) == 0 {
			res += ";cpus(batch):0.5"
		}
		t := Task{ID: fmt.Sprintf("t%04d", i), AppID: app, Resources: MustParseResources(res), Priority: rng.IntN(3)}
		for range rng.IntN(3) {
			t.Constraints = append(t.Constraints, MustParseConstraint(menu[rng.IntN(len(menu))]))
		}
		tasks[i] = t
	}
	var running []Placement
	for range nTasks / 10 {
		o := offers[rng.IntN(nOffers)]
		running = append(running, Placement{AppID: fmt.Sprintf("app%02d", rng.IntN(20)), AgentID: o.AgentID, Hostname: o.Hostname, Attributes: o.Attributes})
	}
	return offers, tasks, running
}

func TestMatchProperties(t *testing.T) {
	for seed := range uint64(6) {
		for _, strategy := range []Strategy{FirstFit, BinPack, Spread} {
			for _, limit := range []int{0, 3} {
				t.Run(fmt.Sprintf("seed %d %v limit %d", seed, strategy, limit), func(t *testing.T) {
					offers, tasks, running := randomCluster(seed, 60, 300)
					res := Match(offers, tasks, running, WithStrategy(strategy), WithLimit(limit))
					checkMatch(t, offers, tasks, running, res)
				})
			}
		}
	}
}

// checkMatch asserts what every Match result must satisfy.
func checkMatch(t *testing.T, offers []Offer, tasks []Task, running []Placement, res Result) {
	t.Helper()
	byTask := map[string]*Task{}
	for i := range tasks {
		byTask[tasks[i].ID] = &tasks[i]
	}
	byOffer := map[string]*Offer{}
	for i := range offers {
		byOffer[offers[i].ID] = &offers[i]
	}
	// Every task is either launched or pending, exactly once.
	seen := map[string]int{}
	for _, l := range res.Launches {
		seen[l.TaskID]++
	}
	for _, p := range res.Pending {
		seen[p.TaskID]++
		total := 0
		for _, r := range p.Rejections {
			total += r.Offers
		}
		if total != len(offers) {
			t.Fatalf("pending %s: rejections add up to %d, want every offer (%d)", p.TaskID, total, len(offers))
		}
	}
	for _, task := range tasks {
		if seen[task.ID] != 1 {
			t.Fatalf("task %s appears %d times in the result", task.ID, seen[task.ID])
		}
	}
	// Accepted + declined = offered, and no offer gives out more than it has.
	accepted := map[string]Resources{}
	for _, l := range res.Launches {
		if !l.Resources.Flatten().Equal(byTask[l.TaskID].Resources.Flatten()) {
			t.Fatalf("launch %s got %v, task asked for %v", l.TaskID, l.Resources, byTask[l.TaskID].Resources)
		}
		accepted[l.OfferID] = accepted[l.OfferID].Add(l.Resources)
	}
	declined := map[string]Resources{}
	for _, o := range res.Leftover {
		declined[o.ID] = o.Resources
	}
	for _, o := range offers {
		if !o.Resources.Contains(accepted[o.ID]) {
			t.Fatalf("offer %s: launched %v exceeds offered %v", o.ID, accepted[o.ID], o.Resources)
		}
		if sum := accepted[o.ID].Add(declined[o.ID]); !sum.Equal(o.Resources) {
			t.Fatalf("offer %s: accepted %v + declined %v = %v, offered %v", o.ID, accepted[o.ID], declined[o.ID], sum, o.Resources)
		}
	}
	// Replaying the launches in order, the reference Constraint.Check agrees
	// with every placement the fast path made.
	placed := slices.Clone(running)
	for _, l := range res.Launches {
		task := byTask[l.TaskID]
		o := byOffer[l.OfferID]
		var mine []Placement
		for _, p := range placed {
			if p.AppID == task.AppID {
				mine = append(mine, p)
			}
		}
		for _, c := range task.Constraints {
			if !c.Check(o.Hostname, o.Attributes, mine) {
				t.Fatalf("task %s on %s breaks %s", task.ID, o.Hostname, c)
			}
		}
		placed = append(placed, Placement{TaskID: task.ID, AppID: task.AppID, AgentID: o.AgentID, Hostname: o.Hostname, Attributes: o.Attributes})
	}
}

// TestAllocatorProperties drives an allocator with random operations and
// checks after each that no offer exceeded what the agent had free, that
// allocated plus offered never exceeds an agent's total unless the total
// shrank under running tasks, and that accepted + declined = offered.
func TestAllocatorProperties(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 2))
			now := time.Unix(1000, 0)
			a := NewAllocator(WithClock(func() time.Time { return now }))
			for i := range 12 {
				res := fmt.Sprintf("cpus:%d;mem:%d;ports:[1-%d]", 2+rng.IntN(6), 1024*(1+rng.IntN(4)), 5+rng.IntN(10))
				if i%3 == 0 {
					res += ";cpus(batch):2"
				}
				r := MustParseResources(res)
				if err := a.AddAgent(Agent{ID: fmt.Sprintf("a%02d", i), Hostname: fmt.Sprintf("h%02d", i), Total: r, Free: r}); err != nil {
					t.Fatal(err)
				}
			}
			roles := []string{"", "batch", "web"}
			for i := range 5 {
				if err := a.AddFramework(Framework{ID: fmt.Sprintf("f%d", i), Role: roles[i%3], Weight: float64(1 + i%2)}); err != nil {
					t.Fatal(err)
				}
			}
			outstanding := map[string]Offer{}
			held := map[[2]string]Resources{} // framework, agent -> held by tasks
			for step := range 400 {
				free := map[string]Resources{}
				for id, s := range a.agents {
					free[id] = s.available
				}
				switch op := rng.IntN(10); {
				case op < 3:
					for _, o := range a.Allocate() {
						if !free[o.AgentID].Contains(o.Resources) {
							t.Fatalf("step %d: offer %s of %v exceeds agent %s's free %v", step, o.ID, o.Resources, o.AgentID, free[o.AgentID])
						}
						free[o.AgentID] = free[o.AgentID].Subtract(o.Resources)
						outstanding[o.ID] = o
					}
				case op < 6 && len(outstanding) > 0:
					o := outstanding[pickKey(rng, outstanding)]
					used := takeSome(rng, o.Resources)
					if err := a.Accept(o.ID, used, WithRefuse(time.Duration(rng.IntN(3))*time.Second)); err != nil {
						t.Fatalf("step %d: accept: %v", step, err)
					}
					delete(outstanding, o.ID)
					k := [2]string{o.FrameworkID, o.AgentID}
					held[k] = held[k].Add(used)
					leftover := o.Resources.Subtract(used)
					if !used.Add(leftover).Equal(o.Resources) {
						t.Fatalf("step %d: accepted %v + declined %v != offered %v", step, used, leftover, o.Resources)
					}
				case op < 7 && len(held) > 0:
					keys := make([][2]string, 0, len(held))
					for k := range held {
						keys = append(keys, k)
					}
					slices.SortFunc(keys, func(x, y [2]string) int { return cmpPair(x, y) })
					k := keys[rng.IntN(len(keys))]
					if err := a.Recover(k[0], k[1], held[k]); err != nil {
						t.Fatalf("step %d: recover: %v", step, err)
					}
					delete(held, k)
				case op < 8:
					id := fmt.Sprintf("a%02d", rng.IntN(12))
					total := MustParseResources(fmt.Sprintf("cpus:%d;mem:%d;ports:[1-%d]", 1+rng.IntN(7), 1024*(1+rng.IntN(4)), 5+rng.IntN(10)))
					rescinded, err := a.UpdateAgent(id, total)
					if err != nil {
						t.Fatal(err)
					}
					for _, o := range rescinded {
						if _, ok := outstanding[o.ID]; !ok {
							t.Fatalf("step %d: rescinded unknown offer %s", step, o.ID)
						}
						delete(outstanding, o.ID)
					}
				case op < 9:
					f := fmt.Sprintf("f%d", rng.IntN(5))
					if rng.IntN(2) == 0 {
						_ = a.Suppress(f)
					} else {
						_ = a.Revive(f)
					}
				default:
					now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
				}
				checkAllocatorInvariants(t, a, step)
			}
		})
	}
}

func cmpPair(x, y [2]string) int {
	if x[0] != y[0] {
		if x[0] < y[0] {
			return -1
		}
		return 1
	}
	if x[1] < y[1] {
		return -1
	}
	if x[1] > y[1] {
		return 1
	}
	return 0
}

func pickKey(rng *rand.Rand, m map[string]Offer) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys[rng.IntN(len(keys))]
}

// takeSome returns a random part of r: each scalar halved or kept whole or
// dropped, ranges and sets kept or dropped.
func takeSome(rng *rand.Rand, r Resources) Resources {
	var parts []Resource
	for _, e := range r.All() {
		switch rng.IntN(3) {
		case 0:
			continue
		case 1:
			if e.Type == Scalar {
				e.Scalar /= 2
			}
		}
		parts = append(parts, e)
	}
	out, err := NewResources(parts...)
	if err != nil {
		panic(err)
	}
	return out
}

func checkAllocatorInvariants(t *testing.T, a *Allocator, step int) {
	t.Helper()
	for id, s := range a.agents {
		offered := s.offered()
		if !s.Total.Contains(s.available.Add(offered)) {
			t.Fatalf("step %d: agent %s: available %v + offered %v exceed total %v", step, id, s.available, offered, s.Total)
		}
		if s.Total.Contains(s.allocated) && !s.Total.Contains(s.allocated.Add(offered)) {
			t.Fatalf("step %d: agent %s: allocated %v + offered %v exceed total %v", step, id, s.allocated, offered, s.Total)
		}
		// Never offered twice: outstanding offers on one agent are disjoint.
		var sum Resources
		for _, o := range s.offers {
			if !s.Total.Subtract(sum).Contains(o.Resources) && s.Total.Contains(s.allocated.Add(offered)) {
				t.Fatalf("step %d: agent %s: offer %s overlaps another", step, id, o.ID)
			}
			sum = sum.Add(o.Resources)
		}
	}
}
