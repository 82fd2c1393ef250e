package api

import "time"

// TaskState is a task's state, named as in Mesos.
type TaskState string

// Task states. STAGING is set by the master when it sends the launch to the
// agent; the agent reports the others. FINISHED, FAILED, KILLED and LOST are
// terminal.
const (
	TaskStaging  TaskState = "TASK_STAGING"
	TaskStarting TaskState = "TASK_STARTING"
	TaskRunning  TaskState = "TASK_RUNNING"
	TaskFinished TaskState = "TASK_FINISHED"
	TaskFailed   TaskState = "TASK_FAILED"
	TaskKilled   TaskState = "TASK_KILLED"
	TaskLost     TaskState = "TASK_LOST"
)

// Terminal reports whether a task in state s has ended.
func (s TaskState) Terminal() bool {
	switch s {
	case TaskFinished, TaskFailed, TaskKilled, TaskLost:
		return true
	}
	return false
}

// Valid reports whether s is one of the states above.
func (s TaskState) Valid() bool {
	switch s {
	case TaskStaging, TaskStarting, TaskRunning, TaskFinished, TaskFailed, TaskKilled, TaskLost:
		return true
	}
	return false
}

// Reason prefixes that the master and the dashboard recognise in
// TaskStatus.Reason. The rest of the reason is free text for people.
const (
	// ReasonEvicted starts the reason of a task the agent's QoS killed
	// because business load returned: "evicted: business memory rose ...".
	ReasonEvicted = "evicted"
	// ReasonAgentGone is the reason of tasks the master marks LOST when
	// their agent's liveness lease expired.
	ReasonAgentGone = "agent gone"
	// ReasonConstraint starts the reason a framework gives when it kills a
	// task whose placement constraints no longer hold.
	ReasonConstraint = "constraint"
	// ReasonUnknownToAgent is the reason of tasks the master marks LOST
	// because the agent's full task list no longer holds them.
	ReasonUnknownToAgent = "agent does not know the task"
	// ReasonUnhealthy starts the reason of a task the agent killed because
	// it failed its health check MaxConsecutiveFailures times in a row.
	ReasonUnhealthy = "unhealthy"
	// ReasonDrained starts the reason of a task the master killed because
	// its agent was drained and the drain's deadline (or a maintenance
	// window's start) came while it still ran. Like an eviction, it is not
	// the task's fault: frameworks place it again without backoff.
	ReasonDrained = "drained"
)

// Health check protocols.
const (
	CheckHTTP    = "HTTP"
	CheckHTTPS   = "HTTPS"
	CheckTCP     = "TCP"
	CheckCommand = "COMMAND"
)

// HealthCheck is a check the agent runs against a task, as Mesos's
// HealthCheck in a TaskInfo: HTTP(S) GET of Path or a TCP connect to Port
// on the agent's loopback, or Command run with /bin/sh -c in the task's
// sandbox (its root, cgroup, user and limits). Failures within GraceSeconds
// of the start count only after a first success; after
// MaxConsecutiveFailures failures in a row (0: never) the agent kills the
// task, which ends TASK_FAILED with a reason starting ReasonUnhealthy.
type HealthCheck struct {
	Protocol               string  `json:"protocol"`
	Port                   int     `json:"port,omitempty"`
	Path                   string  `json:"path,omitempty"`
	Command                string  `json:"command,omitempty"`
	GraceSeconds           float64 `json:"grace_seconds,omitempty"`
	DelaySeconds           float64 `json:"delay_seconds,omitempty"`
	IntervalSeconds        float64 `json:"interval_seconds"`
	TimeoutSeconds         float64 `json:"timeout_seconds"`
	MaxConsecutiveFailures int     `json:"max_consecutive_failures,omitempty"`
	IgnoreHTTP1xx          bool    `json:"ignore_http_1xx,omitempty"`
}

// Image names the root filesystem a task runs in. A zero Image means the
// agent's own base (a busybox root the agent has).
type Image struct {
	URI     string `json:"uri,omitempty"`     // file://, http(s)://, s3://
	SHA256  string `json:"sha256,omitempty"`  // hex digest of the artifact at URI
	Base    string `json:"base,omitempty"`    // base rootfs name, e.g. "busybox"
	Version string `json:"version,omitempty"` // base rootfs version
}

