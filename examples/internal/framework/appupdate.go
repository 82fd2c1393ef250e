package framework

// PutApp creates an app or replaces its definition, as a deployment that
// cancels any other deployment of the app (Deploy with force); a must be
// normalized (DecodeApp or App.Normalize). It reports whether the app is
// new. When only the instance count changes the app scales; any other
// change is a new version, whose tasks replace the old ones by the app's
// upgrade strategy, and the launch backoff resets.
func (s *scheduler) PutApp(a App) (created bool) {
	created = !s.exists(a.ID)
	_, _ = s.Deploy([]Change{{App: &a}}, true) // one normalized app cannot fail
	return created
}

// RemoveApp deletes an app and kills its tasks, as a deployment that
// cancels any other deployment of the app. It returns errNotFound for an
// unknown app.
func (s *scheduler) RemoveApp(id string) error {
	_, err := s.Deploy([]Change{{ID: id}}, true)
	return err
}

// removeApp marks an app deleted and kills its tasks; it is forgotten once
// they have ended.
func (s *scheduler) removeApp(st *appState) {
	st.deleted = true
	tasks := s.appTasks(st.app.ID)
	for _, t := range tasks {
		s.kill(t, killDelete, "app deleted")
	}
	if len(tasks) == 0 {
		delete(s.apps, st.app.ID)
	}
}

// killOrder asks to kill a task on an agent.
type killOrder struct {
	TaskID, AgentID, AppID string
	Cause                  killCause
	Reason                 string // for people: "constraint rack:IS:r1 no longer holds on agent a2"
	// GraceSeconds is the app's taskKillGracePeriodSeconds; 0 leaves it
	// to the agent.
	GraceSeconds float64
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
	killRequest    killCause = "request"    // DELETE /v2/apps/{id}/tasks/{taskId}
	killDrain      killCause = "drain"      // its agent drains; a replacement runs elsewhere
)

func (s *scheduler) kill(t *task, cause killCause, reason string) {
	if t.killReason == "" {
		t.killCause, t.killReason = cause, reason
		s.wantRevive = true // its instance is pending again
		if st := s.apps[t.appID]; st != nil && !st.deleted {
			t.killGrace = st.app.TaskKillGracePeriodSeconds
		}
		if cause == killConstraint || cause == killUpdate || cause == killRequest || cause == killDrain {
			st := s.apps[t.appID]
			st.replaces = append(st.replaces, t.id)
		}
	}
	t.killSent = s.cfg.Now()
	s.kills = append(s.kills, killOrder{TaskID: t.id, AgentID: t.agentID, AppID: t.appID, Cause: t.killCause, Reason: t.killReason, GraceSeconds: t.killGrace})
}

// TakeKills returns the kills decided since the last call.
func (s *scheduler) TakeKills() []killOrder {
	k := s.kills
	s.kills = nil
	return k
}
