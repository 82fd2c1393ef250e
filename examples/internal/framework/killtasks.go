package framework

import (
	"fmt"
	"time"
)

// KillTasks kills tasks of an app, as DELETE /v2/apps/{id}/tasks does.
// With scale the app's instance count shrinks by as many, in a deployment
// it returns (ErrLocked while another changes the app); otherwise the
// tasks are replaced. Unknown tasks are errNotFound.
func (s *scheduler) KillTasks(appID string, taskIDs []string, scale bool) ([]TaskView, *DeploymentView, error) {
	st, ok := s.apps[appID]
	if !ok || st.deleted {
		return nil, nil, fmt.Errorf("app %q: %w", appID, errNotFound)
	}
	var ts []*task
	for _, id := range taskIDs {
		t, ok := st.tasks[id]
		if !ok {
			return nil, nil, fmt.Errorf("task %q of app %q: %w", id, appID, errNotFound)
		}
		ts = append(ts, t)
	}
	a := st.app
	if scale {
		a.Instances = max(0, a.Instances-len(ts))
		if _, err := s.CheckDeploy([]Change{{App: &a}}, false); err != nil {
			return nil, nil, err
		}
	}
	views := []TaskView{}
	for _, t := range ts {
		if scale {
			s.kill(t, killScale, "killed and scaled down by request")
		} else {
			s.kill(t, killRequest, "killed by request")
		}
		views = append(views, t.view(s.masterURL))
	}
	if !scale {
		return views, nil, nil
	}
	d, err := s.Deploy([]Change{{App: &a}}, false)
	return views, &d, err
}

// ResetDelay ends an app's launch backoff, as DELETE
// /v2/queue/{id}/delay does.
func (s *scheduler) ResetDelay(appID string) error {
	st, ok := s.apps[appID]
	if !ok || st.deleted {
		return fmt.Errorf("app %q: %w", appID, errNotFound)
	}
	st.failures, st.delayUntil = 0, time.Time{}
	s.wantRevive = true
	return nil
}