// FetchURI is an artifact fetched into the task's sandbox before it starts,
// as in Marathon's "fetch".
type FetchURI struct {
	URI        string `json:"uri"`
	Executable bool   `json:"executable,omitempty"`
	Extract    bool   `json:"extract,omitempty"`
	Cache      bool   `json:"cache,omitempty"`
	DestPath   string `json:"dest_path,omitempty"`
}

// TaskInfo is what a framework asks to launch and what the agent receives.
type TaskInfo struct {
	TaskID      string            `json:"task_id"`
	AppID       string            `json:"app_id"`
	FrameworkID string            `json:"framework_id,omitempty"` // set by the master
	AgentID     string            `json:"agent_id,omitempty"`     // set by the master from the offer
	OfferID     string            `json:"offer_id,omitempty"`     // in Accept: the offer the task uses
	Cmd         string            `json:"cmd,omitempty"`          // run with /bin/sh -c
	Args        []string          `json:"args,omitempty"`         // or run directly (exactly one of Cmd, Args)
	Env         map[string]string `json:"env,omitempty"`
	Resources   string            `json:"resources"` // Mesos text, e.g. "cpus:0.5;mem:128;disk:64"
	Image       *Image            `json:"image,omitempty"`
	Fetch       []FetchURI        `json:"fetch,omitempty"` // fetched into the sandbox before start
	Labels      map[string]string `json:"labels,omitempty"`
	// Priority orders QoS evictions on the agent: lower goes first. It is
	// at least 0 and at most what the framework's role may use
	// (Subscribed.MaxPriority).
	Priority int `json:"priority,omitempty"`
	// Revocable is set by the master when the offer the task used was
	// revocable (Offer.Revocable): every revocable task on an agent is
	// evicted before any task that is not.
	Revocable bool   `json:"revocable,omitempty"`
	Replaces  string `json:"replaces,omitempty"` // task ID this one re-places (shown as rescheduling)
	// User is the user the task runs as (the app's "user"): a name or
	// "uid[:gid]"; empty means the agent's default unprivileged user. The
	// agent enforces its own policy on it (root only for allowed roles).
	User string `json:"user,omitempty"`
	// Role is the launching framework's role, set by the master; the agent
	// decides by it whether User may be root.
	Role string `json:"role,omitempty"`
	// Network is "host" (or empty: the host's network) or "none" (a
	// network namespace with loopback only).
	Network string `json:"network,omitempty"`
	// HealthChecks are run by the agent; the results come back in
	// TaskStatus.Healthy.
	HealthChecks []HealthCheck `json:"health_checks,omitempty"`
	// KillGraceSeconds is how long a kill waits between SIGTERM and
	// SIGKILL; 0 means the agent's default.
	KillGraceSeconds float64 `json:"kill_grace_seconds,omitempty"`
}

// TaskStatus is one task's state, as an agent reports it and as frameworks
// receive it in UPDATE events.
type TaskStatus struct {
	TaskID      string    `json:"task_id"`
	FrameworkID string    `json:"framework_id,omitempty"`
	AgentID     string    `json:"agent_id,omitempty"`
	AppID       string    `json:"app_id,omitempty"`
	State       TaskState `json:"state"`
	Reason      string    `json:"reason,omitempty"`
	Message     string    `json:"message,omitempty"`
	Time        time.Time `json:"time,omitzero"`
	// Healthy is the latest verdict of the task's health checks; nil
	// without checks or before the first verdict.
	Healthy *bool `json:"healthy,omitempty"`
	// Revocable repeats TaskInfo.Revocable: the task runs on resources
	// the business may take back.
	Revocable bool `json:"revocable,omitempty"`
	// Eviction is set when the agent's QoS evicted the task (Reason then
	// starts with ReasonEvicted).
	Eviction *Eviction `json:"eviction,omitempty"`
}

// Eviction says why the agent's QoS evicted a task and who got what it
// freed.
type Eviction struct {
	// Resource is the resource whose shortage caused it: "memory" or "CPU".
	Resource string `json:"resource"`
	// Priority is the evicted task's.
	Priority int `json:"priority"`
	// Winner is who gets what the eviction frees: the business, whose
	// usage rose, and the tasks kept over the victim, most important first
	// ("business (memory 3.1 GiB); kept: web.1 (priority 10)").
	Winner string `json:"winner"`
}

