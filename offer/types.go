package offer

// Agent is a machine that lends resources. Attributes are plain strings, as
// everywhere in Gleaner; a value that reads as a number ("2", "1.50") is a
// scalar attribute and compares in its formatted form ("1.5").
type Agent struct {
	ID         string
	Hostname   string
	Attributes map[string]string
	Total      Resources // what the agent lends in all (its reservation)
	Free       Resources // what is not yet held by tasks
}

// Offer is a set of resources of one agent offered to one framework. It
// carries the agent's hostname and attributes so that constraints can be
// judged from the offer alone. The Attributes map is shared with the
// agent's and must not be modified.
type Offer struct {
	ID          string
	AgentID     string
	Hostname    string
	Attributes  map[string]string
	FrameworkID string
	Resources   Resources
}

// Task is a task waiting to be placed. It carries only what placement
// reads: as in Marathon, an app's labels are metadata for people and tools
// and never steer placement (constraints read agent attributes), so they
// stay with the framework's app.
type Task struct {
	ID          string
	AppID       string // tasks of one app are judged together by constraints
	Resources   Resources
	Constraints []Constraint
	Priority    int // higher is placed first
	// Ports is how many ports the task takes from the offer's "ports"
	// ranges besides any its Resources name: any free ones, the lowest
	// first (Marathon's port 0), from the role its Resources are reserved
	// for, or any role when they are unreserved. The Launch's Resources
	// hold the ports taken; an offer with too few is rejected as a
	// ByResource "ports" shortage.
	Ports int
}

// Placement records that a task of an app runs (or was just placed) on an
// agent. Constraints are judged against the placements of the same app.
type Placement struct {
	TaskID     string
	AppID      string
	AgentID    string
	Hostname   string
	Attributes map[string]string
}
