package framework

import (
	"fmt"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// AppStatus is an app with its current state, as GET /v2/apps/{id} shows
// it: Marathon's app fields plus task counts, why instances are pending,
// the launch backoff and the last task failure.
type AppStatus struct {
	App
	Version      string          `json:"version"`
	VersionInfo  VersionInfo     `json:"versionInfo"`
	Deployments  []DeploymentRef `json:"deployments"`
	TasksStaged  int             `json:"tasksStaged"`
	TasksRunning int             `json:"tasksRunning"`
	// TasksHealthy and TasksUnhealthy count the tasks whose latest health
	// check passed or failed; both are 0 for an app without checks.
	TasksHealthy    int            `json:"tasksHealthy"`
	TasksUnhealthy  int            `json:"tasksUnhealthy"`
	TasksKilling    int            `json:"tasksKilling"`
	Pending         *PendingStatus `json:"pending,omitempty"`
	Backoff         *BackoffStatus `json:"backoff,omitempty"`
	LastTaskFailure *TaskFailure   `json:"lastTaskFailure,omitempty"`
	Tasks           []TaskView     `json:"tasks"`
}

// VersionInfo says when an app last changed, as Marathon's: its
// definition, and its instance count.
type VersionInfo struct {
	LastScalingAt      string `json:"lastScalingAt"`
	LastConfigChangeAt string `json:"lastConfigChangeAt"`
}

// PendingStatus says how many instances of an app wait for a launch and
// why: offer's rejection counts over the latest offers ("cpus: 3, rack
// GROUP_BY: 1"), the backoff, or that no offers came. Rejections holds the
// same counts by kind and name when Reason comes from the offers.
type PendingStatus struct {
	Instances  int             `json:"instances"`
	Reason     string          `json:"reason"`
	Rejections []api.Rejection `json:"rejections,omitempty"`
	Since      time.Time       `json:"since,omitzero"`
}

// BackoffStatus is an app's launch delay after consecutive failures.
type BackoffStatus struct {
	Failures int       `json:"failures"`
	Until    time.Time `json:"until"`
}

// TaskView is one task as the HTTP API shows it.
type TaskView struct {
	ID         string        `json:"id"`
	AppID      string        `json:"appId"`
	AgentID    string        `json:"agentId"`
	Host       string        `json:"host"`
	State      api.TaskState `json:"state"`
	StagedAt   time.Time     `json:"stagedAt"`
	StartedAt  time.Time     `json:"startedAt,omitzero"`
	Version    string        `json:"version"`
	KillReason string        `json:"killReason,omitempty"`
	Ports      []uint64      `json:"ports"`
	// HealthCheckResults has one entry once the agent judged the task's
	// health, as Marathon's (alive is the latest verdict).
	HealthCheckResults []HealthResult `json:"healthCheckResults,omitempty"`
	// Logs link to the task's stdout and stderr through the master
	// (Gleaner's field), once the framework has subscribed.
	Logs *LogLinks `json:"logs,omitempty"`
}

// LogLinks are the URLs of a task's logs on the master (api.PathTaskLogs);
// add follow=true to follow them, offset=-N for the last N bytes.
type LogLinks struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
}

// logLinks returns the links to a task's logs on the master at base.
func logLinks(base, taskID string) *LogLinks {
	if base == "" {
		return nil
	}
	return &LogLinks{Stdout: base + api.TaskLogsURL(taskID, api.LogQuery{Stream: api.StreamStdout}),
		Stderr: base + api.TaskLogsURL(taskID, api.LogQuery{Stream: api.StreamStderr})}
}

// HealthResult is a task's health, as Marathon shows it.
type HealthResult struct {
	TaskID string `json:"taskId"`
	Alive  bool   `json:"alive"`
}

// TaskFailure describes an app's latest unexpected task end, like
// Marathon's lastTaskFailure.
type TaskFailure struct {
	TaskID    string        `json:"taskId"`
	AgentID   string        `json:"agentId"`
	Host      string        `json:"host"`
	State     api.TaskState `json:"state"`
	Message   string        `json:"message"`
	Timestamp time.Time     `json:"timestamp"`
	Version   string        `json:"version"`
}