// ---- Agent API ----

// RegisterAgent is the body of PathAgentRegister. Registering again with the
// same ID (after an agent or master restart) is allowed and keeps the
// agent's tasks.
type RegisterAgent struct {
	AgentID     string            `json:"agent_id"`
	Hostname    string            `json:"hostname"`
	Endpoint    string            `json:"endpoint,omitempty"` // the agent's own HTTPS URL (/tasks, /metrics)
	Capacity    string            `json:"capacity,omitempty"` // Mesos text: the machine's total
	Reservation string            `json:"reservation"`        // Mesos text: what the agent lends now
	Attributes  map[string]string `json:"attributes,omitempty"`
}

// RegisterAgentResponse answers RegisterAgent.
type RegisterAgentResponse struct {
	AgentID string `json:"agent_id"`
	// ReportIntervalSeconds is how often the master expects a report.
	ReportIntervalSeconds float64 `json:"report_interval_seconds"`
}

// AgentReport is the body of PathAgentReport, sent every report interval.
// Tasks is the FULL list of tasks the agent holds (running or ended since
// the last report): a task the master sent that is missing from it for
// longer than a grace period is marked LOST. A report from an agent the
// master does not know is answered with 404; the agent then registers again.
type AgentReport struct {
	AgentID     string            `json:"agent_id"`
	Reservation string            `json:"reservation"`          // Mesos text; a shrink rescinds offers
	Capacity    string            `json:"capacity,omitempty"`   // Mesos text
	Business    string            `json:"business,omitempty"`   // Mesos text: what the business uses
	Harvested   string            `json:"harvested,omitempty"`  // Mesos text: what Gleaner's tasks use
	Attributes  map[string]string `json:"attributes,omitempty"` // informational; etcd is authoritative
	Isolation   string            `json:"isolation,omitempty"`  // e.g. "cgroup v1" or "unavailable: not root"
	// Guaranteed is the part of Reservation the agent lends whatever the
	// business does (Mesos text): the operator's floor. Offers within it
	// are not revocable.
	Guaranteed string       `json:"guaranteed,omitempty"`
	Tasks      []TaskStatus `json:"tasks"`
	// Drained says the agent was told it is draining (ReportResponse)
	// and holds no task that has not ended.
	Drained bool `json:"drained,omitempty"`
}

// CommandType says what an AgentCommand asks.
type CommandType string

// Command types.
const (
	CommandLaunch CommandType = "LAUNCH"
	CommandKill   CommandType = "KILL"
)

// AgentCommand is an order for an agent: launch Task, or kill TaskID.
type AgentCommand struct {
	Type   CommandType `json:"type"`
	Task   *TaskInfo   `json:"task,omitempty"`    // LAUNCH
	TaskID string      `json:"task_id,omitempty"` // KILL
	Reason string      `json:"reason,omitempty"`  // KILL: why, to be put in the KILLED status
	// GraceSeconds (KILL) overrides the task's KillGraceSeconds when set.
	GraceSeconds float64 `json:"grace_seconds,omitempty"`
}

// ReportResponse answers AgentReport with the commands queued for the agent.
type ReportResponse struct {
	Commands []AgentCommand `json:"commands"`
	// Draining tells the agent it is being drained: it gets no new tasks,
	// and reports Drained once it holds none.
	Draining bool `json:"draining,omitempty"`
}

// PollCommands is the body of PathAgentCommands: wait up to WaitSeconds
// (at most 30) for commands. Each command is delivered once, either here
// or in a ReportResponse.
type PollCommands struct {
	AgentID     string  `json:"agent_id"`
	WaitSeconds float64 `json:"wait_seconds,omitempty"`
}

// CommandsResponse answers PollCommands; Commands is empty after a timeout.
type CommandsResponse struct {
	Commands []AgentCommand `json:"commands"`
}

// ---- Scheduler API ----

