package auth

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// Action names what a principal asks the master to do, as in Mesos's ACLs.
type Action string

// Actions the master authorizes.
const (
	// RegisterFrameworks: subscribe a new framework, under a role and a
	// weight.
	RegisterFrameworks Action = "register_frameworks"
	// RunTasks: launch tasks that run as a user.
	RunTasks Action = "run_tasks"
	// KillTasks: kill a task of another principal's framework (a framework
	// always may kill its own).
	KillTasks Action = "kill_tasks"
	// TeardownFrameworks: tear down another principal's framework (a
	// framework always may tear down itself).
	TeardownFrameworks Action = "teardown_frameworks"
	// GetState: read the master's state and metrics (the dashboard).
	GetState Action = "get_state"
	// UpdateMaintenance: change agents' maintenance (drain them).
	UpdateMaintenance Action = "update_maintenance"
)

// Request is an action with its object: what the grant must cover.
type Request struct {
	Action Action
	// Role and Weight are the framework's, for RegisterFrameworks.
	Role   string
	Weight float64
	// User is the user a task runs as, for RunTasks; empty is the agent's
	// default (unprivileged) user, which every run_tasks grant covers.
	User string
	// Owner is the principal of the framework acted on, for KillTasks and
	// TeardownFrameworks.
	Owner Principal
}

// String describes the request for a refusal.
func (r Request) String() string {
	switch r.Action {
	case RegisterFrameworks:
		return fmt.Sprintf("%s for role %q at weight %s", r.Action, r.Role, strconv.FormatFloat(r.Weight, 'g', -1, 64))
	case RunTasks:
		if r.User == "" {
			return fmt.Sprintf("%s as the agent's default user", r.Action)
		}
		return fmt.Sprintf("%s as user %q", r.Action, r.User)
	case KillTasks, TeardownFrameworks:
		return fmt.Sprintf("%s of frameworks of %s", r.Action, r.Owner)
	}
	return string(r.Action)
}

// DeniedError is a refusal: who asked for what, with no grant allowing it.
// It matches ErrDenied.
type DeniedError struct {
	Principal Principal
	Request   Request
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("principal %s has no grant %s", e.Principal, e.Request)
}

// Is makes a DeniedError match ErrDenied.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// Entity is a set of names in a grant: "ANY", or a list of names, as
// Mesos's ACL entities are.
type Entity struct {
	Any    bool
	Values []string
}

// Any matches every name.
var Any = Entity{Any: true}

// Names returns an entity of the given names.
func Names(names ...string) Entity { return Entity{Values: names} }

func (e Entity) matches(name string) bool { return e.Any || slices.Contains(e.Values, name) }

func (e Entity) set() bool { return e.Any || e.Values != nil }

// MarshalJSON writes "ANY" or the list.
func (e Entity) MarshalJSON() ([]byte, error) {
	if e.Any {
		return []byte(`"ANY"`), nil
	}
	if e.Values == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(e.Values)
}

// UnmarshalJSON reads "ANY" or a list of names.
func (e *Entity) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil {
		if s != "ANY" {
			return fmt.Errorf("%q: want \"ANY\" or a list of names", s)
		}
		*e = Any
		return nil
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return fmt.Errorf("want \"ANY\" or a list of names")
	}
	*e = Entity{Values: append([]string{}, list...)}
	return nil
}

// Policy is the master's ACL file: for each action, the grants that allow
// it. Anything no grant allows is denied. It reads like the permissions it
// gives:
//
//	{
//	  "register_frameworks": [{"principals": ["framework/marathon"], "roles": ["*"], "max_weight": 2}],
//	  "run_tasks":           [{"principals": ["framework/marathon"], "users": ["nobody", "batch"]}],
//	  "kill_tasks":          [{"principals": ["operator/admin"], "framework_principals": "ANY"}],
//	  "teardown_frameworks": [{"principals": ["operator/admin"], "framework_principals": "ANY"}],
//	  "get_state":           [{"principals": ["operator/admin", "operator/dashboard"]}],
//	  "update_maintenance":  [{"principals": ["operator/admin"]}]
//	}
//
// Principals are written kind/name (see Principal).
type Policy struct {
	RegisterFrameworks []RegisterGrant  `json:"register_frameworks,omitempty"`
	RunTasks           []RunGrant       `json:"run_tasks,omitempty"`
	KillTasks          []FrameworkGrant `json:"kill_tasks,omitempty"`
	TeardownFrameworks []FrameworkGrant `json:"teardown_frameworks,omitempty"`
	GetState           []Grant          `json:"get_state,omitempty"`
	UpdateMaintenance  []Grant          `json:"update_maintenance,omitempty"`
}

// Grant allows the principals an action that has no object.
type Grant struct {
	Principals Entity `json:"principals"`
}

// RegisterGrant allows the principals to register frameworks under the
// roles, at a weight up to MaxWeight (0 means 1, the default weight).
type RegisterGrant struct {
	Principals Entity  `json:"principals"`
	Roles      Entity  `json:"roles"`
	MaxWeight  float64 `json:"max_weight,omitempty"`
}

