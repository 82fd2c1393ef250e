package framework

import (
	"fmt"
	"sort"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/offer"
)

// ready reports whether a task counts as healthy capacity: running and,
// if it was launched with health checks, reported healthy by its agent.
func (t *task) ready() bool {
	return t.state == api.TaskRunning && (!t.checked || (t.healthy != nil && *t.healthy))
}

// converge moves an app towards its definition, as Marathon's task
// replacement does, bounded by the upgrade strategy: with n instances, at
// least ⌈n × minimumHealthCapacity⌉ tasks stay ready and at most
// ⌊n × (1 + maximumOverCapacity)⌋ exist at once (pendingCount launches
// within that bound). Tasks of an older version that are not ready go at
// once; ready ones go one by one as long as enough ready tasks remain,
// which is as new ones become ready. Tasks of the current version beyond
// the instance count are killed by the app's killSelection. Tasks on a
// draining agent are moved the same way: they count as old, so that their
// replacements start elsewhere before they go.
func (s *scheduler) converge(st *appState) {
	if st.deleted {
		return
	}
	n := st.app.Instances
	minHealthy, _ := st.app.UpgradeStrategy.bounds(n)
	var old, cur []*task
	for _, t := range s.appTasks(st.app.ID) {
		switch {
		case t.killReason != "":
		case t.version == st.version && !s.draining[t.agentID]:
			cur = append(cur, t)
		default:
			old = append(old, t)
		}
	}
	if extra := len(cur) - n; extra > 0 {
		for _, t := range s.victims(st, cur, extra) {
			s.kill(t, killScale, "scaled down")
		}
		cur = liveOf(cur)
	}
	if len(old) == 0 {
		return
	}
	ready := 0
	for _, t := range append(old, cur...) {
		if t.ready() {
			ready++
		}
	}
	updated := fmt.Sprintf("replaced by version %s", versionString(st.versioned))
	kill := func(t *task) {
		if t.version == st.version {
			s.kill(t, killDrain, fmt.Sprintf("%s: agent %s drains; replaced elsewhere", api.ReasonDrained, t.agentID))
			return
		}
		s.kill(t, killUpdate, updated)
	}
	sort.SliceStable(old, func(i, j int) bool { return !old[i].ready() && old[j].ready() })
	old = s.ordered(st, old)
	for _, t := range old {
		if t.ready() {
			if ready-1 < minHealthy {
				break
			}
			ready--
		}
		kill(t)
	}
	// With no room above the instance count and every ready task needed,
	// nothing could move: make room with one old task, as Marathon does.
	old = liveOf(old)
	if len(old) > 0 && s.pendingCount(st) == 0 && !s.killing(st) && allReady(cur) {
		kill(old[0])
	}
}

func liveOf(ts []*task) []*task {
	var out []*task
	for _, t := range ts {
		if t.killReason == "" {
			out = append(out, t)
		}
	}
	return out
}

func allReady(ts []*task) bool {
	for _, t := range ts {
		if !t.ready() {
			return false
		}
	}
	return true
}

// killing reports whether some task of the app is being killed.
func (s *scheduler) killing(st *appState) bool {
	for _, t := range st.tasks {
		if t.killReason != "" {
			return true
		}
	}
	return false
}

// ordered sorts tasks in the order the app's killSelection kills them,
// keeping tasks that are not ready first: YOUNGEST_FIRST the latest
// launched first, OLDEST_FIRST the earliest.
func (s *scheduler) ordered(st *appState, ts []*task) []*task {
	out := append([]*task(nil), ts...)
	oldest := st.app.KillSelection == OldestFirst
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := out[i].ready(), out[j].ready()
		if ri != rj {
			return !ri
		}
		if oldest {
			return out[i].seq < out[j].seq
		}
		return out[i].seq > out[j].seq
	})
	return out
}

// victims picks k tasks to kill on a scale down: in killSelection order,
// and, when the app spreads its tasks with GROUP_BY (or MAX_PER), from the
// largest group each time, so that the groups stay even.
func (s *scheduler) victims(st *appState, ts []*task, k int) []*task {
	order := s.ordered(st, ts)
	field := ""
	for _, c := range st.app.Constraints {
		if c.Op == offer.GroupBy || c.Op == offer.MaxPer {
			field = c.Field
			break
		}
	}
	if field == "" || k >= len(order) {
		return order[:min(k, len(order))]
	}
	value := func(t *task) string {
		if field == "hostname" {
			return t.hostname
		}
		return t.attrs[field]
	}
	var out []*task
	for range k {
		counts := map[string]int{}
		for _, t := range order {
			counts[value(t)]++
		}
		best := 0
		for i, t := range order {
			if counts[value(t)] > counts[value(order[best])] {
				best = i
			}
		}
		out = append(out, order[best])
		order = append(order[:best:best], order[best+1:]...)
	}
	return out
}

// pendingCount is how many instances of an app may launch now: those of
// the current version still missing, within the upgrade strategy's
// capacity, which counts every task not yet ended.
func (s *scheduler) pendingCount(st *appState) int {
	if st.deleted {
		return 0
	}
	n := st.app.Instances
	_, capacity := st.app.UpgradeStrategy.bounds(n)
	cur := 0
	for _, t := range st.tasks {
		if t.killReason == "" && t.version == st.version && !s.draining[t.agentID] {
			cur++
		}
	}
	return max(0, min(n-cur, capacity-len(st.tasks)))
}
