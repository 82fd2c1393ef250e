package offer

import (
	"cmp"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// Strategy is how the matcher ranks the offers a task fits.
type Strategy uint8

// The placement strategies.
const (
	// BinPack prefers the offer the task fills most (the largest dominant
	// share of the offer's remaining resources), packing tasks tightly so
	// that whole agents stay free. It is the default.
	BinPack Strategy = iota
	// FirstFit takes the first offer, in the order given, that fits.
	FirstFit
	// Spread prefers the offer the task fills least, and starts each search
	// where the previous one stopped, spreading tasks over agents.
	Spread
)

var strategyNames = [...]string{BinPack: "BinPack", FirstFit: "FirstFit", Spread: "Spread"}

func (s Strategy) String() string {
	if int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return "Strategy(" + strconv.Itoa(int(s)) + ")"
}

// MatchOption configures Match.
type MatchOption func(*matchConfig)

type matchConfig struct {
	strategy Strategy
	limit    int
	limitSet bool
}

// WithStrategy sets the ranking strategy (default BinPack). A value that is
// none of the three ranks as BinPack.
func WithStrategy(s Strategy) MatchOption {
	return func(c *matchConfig) { c.strategy = s }
}

// WithLimit sets how many feasible offers are ranked before the best of them
// is chosen, as Nomad's limit iterator does: ranking every offer for every
// task is quadratic, while a few candidates place almost as well. The
// default is max(2, ⌈log2(offers)⌉); n <= 0 ranks every feasible offer.
// FirstFit always stops at the first.
func WithLimit(n int) MatchOption {
	return func(c *matchConfig) { c.limit, c.limitSet = n, true }
}

// Launch is a task placed on an offer.
type Launch struct {
	TaskID    string
	AppID     string
	OfferID   string
	AgentID   string
	Hostname  string
	Resources Resources // taken from the offer, with the roles they came from
}

// RejectionKind says which check turned an offer down, in the manner of
// Nomad's AllocMetric (DimensionExhausted, ConstraintFiltered) and
// Marathon's offer-match reasons (InsufficientCpus, UnfulfilledRole,
// UnfulfilledConstraint).
type RejectionKind uint8

// The rejection kinds.
const (
	// ByResource: the offer holds too little of a resource, in any role.
	// Name is the resource ("cpus").
	ByResource RejectionKind = iota + 1
	// ByRole: the offer holds enough of a resource, but not in the role
	// the task asks for. Name is the resource and role ("cpus(batch)").
	// From Allocator.Withheld: all the agent had left was reserved for
	// other roles, and Name is empty.
	ByRole
	// ByConstraint: a placement constraint refuses the agent. Name is the
	// constraint in its text form ("rack:GROUP_BY"); a constraint that is
	// not valid (built by hand, not by NewConstraint) refuses every offer
	// and its Name also says why ("rack:LIKE:[ (invalid: ...)").
	ByConstraint
	// ByFilter: an offer filter kept the agent's resources from the
	// framework: it declined them earlier with a refuse time that has not
	// passed (Allocator.Withheld). Name is empty.
	ByFilter
)

var rejectionKindNames = [...]string{ByResource: "resource", ByRole: "role", ByConstraint: "constraint", ByFilter: "filter"}

// String returns "resource", "role", "constraint" or "filter".
func (k RejectionKind) String() string {
	if int(k) < len(rejectionKindNames) && rejectionKindNames[k] != "" {
		return rejectionKindNames[k]
	}
	return "RejectionKind(" + strconv.Itoa(int(k)) + ")"
}

// Rejection counts the offers turned down for one reason: a kind, and which
// resource or constraint of that kind.
type Rejection struct {
	Kind   RejectionKind
	Name   string
	Offers int
}

// String is the rejection for people: "cpus: 812", "rack GROUP_BY: 37",
// "cpus(batch): 3", "filter: 2".
func (r Rejection) String() string {
	return string(r.appendTo(nil))
}

func (r Rejection) appendTo(b []byte) []byte {
	switch {
	case r.Name == "":
		b = append(b, r.Kind.String()...)
	case r.Kind == ByConstraint:
		// "rack:GROUP_BY:3" reads "rack GROUP_BY 3". A field holds no
		// colon and the operator none, so only the first two are
		// separators; a LIKE expression keeps its own.
		field, rest, _ := strings.Cut(r.Name, ":")
		op, value, hasValue := strings.Cut(rest, ":")
		b = append(append(append(b, field...), ' '), op...)
		if hasValue {
			b = append(append(b, ' '), value...)
		}
	default:
		b = append(b, r.Name...)
	}
	b = append(b, ": "...)
	return strconv.AppendInt(b, int64(r.Offers), 10)
}

// compareRejections orders the most frequent first, then by kind and name.
func compareRejections(a, b Rejection) int {
	return cmp.Or(cmp.Compare(b.Offers, a.Offers), cmp.Compare(a.Kind, b.Kind), strings.Compare(a.Name, b.Name))
}

// Pending is a task that could not be placed, and why.
type Pending struct {
	TaskID     string
	AppID      string
	Rejections []Rejection // most frequent first, then by kind and name
}

// String summarizes the rejections for people: "cpus: 812, rack UNIQUE: 37".
func (p Pending) String() string {
	var b []byte
	for i, r := range p.Rejections {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = r.appendTo(b)
	}
	return string(b)
}

// Result is the outcome of Match.
type Result struct {
	Launches []Launch  // in placement order
	Leftover []Offer   // the unused part of every offer, to decline
	Pending  []Pending // tasks not placed, in the order they were tried
}

// Match places pending tasks onto offers. Tasks are tried by descending
// Priority, then in the order given; each goes through a pipeline of
// feasibility checks (its resources fit the offer's remainder, then each of
// its constraints, judged against running plus the placements made so far),
// a score per strategy and the selection of the best of up to the limit of
// feasible offers. Several tasks may land on one offer. For a task left
// pending every offer was checked, and each rejection is counted under the
// first check that failed. The result depends only on the input order, never
// on map iteration.
func Match(offers []Offer, tasks []Task, running []Placement, opts ...MatchOption) Result {
	cfg := matchConfig{strategy: BinPack}
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.limitSet {
		cfg.limit = max(2, bits.Len(uint(len(offers))))
	}
	if cfg.limit <= 0 || cfg.limit > len(offers) {
		cfg.limit = len(offers)
	}
	if cfg.strategy == FirstFit {
		cfg.limit = 1
	}
	m := newMatcher(offers, tasks, running, cfg)
	order := make([]int, len(tasks))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(tasks[b].Priority, tasks[a].Priority) })
	res := Result{Launches: make([]Launch, 0, len(tasks))}
	for _, ti := range order {
		m.placeTask(&tasks[ti], &m.prepared[ti], &res)
	}
	for i := range m.slots {
		m.materialize(i)
		if s := &m.slots[i]; !s.remaining.IsEmpty() {
			o := *s.offer
			o.Resources = s.remaining
			res.Leftover = append(res.Leftover, o)
		}
	}
	return res
}