// RunGrant allows the principals to launch tasks as the users (and as the
// agent's default user, which every run_tasks grant covers).
type RunGrant struct {
	Principals Entity `json:"principals"`
	Users      Entity `json:"users"`
}

// FrameworkGrant allows the principals to act on the frameworks of the
// framework principals.
type FrameworkGrant struct {
	Principals          Entity `json:"principals"`
	FrameworkPrincipals Entity `json:"framework_principals"`
}

// AllowAll is a policy granting every action to every principal, for tests
// and for clusters that want authentication without authorization.
func AllowAll() *Policy {
	return &Policy{
		RegisterFrameworks: []RegisterGrant{{Principals: Any, Roles: Any, MaxWeight: 1e6}},
		RunTasks:           []RunGrant{{Principals: Any, Users: Any}},
		KillTasks:          []FrameworkGrant{{Principals: Any, FrameworkPrincipals: Any}},
		TeardownFrameworks: []FrameworkGrant{{Principals: Any, FrameworkPrincipals: Any}},
		GetState:           []Grant{{Principals: Any}},
		UpdateMaintenance:  []Grant{{Principals: Any}},
	}
}

// Allow returns nil when a grant allows who the request, else a
// *DeniedError naming the principal and what it lacks. A nil policy
// denies everything.
func (p *Policy) Allow(who Principal, req Request) error {
	if p != nil && p.allows(who.String(), req) {
		return nil
	}
	return &DeniedError{Principal: who, Request: req}
}

func (p *Policy) allows(who string, req Request) bool {
	switch req.Action {
	case RegisterFrameworks:
		return slices.ContainsFunc(p.RegisterFrameworks, func(g RegisterGrant) bool {
			max := g.MaxWeight
			if max == 0 {
				max = 1
			}
			return g.Principals.matches(who) && g.Roles.matches(req.Role) && req.Weight <= max
		})
	case RunTasks:
		return slices.ContainsFunc(p.RunTasks, func(g RunGrant) bool {
			return g.Principals.matches(who) && (req.User == "" || g.Users.matches(req.User))
		})
	case KillTasks, TeardownFrameworks:
		grants := p.KillTasks
		if req.Action == TeardownFrameworks {
			grants = p.TeardownFrameworks
		}
		return slices.ContainsFunc(grants, func(g FrameworkGrant) bool {
			return g.Principals.matches(who) && g.FrameworkPrincipals.matches(req.Owner.String())
		})
	case GetState, UpdateMaintenance:
		grants := p.GetState
		if req.Action == UpdateMaintenance {
			grants = p.UpdateMaintenance
		}
		return slices.ContainsFunc(grants, func(g Grant) bool { return g.Principals.matches(who) })
	}
	return false
}

// Validate checks that every grant names its principals and objects (an
// omitted list is a mistake, not "nobody") and that principals parse.
func (p *Policy) Validate() error {
	var errs []string
	principals := func(field string, e Entity) {
		if !e.set() {
			errs = append(errs, field+": missing (\"ANY\" or a list of kind/name)")
			return
		}
		for i, v := range e.Values {
			if _, err := ParsePrincipal(v); err != nil {
				errs = append(errs, fmt.Sprintf("%s[%d]: %v", field, i, err))
			}
		}
	}
	objects := func(field string, e Entity) {
		if !e.set() {
			errs = append(errs, field+": missing (\"ANY\" or a list)")
		}
	}
	for i, g := range p.RegisterFrameworks {
		f := fmt.Sprintf("register_frameworks[%d]", i)
		principals(f+".principals", g.Principals)
		objects(f+".roles", g.Roles)
		if g.MaxWeight < 0 {
			errs = append(errs, fmt.Sprintf("%s.max_weight %v: negative", f, g.MaxWeight))
		}
	}
	for i, g := range p.RunTasks {
		f := fmt.Sprintf("run_tasks[%d]", i)
		principals(f+".principals", g.Principals)
		objects(f+".users", g.Users)
	}
	for _, list := range []struct {
		name   string
		grants []FrameworkGrant
	}{{"kill_tasks", p.KillTasks}, {"teardown_frameworks", p.TeardownFrameworks}} {
		for i, g := range list.grants {
			f := fmt.Sprintf("%s[%d]", list.name, i)
			principals(f+".principals", g.Principals)
			principals(f+".framework_principals", g.FrameworkPrincipals)
		}
	}
	for _, list := range []struct {
		name   string
		grants []Grant
	}{{"get_state", p.GetState}, {"update_maintenance", p.UpdateMaintenance}} {
		for i, g := range list.grants {
			principals(fmt.Sprintf("%s[%d].principals", list.name, i), g.Principals)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: policy: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

// ParsePolicy reads a policy from JSON, refusing unknown fields.
func ParsePolicy(data []byte) (*Policy, error) {
	var p Policy
	if err := api.DecodeStrict(data, &p); err != nil {
		return nil, fmt.Errorf("%w: policy: %w", ErrInvalid, err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// LoadPolicy reads a policy file.
func LoadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: policy: %w", err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