// Subscribe is the body of PathSubscribe. An empty FrameworkID asks the
// master for a new one; a known one resumes that framework (after a
// disconnect or master failover) with its tasks.
type Subscribe struct {
	FrameworkID string  `json:"framework_id,omitempty"`
	Name        string  `json:"name"`
	Role        string  `json:"role,omitempty"`   // "" means "*"
	Weight      float64 `json:"weight,omitempty"` // 0 means 1
}

// EventType names the kind of an Event.
type EventType string

// Event types, as in Mesos's scheduler API where one exists.
const (
	EventSubscribed   EventType = "SUBSCRIBED"
	EventOffers       EventType = "OFFERS"
	EventRescind      EventType = "RESCIND"
	EventUpdate       EventType = "UPDATE"
	EventAgentChanged EventType = "AGENT_CHANGED" // attributes changed or agent gone
	EventMaintenance  EventType = "MAINTENANCE"   // an agent's drain or maintenance windows changed
	EventHeartbeat    EventType = "HEARTBEAT"
	EventError        EventType = "ERROR"
)

// Event is one line of the subscribe stream. Exactly the field that belongs
// to Type is set.
type Event struct {
	Type       EventType    `json:"type"`
	Subscribed *Subscribed  `json:"subscribed,omitempty"`
	Offers     []Offer      `json:"offers,omitempty"`
	OfferID    string       `json:"offer_id,omitempty"` // RESCIND
	Status     *TaskStatus  `json:"status,omitempty"`   // UPDATE
	Agent      *AgentChange `json:"agent,omitempty"`    // AGENT_CHANGED
	// Maintenance is the agent's whole maintenance after the change
	// (MAINTENANCE).
	Maintenance *AgentMaintenance `json:"maintenance,omitempty"`
	Message     string            `json:"message,omitempty"` // ERROR
}

// Subscribed is the first event of a stream.
type Subscribed struct {
	FrameworkID              string  `json:"framework_id"`
	HeartbeatIntervalSeconds float64 `json:"heartbeat_interval_seconds"`
	// MaxPriority is the highest TaskInfo.Priority the framework's role
	// may give its tasks.
	MaxPriority int `json:"max_priority"`
	// Tasks are the framework's non-terminal tasks the master knows, so that
	// a framework that resumes after a disconnect or failover can reconcile:
	// updates are not queued for a disconnected framework, so a task it
	// knows that is missing here ended meanwhile and should be replaced.
	Tasks []TaskStatus `json:"tasks"`
}

// Offer is resources of one agent offered to one framework.
type Offer struct {
	ID          string            `json:"id"`
	FrameworkID string            `json:"framework_id"`
	AgentID     string            `json:"agent_id"`
	Hostname    string            `json:"hostname"`
	Attributes  map[string]string `json:"attributes"`
	Resources   string            `json:"resources"` // Mesos text
	// Revocable says the business may take the resources back: they lie
	// above what the agent guarantees (AgentReport.Guaranteed). Tasks
	// launched on a revocable offer are revocable.
	Revocable bool `json:"revocable,omitempty"`
	// Unavailability is the agent's next maintenance window, as Mesos
	// puts it in offers: work that would not finish before its start
	// should go elsewhere.
	Unavailability *MaintenanceWindow `json:"unavailability,omitempty"`
}

// ---- Maintenance ----

// AgentMaintenance is an agent's maintenance, as Mesos's maintenance
// primitives and Nomad's node drain: while Draining the agent gets no new
// tasks, frameworks move its tasks elsewhere (apps are re-placed first,
// then killed; jobs may finish), and at Deadline the master kills what
// is left (ReasonDrained). A maintenance window drains the agent from its
// start to its end, with the start as the deadline.
type AgentMaintenance struct {
	AgentID  string `json:"agent_id"`
	Draining bool   `json:"draining"`
	// DrainSince is when the drain began.
	DrainSince time.Time `json:"drain_since,omitzero"`
	// Deadline is when the master kills the tasks still on the draining
	// agent; zero means never (frameworks move them in their own time).
	Deadline time.Time `json:"deadline,omitzero"`
	// Drained is true once the draining agent reported it holds no task.
	Drained bool `json:"drained"`
	// Windows are the agent's planned windows of unavailability that have
	// not ended, earliest first.
	Windows []MaintenanceWindow `json:"windows,omitempty"`
}