// Apps returns the status of every app, sorted by ID. Deleted apps whose
// tasks are still being killed are left out.
func (s *scheduler) Apps() []AppStatus {
	var out []AppStatus
	for _, id := range s.appIDs() {
		if st := s.apps[id]; !st.deleted {
			out = append(out, s.status(st))
		}
	}
	return out
}

// App returns one app's status, or errNotFound.
func (s *scheduler) App(id string) (AppStatus, error) {
	st, ok := s.apps[id]
	if !ok || st.deleted {
		return AppStatus{}, fmt.Errorf("app %q: %w", id, errNotFound)
	}
	return s.status(st), nil
}

func (s *scheduler) status(st *appState) AppStatus {
	now := s.cfg.Now()
	latest := st.versioned
	if st.scaledAt.After(latest) {
		latest = st.scaledAt
	}
	as := AppStatus{App: st.app, Version: versionString(latest), Tasks: []TaskView{},
		VersionInfo: VersionInfo{LastScalingAt: versionString(latest), LastConfigChangeAt: versionString(st.versioned)},
		Deployments: s.appDeployments(st.app.ID)}
	for _, t := range s.appTasks(st.app.ID) {
		if t.healthy != nil && t.killReason == "" {
			if *t.healthy {
				as.TasksHealthy++
			} else {
				as.TasksUnhealthy++
			}
		}
		switch {
		case t.killReason != "":
			as.TasksKilling++
		case t.state == api.TaskRunning:
			as.TasksRunning++
		default:
			as.TasksStaged++
		}
		as.Tasks = append(as.Tasks, t.view(s.masterURL))
	}
	if n := s.pendingCount(st); n > 0 {
		p := &PendingStatus{Instances: n, Reason: st.pendingReason, Rejections: api.Rejections(st.pendingRejections), Since: st.pendingSince}
		switch {
		case !st.launchable(now):
			p.Rejections = nil
			p.Reason = fmt.Sprintf("backoff: %d consecutive failures, next launch at %s", st.failures, st.delayUntil.UTC().Format("15:04:05.000"))
		case p.Reason == "":
			p.Reason = "waiting for offers"
		}
		as.Pending = p
	}
	if st.failures > 0 {
		as.Backoff = &BackoffStatus{Failures: st.failures, Until: st.delayUntil}
	}
	if st.failure != nil {
		f := *st.failure
		as.LastTaskFailure = &f
	}
	return as
}

func (t *task) view(masterURL string) TaskView {
	v := TaskView{
		ID: t.id, AppID: t.appID, AgentID: t.agentID, Host: t.hostname, State: t.state,
		StagedAt: t.stagedAt, StartedAt: t.runningSince, Version: versionString(t.versionAt),
		KillReason: t.killReason, Ports: t.ports, Logs: logLinks(masterURL, t.id),
	}
	if v.Ports == nil {
		v.Ports = []uint64{}
	}
	if t.healthy != nil {
		v.HealthCheckResults = []HealthResult{{TaskID: t.id, Alive: *t.healthy}}
	}
	return v
}

// stateCounts is a summary of the scheduler's state, for metrics.
type stateCounts struct {
	Apps      int
	Instances int // wanted, over all apps
	Staged    int
	Running   int
	Killing   int
	Pending   int // instances waiting for a launch
	BackedOff int // apps in their launch backoff
}

// Counts summarizes the scheduler's state.
func (s *scheduler) Counts() stateCounts {
	now := s.cfg.Now()
	var c stateCounts
	for _, st := range s.apps {
		if st.deleted {
			continue
		}
		c.Apps++
		c.Instances += st.app.Instances
		c.Pending += s.pendingCount(st)
		if !st.launchable(now) {
			c.BackedOff++
		}
	}
	for _, t := range s.tasks {
		switch {
		case t.killReason != "":
			c.Killing++
		case t.state == api.TaskRunning:
			c.Running++
		default:
			c.Staged++
		}
	}
	return c
}
