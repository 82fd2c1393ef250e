package framework

import (
	"fmt"
	"maps"
	"sort"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// PutApp creates an app or replaces its definition; a must be normalized
// (DecodeApp or App.Normalize). It reports whether the app is new. When
// only the instance count changes the app scales: extra instances launch,
// surplus tasks (staging first, then the youngest) are killed. Any other
// change is a new version: every task of the old version is killed and
// replaced, and the launch backoff resets.
func (s *scheduler) PutApp(a App) (created bool) {
	now := s.cfg.Now()
	st, ok := s.apps[a.ID]
	if !ok || st.deleted {
		s.version++
		st = &appState{version: s.version, versioned: now, tasks: make(map[string]*task)}
		if ok { // deleted, its tasks still being killed: they stay with the new app
			maps.Copy(st.tasks, s.apps[a.ID].tasks)
		}
		s.apps[a.ID] = st
		created = true
	} else {
		old := st.app
		old.Instances = a.Instances
		if !sameDefinition(old, a) {
			s.version++
			st.version, st.versioned = s.version, now
			st.failures, st.delayUntil = 0, time.Time{}
			for _, t := range s.appTasks(a.ID) {
				s.kill(t, killUpdate, "app definition changed")
			}
		}
	}
	st.app = a
	s.scaleDown(st)
	s.wantRevive = true
	return created
}

// RemoveApp deletes an app and kills its tasks. It returns errNotFound
// for an unknown app.
func (s *scheduler) RemoveApp(id string) error {
	st, ok := s.apps[id]
	if !ok || st.deleted {
		return fmt.Errorf("app %q: %w", id, errNotFound)
	}
	st.deleted = true
	tasks := s.appTasks(id)
	for _, t := range tasks {
		s.kill(t, killDelete, "app deleted")
	}
	if len(tasks) == 0 {
		delete(s.apps, id)
	}
	return nil
}

// scaleDown kills the tasks beyond the app's instance count: those not yet
// running first, then the youngest, as Marathon's YOUNGEST_FIRST.
func (s *scheduler) scaleDown(st *appState) {
	live := s.liveTasks(st.app.ID)
	extra := len(live) - st.app.Instances
	if extra <= 0 {
		return
	}
	sort.Slice(live, func(i, j int) bool {
		ri, rj := live[i].state == api.TaskRunning, live[j].state == api.TaskRunning
		if ri != rj {
			return !ri
		}
		return live[i].seq > live[j].seq
	})
	for _, t := range live[:extra] {
		s.kill(t, killScale, "scaled down")
	}
}

// killOrder asks to kill a task on an agent.
type killOrder struct {
	TaskID, AgentID, AppID string
	Cause                  killCause
	Reason                 string // for people: "constraint rack:IS:r1 no longer holds on agent a2"
}

// killCause is why the scheduler kills a task.
type killCause string

// The causes of kills.
const (
	killScale      killCause = "scale"      // the app has more tasks than instances
	killUpdate     killCause = "update"     // the app's definition changed
	killDelete     killCause = "delete"     // the app was deleted
	killConstraint killCause = "constraint" // a placement constraint no longer holds
	killUnknown    killCause = "unknown"    // the task belongs to no app
)

func (s *scheduler) kill(t *task, cause killCause, reason string) {
	if t.killReason == "" {
		t.killCause, t.killReason = cause, reason
		s.wantRevive = true // its instance is pending again
		if cause == killConstraint || cause == killUpdate {
			st := s.apps[t.appID]
			st.replaces = append(st.replaces, t.id)
		}
	}
	t.killSent = s.cfg.Now()
	s.kills = append(s.kills, killOrder{TaskID: t.id, AgentID: t.agentID, AppID: t.appID, Cause: t.killCause, Reason: t.killReason})
}

// TakeKills returns the kills decided since the last call.
func (s *scheduler) TakeKills() []killOrder {
	k := s.kills
	s.kills = nil
	return k
}