// MaintenanceWindow is a planned unavailability: from Start for
// DurationSeconds.
type MaintenanceWindow struct {
	Start           time.Time `json:"start"`
	DurationSeconds float64   `json:"duration_seconds"`
}

// End is when the window ends.
func (w MaintenanceWindow) End() time.Time {
	return w.Start.Add(time.Duration(w.DurationSeconds * float64(time.Second)))
}

// DrainAgent is the body of PathDrain.
type DrainAgent struct {
	AgentID string `json:"agent_id"`
	// DeadlineSeconds is how long the agent's tasks may still run (jobs
	// finish) before the master kills them; nil means none.
	DeadlineSeconds *float64 `json:"deadline_seconds,omitempty"`
}

// UpAgent is the body of PathUp: the drain ends and the agent is offered
// again.
type UpAgent struct {
	AgentID string `json:"agent_id"`
}

// MaintenanceSchedule is the body of PathSchedule, as Mesos's
// /maintenance/schedule: every window planned, replacing the schedule
// before.
type MaintenanceSchedule struct {
	Windows []ScheduledWindow `json:"windows"`
}

// ScheduledWindow is one window of a MaintenanceSchedule, for the agents it
// names.
type ScheduledWindow struct {
	AgentIDs []string `json:"agent_ids"`
	MaintenanceWindow
}

// AgentChange tells frameworks that an agent's attributes changed (Attributes
// holds all of them after the change) or that the agent is gone, so that they
// can check the constraints of their tasks there.
type AgentChange struct {
	AgentID    string            `json:"agent_id"`
	Hostname   string            `json:"hostname,omitempty"`
	Attributes map[string]string `json:"attributes"`
	Gone       bool              `json:"gone,omitempty"`
}

// Accept is the body of PathAccept. Every offer in OfferIDs is consumed: the
// resources of the Tasks placed on it (TaskInfo.OfferID) are taken, the rest
// is filtered from the framework for RefuseSeconds (nil: the master's
// default, 5 s). An unknown or rescinded offer fails the whole call with 404
// and nothing is launched.
type Accept struct {
	FrameworkID   string     `json:"framework_id"`
	OfferIDs      []string   `json:"offer_ids"`
	Tasks         []TaskInfo `json:"tasks"`
	RefuseSeconds *float64   `json:"refuse_seconds,omitempty"`
}

// Decline is the body of PathDecline: the offers go back, filtered from the
// framework for RefuseSeconds (nil: the master's default, 5 s).
type Decline struct {
	FrameworkID   string   `json:"framework_id"`
	OfferIDs      []string `json:"offer_ids"`
	RefuseSeconds *float64 `json:"refuse_seconds,omitempty"`
}

// Revive is the body of PathRevive: resume offers and clear filters.
type Revive struct {
	FrameworkID string `json:"framework_id"`
}

// Suppress is the body of PathSuppress: stop offers until Revive.
type Suppress struct {
	FrameworkID string `json:"framework_id"`
}

// Kill is the body of PathKill.
type Kill struct {
	FrameworkID string `json:"framework_id"`
	TaskID      string `json:"task_id"`
	Reason      string `json:"reason,omitempty"`
	// GraceSeconds, when set, is the time between SIGTERM and SIGKILL.
	GraceSeconds float64 `json:"grace_seconds,omitempty"`
}

// Teardown is the body of PathTeardown: kill every task of the framework and
// forget it.
type Teardown struct {
	FrameworkID string `json:"framework_id"`
}

// PendingApp says why some instances of an app are not running.
type PendingApp struct {
	FrameworkID string `json:"framework_id,omitempty"` // set by the master in State
	AppID       string `json:"app_id"`
	Waiting     int    `json:"waiting"` // instances not placed
	Reason      string `json:"reason"`  // for people: offer.Pending.String(), e.g. "cpus: 3, rack GROUP_BY: 2", or "backoff: ..."
	// Rejections are the offers the last match turned down, by reason
	// (offer.Pending.Rejections); empty when Reason does not come from a
	// match (backoff, waiting for offers).
	Rejections []Rejection `json:"rejections,omitempty"`
}

