package framework

import (
	"slices"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// Reconcile brings the scheduler in line with the tasks the master knows,
// as listed when the framework (re)subscribes (app IDs in their wire form,
// see WireAppID): known tasks take the
// master's state, tasks of known apps that the scheduler lost track of (it
// restarted) are adopted, tasks of unknown apps are killed, and tasks the
// master no longer knows are dropped as lost, with no backoff. Adopted
// tasks on agents whose attributes are known (AgentChanged before
// Reconcile) are checked against their constraints like after a change.
func (s *scheduler) Reconcile(tasks []api.TaskStatus) {
	now := s.cfg.Now()
	seen := make(map[string]bool, len(tasks))
	var adopted []string // agents with adopted tasks
	for _, u := range tasks {
		if u.State.Terminal() {
			continue
		}
		seen[u.TaskID] = true
		if t, ok := s.tasks[u.TaskID]; ok {
			t.setState(u.State, now)
			t.healthy = u.Healthy
			continue
		}
		if agentID, ok := s.adopt(u, now); ok && !slices.Contains(adopted, agentID) {
			adopted = append(adopted, agentID)
		}
	}
	// Adopted tasks may run where their constraints no longer hold: the
	// attributes could have changed while nobody watched.
	s.recheck(adopted)
	s.dropUnseen(seen)
}

// adopt takes over a live task the master knows and the scheduler does
// not: into its app, or killed when its app is unknown or deleted. It
// returns the task's agent, and whether the agent's attributes are known so
// that its constraints can be checked.
func (s *scheduler) adopt(u api.TaskStatus, now time.Time) (agentID string, known bool) {
	appID := appIDFromWire(u.AppID)
	st, ok := s.apps[appID]
	ag := s.agents[u.AgentID]
	s.seq++
	t := &task{
		seq: s.seq, id: u.TaskID, appID: appID, agentID: u.AgentID, hostname: ag.hostname, attrs: ag.attrs,
		state: u.State, stagedAt: now, healthy: u.Healthy,
	}
	if u.State == api.TaskRunning {
		t.runningSince = now
	}
	if ok {
		t.version, t.versionAt = st.version, st.versioned
		t.checked = st.app.hasHealthChecks()
	} else {
		st = &appState{app: App{ID: appID}, deleted: true, tasks: make(map[string]*task)}
		s.apps[appID] = st
	}
	s.addTask(st, t)
	if st.deleted {
		s.kill(t, killUnknown, "task of an unknown app")
		return "", false
	}
	_, known = s.agents[t.agentID]
	return t.agentID, known
}

// dropUnseen forgets the tasks the master does not list: those not being
// killed ended as lost (recorded, re-placed, no backoff). Deleted apps
// left without tasks go, and the others are scaled down to their count.
func (s *scheduler) dropUnseen(seen map[string]bool) {
	for _, id := range s.appIDs() {
		st := s.apps[id]
		for _, t := range s.appTasks(id) {
			if !seen[t.id] {
				s.removeTask(st, t)
				s.wantRevive = true
				if t.killReason == "" {
					s.recordEnd(st, t, api.TaskLost, "unknown to the master")
				}
			}
		}
		if st.deleted && len(st.tasks) == 0 {
			delete(s.apps, id)
			continue
		}
		s.converge(st)
	}
	s.progress()
}
