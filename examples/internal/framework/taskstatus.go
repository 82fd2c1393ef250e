package framework

import (
	"strings"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// StatusUpdate applies a task status. A task that ends without the
// scheduler having killed it is a failure: the app records it as its last
// task failure and, unless the reason puts the blame elsewhere (agent gone,
// evicted for the business), waits an exponentially growing delay before
// its next launch. Updates for unknown tasks are ignored and reported false, so the
// caller may kill the task.
func (s *scheduler) StatusUpdate(u api.TaskStatus) (known bool) {
	t, ok := s.tasks[u.TaskID]
	if !ok {
		return false
	}
	now := s.cfg.Now()
	st := s.apps[t.appID]
	defer s.progress()
	if !u.State.Terminal() {
		t.setState(u.State, now)
		t.healthy = u.Healthy
		s.converge(st)
		return true
	}
	s.removeTask(st, t)
	if st.deleted {
		if len(st.tasks) == 0 {
			delete(s.apps, t.appID)
		}
		return true
	}
	s.wantRevive = true
	s.converge(st)
	if t.killReason != "" {
		return true
	}
	// An unexpected end: remember it, and back off unless the app is not
	// to blame (its agent went away, or gave way to business load).
	if !notTheAppsFault(u.Reason) {
		s.resetBackoffIfStable(st, now, t)
		st.failures++
		st.lastFailure = now
		st.delayUntil = now.Add(st.delay())
	}
	msg := u.Reason
	if u.Message != "" {
		msg = strings.TrimPrefix(msg+": "+u.Message, ": ")
	}
	s.recordEnd(st, t, u.State, msg)
	return true
}

// notTheAppsFault reports whether a task's end reason says that the task
// did nothing wrong: its agent is gone, or it was evicted for the business.
func notTheAppsFault(reason string) bool {
	for _, r := range []string{api.ReasonAgentGone, api.ReasonEvicted, api.ReasonUnknownToAgent, api.ReasonDrained} {
		if strings.HasPrefix(reason, r) {
			return true
		}
	}
	return false
}

// recordEnd remembers a task's unexpected end as its app's last failure,
// and its instance as one to re-place.
func (s *scheduler) recordEnd(st *appState, t *task, state api.TaskState, msg string) {
	st.failure = &TaskFailure{
		TaskID: t.id, AgentID: t.agentID, Host: t.hostname, State: state,
		Message: msg, Timestamp: s.cfg.Now(), Version: versionString(t.versionAt),
	}
	st.replaces = append(st.replaces, t.id)
}

// LaunchFailed forgets tasks whose launch the master refused (their offer
// was rescinded meanwhile); their instances are pending again, with no
// backoff.
func (s *scheduler) LaunchFailed(taskIDs ...string) {
	for _, id := range taskIDs {
		if t, ok := s.tasks[id]; ok {
			st := s.apps[t.appID]
			s.removeTask(st, t)
			s.wantRevive = true
			if st.deleted && len(st.tasks) == 0 {
				delete(s.apps, t.appID)
			}
		}
	}
	s.progress()
}

// setState takes a live task's state from a status, noting when it began
// to run.
func (t *task) setState(state api.TaskState, now time.Time) {
	if state == api.TaskRunning && t.state != api.TaskRunning {
		t.runningSince = now
	}
	t.state = state
}