// Deployment is a framework's change of apps in progress or lately ended,
// for the dashboard: Marathon's deployments.
type Deployment struct {
	FrameworkID string             `json:"framework_id,omitempty"` // set by the master in State
	ID          string             `json:"id"`
	Started     time.Time          `json:"started"`
	Step        int                `json:"step"` // 1-based
	Steps       int                `json:"steps"`
	Actions     []DeploymentAction `json:"actions"`          // of the current step
	Result      string             `json:"result,omitempty"` // "" while in progress; "finished", "cancelled", "rolled back"
}

// DeploymentAction is one app's change in a Deployment's current step:
// how many tasks of the new version are ready (running and healthy) of the
// instances wanted, and how many of the old are left.
type DeploymentAction struct {
	Action    string `json:"action"` // StartApplication, RestartApplication, ...
	AppID     string `json:"app_id"`
	Instances int    `json:"instances"`
	Ready     int    `json:"ready"`
	Old       int    `json:"old"`
}

// ReportPending is the body of PathPending. It replaces the framework's
// previous lists of pending apps and deployments; empty lists clear them.
type ReportPending struct {
	FrameworkID string       `json:"framework_id"`
	Pending     []PendingApp `json:"pending"`
	Deployments []Deployment `json:"deployments,omitempty"`
}

// Empty is the answer of calls that return nothing.
type Empty struct{}

// ErrorResponse is the body of every 4xx and 5xx answer.
type ErrorResponse struct {
	Error string `json:"error"`
	// Leader is the leading master's URL, set on 503 from a follower.
	Leader string `json:"leader,omitempty"`
}

// LeaderInfo answers GET PathLeader.
type LeaderInfo struct {
	ID       string `json:"id"`  // this master's ID
	URL      string `json:"url"` // this master's URL
	IsLeader bool   `json:"is_leader"`
	Leader   string `json:"leader"` // the leader's URL; "" while none is elected
}

// ---- Dashboard state ----

// Scalars are scalar resources by name ("cpus", "mem", "disk"), for charts.
type Scalars map[string]float64

// State answers GET PathState.
type State struct {
	MasterID string    `json:"master_id"`
	Leader   string    `json:"leader"`
	Time     time.Time `json:"time"`
	// Cluster is the whole cluster's figures, first on the dashboard.
	Cluster    ClusterView      `json:"cluster"`
	Agents     []AgentState     `json:"agents"`
	Frameworks []FrameworkState `json:"frameworks"`
	Tasks      []TaskView       `json:"tasks"`   // non-terminal ones, then recently ended ones
	Pending    []PendingApp     `json:"pending"` // as frameworks reported them
	// Deployments are the frameworks' deployments, as they reported them.
	Deployments []Deployment   `json:"deployments"`
	Events      []ClusterEvent `json:"events"` // recent, newest last
	// Insecure says the master serves plaintext and authenticates and
	// authorizes nobody (-insecure); the dashboard shows it in red.
	Insecure bool `json:"insecure,omitempty"`
}

// ClusterView is what the whole cluster lends and what batch work makes of
// it: sums over the agents that are up, cpus in cores, mem and disk in
// MiB.
type ClusterView struct {
	Agents   int `json:"agents"`
	AgentsUp int `json:"agents_up"`
	// Capacity is the machines' resources; Lent what the agents lend
	// (their reservations); Harvested what the harvested tasks use;
	// Business what the business uses; IdleNotLent what neither the
	// business uses nor the agents lend (capacity − business − lent).
	Capacity    Scalars `json:"capacity"`
	Lent        Scalars `json:"lent"`
	Harvested   Scalars `json:"harvested"`
	Business    Scalars `json:"business"`
	IdleNotLent Scalars `json:"idle_not_lent"`
	// HarvestRatio is what harvested work used of the idle capacity
	// (capacity − business), over the last hour and day, by resource
	// (0 to 1).
	HarvestRatio HarvestRatios `json:"harvest_ratio"`
	// History is the totals averaged over ten-second buckets, oldest
	// first, for the dashboard's chart.
	History []ClusterSample `json:"history"`
}

