package api

// HTTP paths served by the master. Every call is a POST of one JSON object
// except where noted; see the package documentation for the bodies.
const (
	// Agent API.
	PathAgentRegister = "/api/v1/agents/register" // RegisterAgent → RegisterAgentResponse
	PathAgentReport   = "/api/v1/agents/report"   // AgentReport → ReportResponse
	PathAgentCommands = "/api/v1/agents/commands" // PollCommands → CommandsResponse (long poll)

	// Scheduler (framework) API.
	PathSubscribe = "/api/v1/scheduler/subscribe" // Subscribe → stream of Event, one JSON object a line
	PathAccept    = "/api/v1/scheduler/accept"    // Accept → Empty
	PathDecline   = "/api/v1/scheduler/decline"   // Decline → Empty
	PathRevive    = "/api/v1/scheduler/revive"    // Revive → Empty
	PathSuppress  = "/api/v1/scheduler/suppress"  // Suppress → Empty
	PathKill      = "/api/v1/scheduler/kill"      // Kill → Empty
	PathPending   = "/api/v1/scheduler/pending"   // ReportPending → Empty
	PathTeardown  = "/api/v1/scheduler/teardown"  // Teardown → Empty

	// Maintenance (operators: grant update_maintenance).
	PathDrain    = "/api/v1/maintenance/drain"    // DrainAgent → AgentMaintenance
	PathUp       = "/api/v1/maintenance/up"       // UpAgent → AgentMaintenance: end a drain
	PathSchedule = "/api/v1/maintenance/schedule" // POST MaintenanceSchedule → Empty; GET → MaintenanceSchedule

	// Read-only, GET.
	PathState   = "/api/v1/state"  // State (the dashboard polls it); ?history=N keeps N usage samples per agent
	PathLeader  = "/api/v1/leader" // LeaderInfo; answered by followers too
	PathMetrics = "/metrics"       // Prometheus text format; answered by followers too
	PathHealth  = "/healthz"       // 200 "ok"; answered by followers too
	PathUI      = "/"              // the dashboard page
	// PathTaskLogs is a task's stdout or stderr, proxied from its agent;
	// see LogQuery for the parameters.
	PathTaskLogs = "/api/v1/tasks/{id}/logs"
)

// MaxBodyBytes is the largest request body the master reads; a larger one is
// refused with 413.
const MaxBodyBytes = 1 << 20

// MaxTasksPerAccept is the most tasks one Accept may launch: the master
// writes them to etcd in one transaction, and etcd's default --max-txn-ops
// is 128. Frameworks accept larger batches in several calls.
const MaxTasksPerAccept = 100

// ContentTypeJSON and ContentTypeStream are the media types of request and
// response bodies, and of the subscribe event stream.
const (
	ContentTypeJSON   = "application/json"
	ContentTypeStream = "application/x-ndjson"
)
