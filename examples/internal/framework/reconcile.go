package framework

import (
	"slices"

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
			if u.State == api.TaskRunning && t.state != api.TaskRunning {
				t.runningSince = now
			}
			t.state = u.State
			continue
		}
		appID := appIDFromWire(u.AppID)
		st, ok := s.apps[appID]
		ag := s.agents[u.AgentID]
		s.seq++
		t := &task{
			seq: s.seq, id: u.TaskID, appID: appID, agentID: u.AgentID, hostname: ag.hostname, attrs: ag.attrs,
			state: u.State, stagedAt: now,
		}
		if u.State == api.TaskRunning {
			t.runningSince = now
		}
		if ok {
			t.version, t.versionAt = st.version, st.versioned
		} else {
			st = &appState{app: App{ID: appID}, deleted: true, tasks: make(map[string]*task)}
			s.apps[appID] = st
		}
		s.addTask(st, t)
		if st.deleted {
			s.kill(t, killUnknown, "task of an unknown app")
		} else if _, known := s.agents[t.agentID]; known && !slices.Contains(adopted, t.agentID) {
			adopted = append(adopted, t.agentID)
		}
	}
	// Adopted tasks may run where their constraints no longer hold: the
	// attributes could have changed while nobody watched.
	s.recheck(adopted)
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
		s.scaleDown(st)
	}
}