// HarvestRatios is the harvest ratio over two windows.
type HarvestRatios struct {
	Hour Scalars `json:"hour"`
	Day  Scalars `json:"day"`
}

// ClusterSample is the cluster's totals averaged over a short time.
type ClusterSample struct {
	Time      time.Time `json:"time"`
	Capacity  Scalars   `json:"capacity"`
	Lent      Scalars   `json:"lent"`
	Harvested Scalars   `json:"harvested"`
	Business  Scalars   `json:"business"`
}

// AgentState is one agent in State.
type AgentState struct {
	ID          string            `json:"id"`
	Hostname    string            `json:"hostname"`
	Endpoint    string            `json:"endpoint,omitempty"`
	Up          bool              `json:"up"`
	Attributes  map[string]string `json:"attributes"`
	Isolation   string            `json:"isolation,omitempty"`
	Capacity    Scalars           `json:"capacity"`
	Reservation Scalars           `json:"reservation"`
	Business    Scalars           `json:"business"`
	Harvested   Scalars           `json:"harvested"`
	Allocated   Scalars           `json:"allocated"` // resources of the tasks the master placed there
	Tasks       int               `json:"tasks"`     // non-terminal tasks
	LastReport  time.Time         `json:"last_report,omitzero"`
	// Maintenance is the agent's drain and windows; nil when it has none.
	Maintenance *AgentMaintenance `json:"maintenance,omitempty"`
	History     []UsageSample     `json:"history"` // oldest first, a few minutes
}

// UsageSample is one report's figures, for the dashboard's charts.
type UsageSample struct {
	Time        time.Time `json:"time"`
	Reservation Scalars   `json:"reservation"`
	Business    Scalars   `json:"business"`
	Harvested   Scalars   `json:"harvested"`
}

// FrameworkState is one framework in State.
type FrameworkState struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Role      string  `json:"role"`
	Weight    float64 `json:"weight"`
	Share     float64 `json:"share"` // dominant share, before weighting
	Connected bool    `json:"connected"`
	Tasks     int     `json:"tasks"`
	// Withheld counts the agents the last allocation passed over for the
	// framework, by reason: its decline filters ("filter") or resources
	// reserved for other roles ("role"), from offer.Allocator.Withheld.
	Withheld []Rejection `json:"withheld,omitempty"`
}

// TaskView is one task in State.
type TaskView struct {
	TaskStatus
	Resources string `json:"resources"`
	Hostname  string `json:"hostname,omitempty"`
	Priority  int    `json:"priority"`
}

// EventKind names a ClusterEvent.
type EventKind string

// Cluster event kinds shown in the dashboard's "recent events".
const (
	KindEvicted           EventKind = "EVICTED"     // a task ended with ReasonEvicted
	KindLost              EventKind = "LOST"        // a task was lost
	KindFailed            EventKind = "FAILED"      // a task failed
	KindKilled            EventKind = "KILLED"      // a framework killed a task
	KindRescheduled       EventKind = "RESCHEDULED" // a task re-placed another (TaskInfo.Replaces)
	KindRescinded         EventKind = "RESCINDED"   // offers rescinded: reservation shrank or agent gone
	KindAttributesChanged EventKind = "ATTRIBUTES_CHANGED"
	KindAgentRegistered   EventKind = "AGENT_REGISTERED"
	KindAgentGone         EventKind = "AGENT_GONE"
	KindDraining          EventKind = "DRAINING" // an agent began draining (an operator, or a maintenance window)
	KindDrained           EventKind = "DRAINED"  // a draining agent holds no task
	KindUp                EventKind = "UP"       // an agent's drain ended
	KindLeader            EventKind = "LEADER"   // this master became leader
)

// ClusterEvent is one entry of State.Events.
type ClusterEvent struct {
	Time        time.Time `json:"time"`
	Kind        EventKind `json:"kind"`
	AgentID     string    `json:"agent_id,omitempty"`
	FrameworkID string    `json:"framework_id,omitempty"`
	AppID       string    `json:"app_id,omitempty"`
	TaskID      string    `json:"task_id,omitempty"`
	Message     string    `json:"message"`
	// Winner is, for EVICTED, who got what the eviction freed
	// (Eviction.Winner).
	Winner string `json:"winner,omitempty"`
}
