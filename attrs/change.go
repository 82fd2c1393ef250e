package attrs

import (
	"strconv"
	"time"
)

// ChangeKind says what happened to an attribute or an agent.
type ChangeKind uint8

// Kinds of change. A Syncer delivers the first three; a ClusterView all.
const (
	Added     ChangeKind = iota + 1 // the attribute appeared
	Updated                         // the attribute's value changed
	Removed                         // the attribute disappeared
	AgentUp                         // the agent registered (its lease key appeared)
	AgentGone                       // the agent's lease expired or was revoked
)

func (k ChangeKind) String() string {
	switch k {
	case Added:
		return "added"
	case Updated:
		return "updated"
	case Removed:
		return "removed"
	case AgentUp:
		return "up"
	case AgentGone:
		return "gone"
	}
	return "ChangeKind(" + strconv.Itoa(int(k)) + ")"
}

// Change is one change delivered to subscribers, in the order etcd applied
// them.
type Change struct {
	Kind  ChangeKind
	Agent string
	Name  string // empty for AgentUp and AgentGone
	Old   Value  // zero for Added
	New   Value  // zero for Removed
	// Revision is the etcd revision of the change.
	Revision int64
	// Attributes are all of the agent's attributes after the change,
	// formatted for constraints (Attributes.Map). Shared: do not modify.
	Attributes map[string]string
}

// Status says how fresh the values a Syncer or ClusterView holds are.
type Status struct {
	// Stale is true while etcd does not answer; the values are the last
	// ones known.
	Stale bool
	// LastContact is when etcd last answered; zero before the first time.
	LastContact time.Time
	// Age is the time since LastContact: how old the values may be.
	Age time.Duration
	// Revision is the etcd revision the values reflect.
	Revision int64
	// Err is the last error from etcd while Stale.
	Err error
}

func changeKind(old, new Value) ChangeKind {
	switch {
	case old.IsZero():
		return Added
	case new.IsZero():
		return Removed
	}
	return Updated
}
